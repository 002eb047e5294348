"""Kind `ecs`: task count, CPU, memory, failed deployments and crashed tasks of a service (or of each one
a selector found).

Events reach alarms without code. With the first ecs check the stack gets `EcsEvents`: two rules
and two log groups (infra.ecs_events has the names and patterns):

    SERVICE_DEPLOYMENT_FAILED ─ rule ─► /aws/events/vigil-<env>-ecs ──── filter per service ─► deployment_failed
    task STOPPED (watched)   ─ rule ─► /aws/events/vigil-<env>-ecs-tasks ─ filter per service ─► tasks_crashed

Each service's metric filters count the events naming it into Vigil/Events `<check id>.<signal>`.
Metric filters on JSON patterns could publish a dimension instead, but a per-service metric name
keeps each filter's output and its one alarm obviously paired, as kind log_pattern does. A log group
holds at most 100 metric filters, so one stack watches at most 100 services (each log group holds
one filter per service). The stopped-task rule names every service of the stack's ecs checks and
selector targets (all known before any construct is built), so the log group holds their events
only (see infra.ecs_events.task_stopped_pattern for many services); the notifier
quotes them in the ALARM e-mail of every ecs alarm.

The rules target the log groups through one native AWS::Logs::ResourcePolicy rather than
aws_events_targets.CloudWatchLogGroup, whose policy is a custom resource (a Lambda function run at
deploy). An account has at most 10 CloudWatch Logs resource policies per region; this is one.
Events EventBridge cannot deliver go to the stack's dead-letter queue for undeliverable schedule
and event deliveries, whose self-monitoring alarm pages on any message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import ecs_events
from infra.checks import CheckContext, alarm_signals, watched, watched_targets
from infra.ecs_events import DEPLOYMENT_FAILED_PATTERN
from infra.functions import LOG_RETENTION
from vigil.alarm_meta import alarm_name
from vigil.spec.common import CheckBase
from vigil.spec.ecs import CRASHED, DEPLOYMENT, RUNNING, SHORT, EcsCheck

NAMESPACE = "AWS/ECS"
INSIGHTS_NAMESPACE = "ECS/ContainerInsights"
EVENTS_NAMESPACE = "Vigil/Events"
EVENTS_ID = "EcsEvents"


class EcsEvents(Construct):
    """The account's and region's ECS deployment failures and the watched services' stopped tasks, each
    written to its log group by one rule."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: str,
        services: list[tuple[str, str]],
        dead_letters: sqs.IQueue,
    ) -> None:
        """`services`: the (cluster, service) pairs of every ecs check and selector target of the stack."""
        super().__init__(scope, construct_id)
        self._env = env
        self._dead_letters = dead_letters
        self.log_group = self._log_group("Log", ecs_events.deployments_log_group(env))
        self.tasks = self._log_group("Tasks", ecs_events.tasks_log_group(env))
        self._policy = logs.ResourcePolicy(
            self,
            "Delivery",
            resource_policy_name=f"vigil-{env}-ecs-events",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn, self.tasks.log_group_arn],
                )
            ],
        )
        self._rule(
            "DeploymentFailed",
            f"ECS deployments stopped by the circuit breaker, to {ecs_events.deployments_log_group(env)}",
            DEPLOYMENT_FAILED_PATTERN,
            self.log_group,
        )
        self._rule(
            "TaskStopped",
            f"stopped tasks of the ECS services vigil watches, to {ecs_events.tasks_log_group(env)}",
            ecs_events.task_stopped_pattern(services),
            self.tasks,
        )

    def _log_group(self, construct_id: str, name: str) -> logs.LogGroup:
        return logs.LogGroup(
            self, construct_id, log_group_name=name, retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )

    def _rule(self, construct_id: str, what: str, pattern: Any, log_group: logs.LogGroup) -> None:
        target_arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        rule = events.CfnRule(
            self,
            construct_id,
            description=f"vigil {self._env}: {what}",
            event_pattern=pattern,
            targets=[
                events.CfnRule.TargetProperty(
                    id="Log",
                    arn=target_arn,
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self._dead_letters.queue_arn),
                )
            ],
        )
        # Events matched before the policy exists would be dropped.
        rule.node.add_dependency(self._policy)
        self._dead_letters.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self._dead_letters.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
            )
        )


def ecs_events_home(ctx: CheckContext) -> EcsEvents:
    existing = ctx.scope.node.try_find_child(EVENTS_ID)
    if isinstance(existing, EcsEvents):
        return existing
    # Selectors are resolved before any construct is built: every service of the stack is known now.
    services = [
        (str(target.cluster), str(target.ecs_service))
        for check in ctx.catalog.checks
        if isinstance(check, EcsCheck)
        for target in watched_targets(check, ctx)
        if isinstance(target, EcsCheck)
    ]
    return EcsEvents(ctx.scope, EVENTS_ID, env=ctx.env, services=services, dead_letters=ctx.scheduler_dlq)


def event_filters(scope: Construct, check: EcsCheck, ctx: CheckContext) -> dict[str, cloudwatch.Metric]:
    """The service's failed deployments and crashed tasks per period, counted from the events naming it."""
    home = ecs_events_home(ctx)
    cluster, service = str(check.cluster), str(check.ecs_service)
    stack = Stack.of(scope)
    patterns = {
        DEPLOYMENT: (
            home.log_group,
            "DeploymentFailedFilter",
            ecs_events.deployment_failed_filter(
                stack.format_arn(service="ecs", resource="service", resource_name=f"{cluster}/{service}")
            ),
        ),
        CRASHED: (
            home.tasks,
            "TasksCrashedFilter",
            ecs_events.tasks_crashed_filter(
                stack.format_arn(service="ecs", resource="cluster", resource_name=cluster), service
            ),
        ),
    }
    return {
        signal: logs.MetricFilter(
            scope,
            construct_id,
            log_group=log_group,
            filter_name=alarm_name(ctx.env, check.id, signal),
            filter_pattern=logs.FilterPattern.literal(pattern),
            metric_namespace=EVENTS_NAMESPACE,
            metric_name=f"{check.id}.{signal}",
            metric_value="1",
        ).metric()
        for signal, (log_group, construct_id, pattern) in patterns.items()
    }


def signal_metric(scope: Construct, check: EcsCheck, ctx: CheckContext) -> Callable[[str], cloudwatch.IMetric]:
    dimensions = {"ClusterName": str(check.cluster), "ServiceName": str(check.ecs_service)}
    counted = event_filters(scope, check, ctx)

    def metric(namespace: str, name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace=namespace, metric_name=name, dimensions_map=dimensions, statistic=statistic)

    def for_signal(signal: str) -> cloudwatch.IMetric:
        if signal == SHORT:
            return cloudwatch.MathExpression(
                expression="desired - running",
                using_metrics={
                    "desired": metric(INSIGHTS_NAMESPACE, "DesiredTaskCount", "Maximum"),
                    "running": metric(INSIGHTS_NAMESPACE, "RunningTaskCount", "Minimum"),
                },
                label="tasks short of desired",
            )
        if signal == RUNNING:
            return metric(NAMESPACE, "CPUUtilization", "SampleCount")
        if signal in counted:
            return counted[signal]
        return metric(NAMESPACE, EcsCheck.signals[signal].metric, check.rule(signal).statistic.value)

    return for_signal


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, EcsCheck)
    for where, target in watched(scope, check, ctx):
        assert isinstance(target, EcsCheck)
        alarm_signals(where, target, ctx, signal_metric(where, target, ctx))
