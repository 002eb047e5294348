"""Repeats, escalation and acknowledgement (vigil.notifier.repeats, vigil.notifier.ack), and the page at
an ad-hoc silence's end (vigil.notifier.silence_end): what they run on.

- A Scheduler group, vigil-<env>-paging, for the notifier's one-shot schedules (each deletes itself
  after it runs), and the role Scheduler invokes the notifier with: trusted by scheduler.amazonaws.com
  for this account's schedules in this group only, allowed to invoke the notifier and to send to its
  failure queue, nothing else.
  The notifier may create schedules in that group and pass that role, to Scheduler only. Each
  schedule names the notifier's failure queue as its dead-letter queue, which the role may send to:
  an invocation Scheduler could not deliver lands there, and the queue's alarm pages the
  self-monitoring route. Every stack has them: any route's alarm can be silenced, and its page at
  the silence's end needs them.
The rest only when some route repeats or escalates:
- The acknowledgement function behind a function URL with auth type NONE: its HMAC-signed token is
  the auth (docs/operations.md, Repeats). Its only write is the paging record of an alarm
  (`alarm#` partition) in the notifier's state table.
- The tokens' key: a Secrets Manager secret CloudFormation generates, so its value never appears
  in the template or the repository; both functions read it by ARN.

Scheduler's payload (alarm ARN, timestamp, routes, a count) holds nothing secret, so the schedules
keep Scheduler's default AWS-owned key rather than need a grant on vigil's key.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import Aws, CfnElement, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import functions, nag
from infra.notifier_state import NotifierState
from vigil.notifier.ack_token import KEY_FIELD
from vigil.notifier.repeats import (
    ACK_SECRET_ENV,
    ACK_URL_ENV,
    DEAD_LETTER_ENV,
    PAGING_ENV,
    SCHEDULE_GROUP_ENV,
    SCHEDULER_ROLE_ENV,
    Policy,
)

ACK_HANDLER = "vigil.notifier.ack.handler"


def group_name(env: str) -> str:
    return f"vigil-{env}-paging"


class Paging(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: str,
        policy: Policy,
        notifier: lambda_.Function,
        state: NotifierState,
        code: lambda_.Code,
        failures: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._schedules(env, notifier, failures)
        if not policy.routes:
            return
        # Repeats and escalation: the acknowledgement function and its key; the policy for the notifier.
        self.key = secretsmanager.Secret(
            self,
            "AckKey",
            description=f"vigil {env}: HMAC key of the acknowledgement links",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}", generate_string_key=KEY_FIELD, password_length=64, exclude_punctuation=True
            ),
        )
        nag.acknowledge(
            self.key,
            ["AwsSolutions-SMG4"],
            "Rotating the link key would void every acknowledgement link in on-call's inbox; it is replaced by hand (docs/operations.md).",
        )

        self.function = functions.function(
            self,
            "Ack",
            code=code,
            handler=ACK_HANDLER,
            description=f"vigil {env}: acknowledges an ALARM from the signed link in its e-mail",
            timeout=Duration.seconds(10),
            environment={"STATE_TABLE": state.table.table_name, ACK_SECRET_ENV: self.key.secret_arn},
            on_failure=failures,
            retry_attempts=0,  # a function URL invokes synchronously: the person clicking retries
            max_event_age=Duration.minutes(1),
            memory_size=128,
        )
        self.url = self.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        self.key.grant_read(self.function)
        state.grant_alarm_partitions(self.function, ["dynamodb:UpdateItem"], key=True)
        assert self.function.role is not None
        nag.acknowledge(
            self.function.role,
            ["AwsSolutions-IAM5[Action::kms:GenerateDataKey*]"],
            "Writing the KMS-encrypted state table needs the GenerateDataKey family, on vigil's one key, through DynamoDB only.",
        )

        # The notifier: read the record (an acknowledgement stops the repeats), sign links. It re-reads
        # alarms with the DescribeAlarms the notifier has for inhibition (infra/notifications.py).
        notifier.add_environment(PAGING_ENV, policy.model_dump_json())
        notifier.add_environment(ACK_URL_ENV, self.url.url)
        notifier.add_environment(ACK_SECRET_ENV, self.key.secret_arn)
        state.grant_alarm_partitions(notifier, ["dynamodb:GetItem"])
        self.key.grant_read(notifier)

    def _schedules(self, env: str, notifier: lambda_.Function, failures: sqs.IQueue) -> None:
        """The group, the role Scheduler invokes the notifier with (and sends what it could not deliver to
        `failures` with), and the notifier's right to use both."""
        scheduler.CfnScheduleGroup(self, "Group", name=group_name(env))
        scheduler_arn = f"arn:{Aws.PARTITION}:scheduler:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        schedules = f"{scheduler_arn}:schedule/{group_name(env)}/*"
        # Confused-deputy guard: Scheduler assumes the role for this account's group only (Scheduler sets
        # aws:SourceArn to the schedule group's ARN).
        self.role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com").with_conditions(
                {
                    "StringEquals": {
                        "aws:SourceAccount": Aws.ACCOUNT_ID,
                        "aws:SourceArn": f"{scheduler_arn}:schedule-group/{group_name(env)}",
                    }
                }
            ),
            description=f"vigil {env}: EventBridge Scheduler invokes the notifier with a repeat, an escalation or a silence end",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[notifier.function_arn, f"{notifier.function_arn}:*"]
            )
        )
        # The one-shots' dead letters, as CDK's scheduler targets grant theirs. The failure queues are
        # SSE-SQS (infra.functions.failure_queue): no KMS key for the role to use.
        self.role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[failures.queue_arn]))
        notifier_id = Stack.of(notifier).get_logical_id(cast(CfnElement, notifier.node.default_child))
        nag.acknowledge(
            self.role,
            [f"AwsSolutions-IAM5[Resource::<{notifier_id}.Arn>:*]"],
            "The notifier's own versions and aliases, which the schedule's target ARN may name; no other function.",
        )
        notifier.add_environment(SCHEDULE_GROUP_ENV, group_name(env))
        notifier.add_environment(SCHEDULER_ROLE_ENV, self.role.role_arn)
        notifier.add_environment(DEAD_LETTER_ENV, failures.queue_arn)
        notifier.add_to_role_policy(iam.PolicyStatement(actions=["scheduler:CreateSchedule"], resources=[schedules]))
        notifier.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            )
        )
        assert notifier.role is not None
        nag.acknowledge(
            notifier.role,
            [
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/{group_name(env)}/*]"
            ],
            "Schedules are made per ALARM at run time in vigil's one group.",
        )
