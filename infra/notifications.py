"""Routes and the notifier: KMS key, one SNS topic per route, the alarm-events topic, the notifier.

Route topics have explicit names, vigil-<env>-<route>, so the notifier finds a route's topic from
TOPIC_ARN_PREFIX + route name (the route list travels in each alarm's description) without an
environment variable per route.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra import ecs_events, functions, nag
from infra.alarm_state_rule import AlarmStateRule, alarm_prefix
from infra.deferred_queue import DeferredQueue
from infra.notifier_config import notifier_environment, output_secret_names
from infra.notifier_state import NotifierState
from infra.paging import Paging
from infra.paging_config import paging_policy
from infra.placement import checker_log_group_prefix
from infra.secret_arns import grant_secret_reads
from infra.settings import Settings
from infra.topic_policy import TopicPublishers
from vigil.silences.windows import Window

NOTIFIER_HANDLER = "vigil.notifier.handler.handler"


def topic_name(env: str, route: str) -> str:
    return f"vigil-{env}-{route}"


def dashboard_name(env: str) -> str:
    return f"vigil-{env}"


def service_dashboard_name(env: str, service_file: str) -> str:
    """One dashboard per service file, beside vigil's own: each stays far under 500 widgets."""
    return f"{dashboard_name(env)}-{service_file}"


class Notifications(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: str,
        settings: Settings,
        windows: list[Window],
        code: lambda_.Code,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"vigil {env}: encrypts the route and alarm-events topics",
            enable_key_rotation=True,
        )
        # Services publishing to these topics (alarms, EventBridge rules) and their use of the key.
        self.publishers = TopicPublishers(self.key, env)

        # SNS parks here what it could not deliver (bounced e-mail, refused SMS, notifier throttled).
        self.delivery_failures = functions.failure_queue(self, "DeliveryFailures")
        self.routes: dict[str, sns.Topic] = {}
        routes_scope = Construct(self, "Routes")
        for name, route in settings.routes.items():
            topic = sns.Topic(
                routes_scope,
                name,
                topic_name=topic_name(env, name),
                display_name=f"vigil {name}"[:100],
                master_key=self.key,
                enforce_ssl=True,
            )
            for contact in route.email:
                address = settings.contacts[contact].email
                if address is not None:
                    topic.add_subscription(
                        subscriptions.EmailSubscription(address, dead_letter_queue=self.delivery_failures)
                    )
            for contact in route.sms:
                number = settings.contacts[contact].sms
                if number is not None:
                    sms = topic.add_subscription(subscriptions.SmsSubscription(number))
                    nag.acknowledge(
                        sms,
                        ["Serverless-SNSRedrivePolicy"],
                        "CDK's SmsSubscription takes no dead-letter queue; failed SMS show in SNS delivery status logs.",
                    )
            self.routes[name] = topic

        # Internal: every check alarm's ALARM and OK actions. No explicit name, so no route name
        # can ever collide with it.
        self.alarm_events = sns.Topic(self, "AlarmEvents", master_key=self.key, enforce_ssl=True)
        self.publishers.allow_alarms(self.alarm_events, self.routes[settings.self_monitoring_route])

        self.failures = functions.failure_queue(self, "NotifierFailures")
        timeout = Duration.seconds(30)
        self.function = functions.function(
            self,
            "Notifier",
            code=code,
            handler=NOTIFIER_HANDLER,
            description=f"vigil {env}: renders alarm state changes and publishes them to route topics",
            timeout=timeout,
            environment={
                "TOPIC_ARN_PREFIX": f"arn:{Aws.PARTITION}:sns:{Aws.REGION}:{Aws.ACCOUNT_ID}:vigil-{env}-",
                "FALLBACK_ROUTE": settings.self_monitoring_route,
                "DASHBOARD_NAME": dashboard_name(env),
                "STACK_REGION": Aws.REGION,
                "VIGIL_ENV": env,
                "POWERTOOLS_SERVICE_NAME": "vigil-notifier",
                # Windows to mirror on the EventBridge path, the routes' outputs and their secrets' ids.
                **notifier_environment(settings, windows, datetime.now(UTC)),
            },
            on_failure=self.failures,
            # SNS invokes asynchronously; two retries ride out a throttle without delaying a page long.
            retry_attempts=2,
            max_event_age=Duration.hours(1),
        )
        # What the notifier paged (dedup, retries, stale events), and the EventBridge path beside
        # the alarm actions (docs/architecture.md, Notifier).
        state = NotifierState(self, "State", env=env, key=self.key)
        state.attach(self.function)
        AlarmStateRule(self, "AlarmStateRule", env=env, function=self.function, dead_letter_queue=self.failures)
        # Each group's flush, and each ALARM held back for its inhibitor, come back through this queue.
        DeferredQueue(
            self,
            "Deferred",
            function=self.function,
            function_timeout=timeout,
            dead_letter_queue=self.failures,
            group_wait=settings.paging.group_wait,
        )
        # A held ALARM pages only if its inhibitor is not in ALARM: the notifier asks CloudWatch about
        # this environment's alarms, and no others (vigil.notifier.inhibition).
        alarms = f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{alarm_prefix(env)}*"
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=[alarms]))
        for topic in self.routes.values():
            topic.grant_publish(self.function)
        assert self.function.role is not None
        nag.acknowledge(
            self.function.role,
            ["AwsSolutions-IAM5[Action::kms:GenerateDataKey*]"],
            "Publishing to KMS-encrypted topics and writing the KMS-encrypted state table need the GenerateDataKey family, on vigil's one key only.",
        )
        # ALARM e-mails quote the checker's last run (vigil.notifier.evidence): read access to the
        # checkers' log groups, all under one prefix, so adding a check never changes this policy.
        # ecs alarms quote the service's stopped tasks and failed deployments from the two ECS event
        # log groups, which share a prefix too (vigil.notifier.ecs_evidence).
        prefixes = [checker_log_group_prefix(env), ecs_events.log_group_prefix(env)]
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["logs:FilterLogEvents"],
                resources=[
                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{prefix}*" for prefix in prefixes
                ],
            )
        )
        nag.acknowledge(
            self.function.role,
            [
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{prefix}*]"
                for prefix in prefixes
            ],
            "Read-only access to vigil's own checker and ECS event log groups, each set under one prefix so new checks need no new grant.",
        )
        nag.acknowledge(
            self.function.role,
            [
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:{alarm_prefix(env)}*]"
            ],
            "DescribeAlarms on this environment's alarms only, all under one name prefix, so new checks need no new grant.",
        )
        self.alarm_events.add_subscription(
            subscriptions.LambdaSubscription(self.function, dead_letter_queue=self.delivery_failures)
        )
        # The page at an ad-hoc silence's end; repeats and escalation of an unacknowledged ALARM, when a
        # route asks for them.
        Paging(
            self,
            "Paging",
            env=env,
            policy=paging_policy(settings),
            notifier=self.function,
            state=state,
            code=code,
            failures=self.failures,
        )
        # The outputs read their credentials at send time (infra.secret_convention: by prefix, or listed).
        grant_secret_reads(self.function, {settings.secrets[name] for name in output_secret_names(settings)})
