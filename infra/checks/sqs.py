"""Kind `sqs`: native alarms on AWS/SQS metrics of existing queues (and their DLQs); no Lambda runs.

cdk-monitoring-constructs' SqsQueueMonitoring would make these alarms too, but with its own names
and descriptions; vigil's notifier needs the exact alarm_name and the AlarmMeta trailer, so the
alarms come from infra.alarms like every other alarm.

One queue: a plain metric alarm (the shape every existing check has). Several queues: one metric
math alarm per signal on the worst of them, MAX([...]).
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.checks import CheckContext, alarm_signals, worst_of
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
    alarm_signals(scope, check, ctx, signal_metric(check))  # type: ignore[arg-type]
