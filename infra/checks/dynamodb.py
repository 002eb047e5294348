"""Kind `dynamodb`: throttles, system errors and replication latency of one table, counts filled with 0.

Why FILL: alarms on AWS/DynamoDB metrics ignore missing data whatever they say, and DynamoDB
publishes a throttle or error count only in minutes that have one; filled, a quiet minute is 0 and
the alarm recovers (vigil.spec.dynamodb).
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.checks import CheckContext, alarm_signals
from vigil.spec.common import CheckBase
from vigil.spec.dynamodb import OPERATIONS, REPLICATION, DynamoDbCheck

NAMESPACE = "AWS/DynamoDB"


def signal_metric(check: DynamoDbCheck) -> Callable[[str], cloudwatch.IMetric]:
    def metric(name: str, statistic: str, **dimensions: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=name,
            dimensions_map={"TableName": check.table, **dimensions},
            statistic=statistic,
        )

    def for_signal(signal: str) -> cloudwatch.IMetric:
        name = DynamoDbCheck.signals[signal].metric
        if signal == REPLICATION:
            ids = [f"{signal}{i}" for i in range(len(check.replica_regions))]
            return cloudwatch.MathExpression(
                expression=f"MAX([{', '.join(ids)}])",
                using_metrics={
                    key: metric(name, "Average", ReceivingRegion=region)
                    for key, region in zip(ids, check.replica_regions, strict=True)
                },
                label="replication latency, slowest replica (ms)",
            )
        if signal == "system_errors":
            ids = [f"{signal}{i}" for i in range(len(OPERATIONS))]
            return cloudwatch.MathExpression(
                expression=" + ".join(f"FILL({key}, 0)" for key in ids),
                using_metrics={
                    key: metric(name, "Sum", Operation=operation)
                    for key, operation in zip(ids, OPERATIONS, strict=True)
                },
                label="system errors (all operations)",
            )
        return cloudwatch.MathExpression(
            expression=f"FILL({signal}, 0)", using_metrics={signal: metric(name, "Sum")}, label=signal
        )

    return for_signal


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, DynamoDbCheck)
    alarm_signals(scope, check, ctx, signal_metric(check))
