"""Kind `rds`: native alarms on AWS/RDS metrics of one DB instance; no Lambda runs.

cdk-monitoring-constructs' RdsInstanceMonitoring would make these alarms too, but with its own
names and descriptions; vigil's notifier needs the exact alarm_name and the AlarmMeta trailer, so
the alarms come from infra.alarms like every other alarm (as for kind sqs).

Free storage and latency alarm on metric math that scales AWS's bytes and seconds to the GiB and
milliseconds the catalog's thresholds are written in; the others alarm on the metric itself.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.checks import CheckContext, alarm_signals
from vigil.spec.common import CheckBase
from vigil.spec.rds import SCALES, RdsCheck

NAMESPACE = "AWS/RDS"
DIMENSION = "DBInstanceIdentifier"


def signal_metric(check: RdsCheck) -> Callable[[str], cloudwatch.IMetric]:
    def for_signal(signal: str) -> cloudwatch.IMetric:
        metric = cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=RdsCheck.signals[signal].metric,
            dimensions_map={DIMENSION: check.instance},
            # A math expression has no statistic of its own: the metric in it carries the rule's.
            statistic=check.rule(signal).statistic.value,
        )
        if signal not in SCALES:
            return metric
        scale, unit = SCALES[signal]
        # The id names the signal: the check's dashboard graph shows its alarms' series side by
        # side, and CloudWatch needs every id in one graph to be unique.
        return cloudwatch.MathExpression(
            expression=f"{signal} {scale}", using_metrics={signal: metric}, label=f"{signal} ({unit})"
        )

    return for_signal


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, RdsCheck)
    alarm_signals(scope, check, ctx, signal_metric(check))
