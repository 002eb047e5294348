"""Kind `dynamodb`: native CloudWatch alarms on one DynamoDB table's own metrics; no Lambda runs.

AWS/DynamoDB (Amazon DynamoDB Developer Guide, "DynamoDB metrics and dimensions",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html):
ReadThrottleEvents and WriteThrottleEvents per TableName (Sum: requests over the provisioned or
partition capacity), SystemErrors per TableName and Operation (Sum: requests that failed with an
HTTP 500, DynamoDB's own fault), ReplicationLatency per TableName and ReceivingRegion (Average,
milliseconds: a global table's replica lagging behind).

Missing data: alarms on AWS/DynamoDB metrics "always ignore missing data even if you choose a
different option" (PutMetricAlarm, TreatMissingData), so every rule here says `ignore` and the
catalog cannot change it. DynamoDB publishes throttle and error counts only for minutes in which
they happen, and an alarm that only ignored the gaps would stay in ALARM after the last throttle.
The counts are therefore read through FILL(metric, 0): a quiet minute is 0 and the alarm recovers.
SystemErrors has one series per operation; the alarm sums the 10 data-plane operations' series
(an alarm reads at most 10 metrics). ReplicationLatency is not filled: no data is not zero lag.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from vigil.spec.common import (
    DYNAMODB_TABLE_NAME,
    AlarmRule,
    CheckBase,
    Comparison,
    MissingData,
    Signal,
    Statistic,
    refuse_statistic,
    worded,
)

REGION = worded(r"^[a-z]{2}(-[a-z]+)+-\d$", "an AWS region such as eu-west-1 or us-east-1")
REPLICATION = "replication_latency"
# The data-plane operations whose SystemErrors the alarm sums: exactly the 10 metrics an alarm may read.
OPERATIONS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
)
MAX_REPLICAS = 10
# Computed from filled counts or replica series: no statistic to choose.
FIXED_STATISTIC = frozenset({"read_throttles", "write_throttles", "system_errors", REPLICATION})


def _rule(threshold: float, periods: int, statistic: Statistic, datapoints: int | None = None) -> AlarmRule:
    return AlarmRule.sustained(
        threshold, Comparison.gt, periods, MissingData.ignore, datapoints=datapoints, statistic=statistic
    )


class DynamoDbCheck(CheckBase):
    """Throttled reads and writes, system errors and (global tables) replication latency of one table."""

    signals: ClassVar = {
        s.name: s
        for s in (
            Signal(
                "read_throttles",
                "ReadThrottleEvents",
                "requests",
                "reads throttled: over the table's or a partition's read capacity",
                _rule(0, 5, Statistic.sum, datapoints=3),
            ),
            Signal(
                "write_throttles",
                "WriteThrottleEvents",
                "requests",
                "writes throttled: over the table's or a partition's write capacity",
                _rule(0, 5, Statistic.sum, datapoints=3),
            ),
            Signal(
                "system_errors",
                "SystemErrors",
                "requests",
                "requests that failed with an internal DynamoDB error (HTTP 500)",
                _rule(0, 3, Statistic.sum, datapoints=2),
            ),
            Signal(
                REPLICATION,
                "ReplicationLatency",
                "ms",
                "replication lag to the slowest listed replica region",
                _rule(60000, 5, Statistic.average),
            ),
        )
    }
    has_checker: ClassVar[bool] = False

    kind: Literal["dynamodb"]
    table: str = Field(pattern=DYNAMODB_TABLE_NAME, description="the table's name")
    replica_regions: list[Annotated[str, Field(pattern=REGION)]] = Field(
        default_factory=list,
        max_length=MAX_REPLICAS,
        description="global tables: the regions replicating from this one (ReceivingRegion); adds replication_latency",
    )

    @model_validator(mode="after")
    def _dynamodb_sane(self) -> DynamoDbCheck:
        for signal, override in sorted(self.alarms.items()):
            if override.missing_data not in (None, MissingData.ignore):
                raise ValueError(
                    f"alarms.{signal}.missing_data: CloudWatch always ignores missing data for AWS/DynamoDB "
                    "metrics, whatever the alarm says; remove it"
                )
        refuse_statistic(self.alarms, FIXED_STATISTIC, "for a computed signal")
        if REPLICATION in self.alarms and not self.replica_regions:
            raise ValueError("alarms.replication_latency: the check lists no replica_regions; add them")
        if len(set(self.replica_regions)) != len(self.replica_regions):
            raise ValueError("replica_regions: a region is listed twice")
        return self

    def alarm_metric_count(self, signal: str) -> int:
        """Metrics the signal's alarm reads (CloudWatch prices an alarm per metric it reads)."""
        return {"system_errors": len(OPERATIONS), REPLICATION: len(self.replica_regions)}.get(signal, 1)

    def active_signals(self) -> list[str]:
        return [s for s in self.signals if s != REPLICATION or self.replica_regions]
