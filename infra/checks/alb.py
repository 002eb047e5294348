"""Kind `alb`: unhealthy targets, 5XX rate and p99 latency of a load balancer (or of each one a selector found)."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.checks import CheckContext, alarm_signals, watched
from vigil.spec.alb import RATE, UNHEALTHY, AlbCheck
from vigil.spec.common import CheckBase

NAMESPACE = "AWS/ApplicationELB"


def worst_target_group(load_balancer: str) -> cloudwatch.MathExpression:
    """UnHealthyHostCount of the load balancer's worst target group: one Metrics Insights query, since
    the metric exists only per target group and the target groups are not known here."""
    return cloudwatch.MathExpression(
        expression=(
            f'SELECT MAX(UnHealthyHostCount) FROM SCHEMA("{NAMESPACE}", LoadBalancer, TargetGroup) '
            f"WHERE LoadBalancer = '{load_balancer}'"
        ),
        using_metrics={},
        label="unhealthy targets (worst target group)",
    )


def signal_metric(check: AlbCheck) -> Callable[[str], cloudwatch.IMetric]:
    dimensions = {"LoadBalancer": check.load_balancer_dimension}
    if check.target_group_dimension is not None:
        dimensions["TargetGroup"] = check.target_group_dimension

    def metric(name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace=NAMESPACE, metric_name=name, dimensions_map=dimensions, statistic=statistic)

    def for_signal(signal: str) -> cloudwatch.IMetric:
        if signal == UNHEALTHY and check.target_group is None:
            return worst_target_group(check.load_balancer_dimension)
        if signal == RATE:
            # No 5XX in a minute publishes no 5XX data point: FILL makes it 0, not a missing rate.
            return cloudwatch.MathExpression(
                expression=f"IF(requests >= {check.min_requests}, 100 * FILL(errors5xx, 0) / requests, 0)",
                using_metrics={
                    "errors5xx": metric("HTTPCode_Target_5XX_Count", "Sum"),
                    "requests": metric("RequestCount", "Sum"),
                },
                label="target 5XX (% of requests)",
            )
        return metric(AlbCheck.signals[signal].metric, check.rule(signal).statistic.value)

    return for_signal


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, AlbCheck)
    for where, target in watched(scope, check, ctx):
        assert isinstance(target, AlbCheck)
        alarm_signals(where, target, ctx, signal_metric(target))
