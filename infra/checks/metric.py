"""Kind `metric`: one alarm on the catalog's metric or metric math expression, through the one AlarmFactory."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.checks import CheckContext, alarm_signals
from vigil.spec.common import CheckBase
from vigil.spec.metric import MetricCheck, MetricRef


def cloudwatch_metric(ref: MetricRef, statistic: str | None = None) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=ref.namespace, metric_name=ref.name, dimensions_map=dict(ref.dimensions), statistic=statistic
    )


def signal_metric(check: MetricCheck) -> cloudwatch.IMetric:
    if check.metric is not None:
        return cloudwatch_metric(check.metric)  # the rule's statistic is applied by the AlarmFactory
    assert check.expression is not None
    return cloudwatch.MathExpression(
        expression=check.expression,
        using_metrics={key: cloudwatch_metric(m, m.statistic.value) for key, m in check.metrics.items()},
        label=check.id,
    )


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, MetricCheck)
    metric = signal_metric(check)
    alarm_signals(scope, check, ctx, lambda _signal: metric)
