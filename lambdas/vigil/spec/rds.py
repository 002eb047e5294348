"""Kind `rds`: native CloudWatch alarms on one RDS DB instance's own metrics; no Lambda runs.

Thresholds are written in the units people think in: free storage in GiB and latency in
milliseconds (the alarms scale AWS's bytes and seconds with metric math, see infra/checks/rds.py).
`connections` alarms only with a threshold of the catalog's: the right number depends on the
instance class and the max_connections of its parameter group, so vigil has no default for it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from vigil.spec.common import AlarmRule, CheckBase, Comparison, MissingData, Signal, Statistic, worded

# DBInstanceIdentifier: 1-63 letters, digits and hyphens, starting with a letter, no double or trailing hyphen.
INSTANCE_ID = worded(
    r"^[A-Za-z](-?[A-Za-z0-9])*$",
    "a DB instance identifier: up to 63 letters, digits and hyphens, starting with a letter, "
    "no two hyphens in a row and none at the end",
)
CONNECTIONS = "connections"
# signal → (metric math from AWS's unit to the catalog's, the catalog's unit)
SCALES: dict[str, tuple[str, str]] = {
    "free_storage": (f"/ {2**30}", "GiB"),
    "read_latency": ("* 1000", "ms"),
    "write_latency": ("* 1000", "ms"),
}


def _rule(threshold: float, comparison: Comparison, statistic: Statistic, periods: int, period: int = 60) -> AlarmRule:
    # A stopped instance publishes nothing: that is not a fault of its CPU, storage or disks.
    return AlarmRule.sustained(
        threshold, comparison, periods, MissingData.not_breaching, statistic=statistic, period=period
    )


class RdsCheck(CheckBase):
    """CPU, free storage, connections and read/write latency of one RDS DB instance."""

    signals: ClassVar = {
        s.name: s
        for s in (
            Signal("cpu", "CPUUtilization", "%", "CPU utilization", _rule(90, Comparison.gt, Statistic.average, 5)),
            Signal(
                "free_storage",
                "FreeStorageSpace",
                "GiB",
                "free storage space",
                _rule(2, Comparison.lt, Statistic.minimum, 1, period=300),
            ),
            Signal(
                CONNECTIONS,
                "DatabaseConnections",
                "connections",
                "database connections in use",
                # Never used as is: the signal alarms only with the catalog's threshold.
                _rule(0, Comparison.gt, Statistic.maximum, 5),
            ),
            Signal(
                "read_latency",
                "ReadLatency",
                "ms",
                "average time per disk read",
                _rule(20, Comparison.gt, Statistic.average, 5),
            ),
            Signal(
                "write_latency",
                "WriteLatency",
                "ms",
                "average time per disk write",
                _rule(20, Comparison.gt, Statistic.average, 5),
            ),
        )
    }
    has_checker: ClassVar[bool] = False

    kind: Literal["rds"]
    instance: str = Field(
        pattern=INSTANCE_ID, max_length=63, description="the DB instance identifier (DBInstanceIdentifier)"
    )

    def active_signals(self) -> list[str]:
        # Keyed on the threshold, not on naming the signal: catalog-wide alarm defaults add an
        # entry for every signal, and must not switch connections on.
        override = self.alarms.get(CONNECTIONS)
        wanted = override is not None and override.threshold is not None
        return [s for s in self.signals if s != CONNECTIONS or wanted]
