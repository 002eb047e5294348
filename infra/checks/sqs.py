"""Kind `sqs`: native alarms on AWS/SQS metrics of existing queues (and their DLQs); no Lambda runs.

cdk-monitoring-constructs' SqsQueueMonitoring would make these alarms too, but with its own names
and descriptions; vigil's notifier needs the exact alarm_name and the AlarmMeta trailer, so the
alarms come from infra.alarms like every other alarm.

One queue: a plain metric alarm (the shape every existing check has). Several queues: one metric
math alarm per signal on the worst of them, MAX([...]).

A name prefix: the sqs checker (vigil.checkers.sqs) on a schedule, alarms on the metrics it emits
(namespace Vigil, dimension Check; the metric names are the prefix signals', PREFIX_METRICS), and
GetQueueAttributes on exactly this check's queues in its service stack's access role
(infra.checks.access), which the schedule names. ListQueues and
GetMetricData take no resource-level permissions (Service Authorization Reference: no resource
type for either), so they are granted on "*"; GetQueueAttributes only on the prefix's queues.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import nag
from infra.checks import CheckContext, alarm_signals, checker_alarms, schedule, worst_of
from infra.checks.access import access_role, nag_arn
from vigil.spec.common import CheckBase
from vigil.spec.sqs import DRAIN_TIME_METRICS, NEVER_DRAINS, SqsCheck

NAMESPACE = "AWS/SQS"


def drain_time(visible: cloudwatch.Metric, deleted: cloudwatch.Metric, suffix: str) -> cloudwatch.MathExpression:
    """Seconds to empty the queue at the period's delete rate; NEVER_DRAINS when nothing is deleted."""
    v, d = f"visible{suffix}", f"deleted{suffix}"
    return cloudwatch.MathExpression(
        expression=f"IF({v} > 0, IF({d} > 0, {v} / ({d} / PERIOD({d})), {NEVER_DRAINS}), 0)",
        using_metrics={v: visible, d: deleted},
    )


def signal_metric(check: SqsCheck) -> Callable[[str], cloudwatch.IMetric]:
    def metric(name: str, queue: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=NAMESPACE, metric_name=name, dimensions_map={"QueueName": queue}, statistic=statistic
        )

    def for_signal(signal: str) -> cloudwatch.IMetric:
        queues = check.queues_for(signal)
        if signal == "drain_time":
            visible, deleted = DRAIN_TIME_METRICS
            return worst_of(
                [
                    drain_time(metric(visible, q, "Maximum"), metric(deleted, q, "Sum"), str(i))
                    for i, q in enumerate(queues)
                ],
                signal,
            )
        name, statistic = SqsCheck.signals[signal].metric, check.rule(signal).statistic.value
        return worst_of([metric(name, q, statistic) for q in queues], signal)

    return for_signal


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, SqsCheck)
    if check.queue_prefix is None:
        alarm_signals(scope, check, ctx, signal_metric(check))  # type: ignore[arg-type]
        return
    # ListQueues and GetMetricData take no resource-level permissions.
    listing = iam.PolicyStatement(actions=["sqs:ListQueues", "cloudwatch:GetMetricData"], resources=["*"])
    role = access_role(scope, check, ctx, [listing])
    grant_prefix(role, check.queue_prefix)
    schedule(scope, check, ctx, access=role)
    checker_alarms(scope, check, ctx)


def grant_prefix(role: iam.Role, prefix: str) -> None:
    """GetQueueAttributes on the queues the prefix matches (known only at run time), in the service's access role."""
    stack = Stack.of(role)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["sqs:GetQueueAttributes"], resources=[stack.format_arn(service="sqs", resource=f"{prefix}*")]
        )
    )
    nag.acknowledge(
        role,
        ["AwsSolutions-IAM5[Resource::*]", f"AwsSolutions-IAM5[Resource::{nag_arn(stack, 'sqs', prefix)}*]"],
        "ListQueues and GetMetricData support no resource-level permissions, and the queues a name prefix "
        "matches are known only at run time, so GetQueueAttributes is granted on exactly that prefix.",
    )
