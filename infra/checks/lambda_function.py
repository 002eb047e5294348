"""Kind `lambda`: error rate, throttles, duration against the timeout and iterator age of one function."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.checks import CheckContext, alarm_signals
from vigil.spec.common import CheckBase
from vigil.spec.lambda_function import DURATION, ITERATOR_AGE, LambdaCheck

NAMESPACE = "AWS/Lambda"


def signal_metric(check: LambdaCheck) -> Callable[[str], cloudwatch.IMetric]:
    def metric(name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=name,
            dimensions_map={"FunctionName": check.function_name},
            statistic=statistic,
        )

    def for_signal(signal: str) -> cloudwatch.IMetric:
        # Expression ids carry the signal: the check's dashboard graph needs every id unique.
        if signal == "errors":
            return cloudwatch.MathExpression(
                expression="IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)",
                using_metrics={"errors": metric("Errors", "Sum"), "invocations": metric("Invocations", "Sum")},
                label="errors (% of invocations)",
            )
        if signal == DURATION:
            timeout_ms = check.function_timeout * 1000
            return cloudwatch.MathExpression(
                expression=f"100 * duration / {timeout_ms}",
                # The statistic is the rule's: Maximum by default, p99 when the catalog says so.
                using_metrics={"duration": metric("Duration", check.rule(signal).statistic.value)},
                label="duration (% of timeout)",
            )
        if signal == ITERATOR_AGE:
            return cloudwatch.MathExpression(
                expression="iterator_age / 1000",
                using_metrics={"iterator_age": metric("IteratorAge", "Maximum")},
                label="iterator age (s)",
            )
        return metric(LambdaCheck.signals[signal].metric, check.rule(signal).statistic.value)

    return for_signal


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, LambdaCheck)
    alarm_signals(scope, check, ctx, signal_metric(check))
