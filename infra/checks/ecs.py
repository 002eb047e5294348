"""Kind `ecs`: task count, CPU, memory and failed deployments of a service (or each one a selector found).

Failed deployments reach an alarm without code: the stack's one EventBridge rule for
SERVICE_DEPLOYMENT_FAILED writes the events to a log group (`EcsEvents`, made with the first ecs
check), and each service's metric filter counts the events naming its ARN (resources[0]) into
Vigil/Events `<check id>.deployment_failed`. Metric filters on JSON patterns could publish a
dimension instead, but a per-service metric name keeps each filter's output and its one alarm
obviously paired, as kind log_pattern does. A log group holds at most 100 metric filters, so one
stack watches the deployments of at most 100 services.

The rule targets the log group through a native AWS::Logs::ResourcePolicy rather than
aws_events_targets.CloudWatchLogGroup, whose policy is a custom resource (a Lambda function run at
deploy). An account has at most 10 CloudWatch Logs resource policies per region; this is one.
Events EventBridge cannot deliver go to the stack's dead-letter queue for undeliverable schedule
and event deliveries, whose self-monitoring alarm pages on any message.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.checks import CheckContext, alarm_signals, watched
from infra.functions import LOG_RETENTION
from vigil.alarm_meta import alarm_name
from vigil.spec.common import CheckBase
from vigil.spec.ecs import DEPLOYMENT, RUNNING, SHORT, EcsCheck

NAMESPACE = "AWS/ECS"
INSIGHTS_NAMESPACE = "ECS/ContainerInsights"
EVENTS_NAMESPACE = "Vigil/Events"
# Amazon ECS Developer Guide, "Amazon ECS service deployment state change events".
DEPLOYMENT_FAILED_PATTERN = {
    "source": ["aws.ecs"],
    "detail-type": ["ECS Deployment State Change"],
    "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
}
EVENTS_ID = "EcsEvents"


def events_log_group_name(env: str) -> str:
    # EventBridge's console offers log groups under /aws/events/ as targets; keep to that convention.
    return f"/aws/events/vigil-{env}-ecs"


class EcsEvents(Construct):
    """ECS deployment failures of the account and region, written to one log group by one rule."""

    def __init__(self, scope: Construct, construct_id: str, *, env: str, dead_letters: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Log",
            log_group_name=events_log_group_name(env),
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        policy = logs.ResourcePolicy(
            self,
            "Delivery",
            resource_policy_name=f"vigil-{env}-ecs-events",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                )
            ],
        )
        target_arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        rule = events.CfnRule(
            self,
            "DeploymentFailed",
            description=f"vigil {env}: ECS deployments stopped by the circuit breaker, to {events_log_group_name(env)}",
            event_pattern=DEPLOYMENT_FAILED_PATTERN,
            targets=[
                events.CfnRule.TargetProperty(
                    id="Log",
                    arn=target_arn,
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letters.queue_arn),
                )
            ],
        )
        # Events matched before the policy exists would be dropped.
        rule.node.add_dependency(policy)
        dead_letters.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[dead_letters.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
            )
        )


def deployment_events(ctx: CheckContext) -> logs.ILogGroup:
    existing = ctx.scope.node.try_find_child(EVENTS_ID)
    home = (
        existing
        if isinstance(existing, EcsEvents)
        else EcsEvents(ctx.scope, EVENTS_ID, env=ctx.env, dead_letters=ctx.scheduler_dlq)
    )
    return home.log_group


def deployment_failures(scope: Construct, check: EcsCheck, ctx: CheckContext) -> cloudwatch.Metric:
    """The service's failed deployments per period, counted from the events naming its ARN."""
    stack = Stack.of(scope)
    service_arn = stack.format_arn(service="ecs", resource="service", resource_name=check.target_label)
    metric_filter = logs.MetricFilter(
        scope,
        "DeploymentFailedFilter",
        log_group=deployment_events(ctx),
        filter_name=alarm_name(ctx.env, check.id, DEPLOYMENT),
        # The event name too: the log group is where more ECS events (stopped tasks) can be routed later.
        filter_pattern=logs.FilterPattern.all(
            logs.FilterPattern.string_value("$.detail.eventName", "=", "SERVICE_DEPLOYMENT_FAILED"),
            logs.FilterPattern.string_value("$.resources[0]", "=", service_arn),
        ),
        metric_namespace=EVENTS_NAMESPACE,
        metric_name=f"{check.id}.{DEPLOYMENT}",
        metric_value="1",
    )
    return metric_filter.metric()


def signal_metric(scope: Construct, check: EcsCheck, ctx: CheckContext) -> Callable[[str], cloudwatch.IMetric]:
    dimensions = {"ClusterName": str(check.cluster), "ServiceName": str(check.ecs_service)}

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
        if signal == DEPLOYMENT:
            return deployment_failures(scope, check, ctx)
        return metric(NAMESPACE, EcsCheck.signals[signal].metric, check.rule(signal).statistic.value)

    return for_signal


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, EcsCheck)
    for where, target in watched(scope, check, ctx):
        assert isinstance(target, EcsCheck)
        alarm_signals(where, target, ctx, signal_metric(where, target, ctx))
