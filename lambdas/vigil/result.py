"""CheckResult: what one checker run measured, or why it could not measure.

A plain dataclass, not a pydantic model: every checker imports this module on a cold start, and
pydantic alone costs more import time than the http checker's budget (docs/performance.md). It
never crosses a boundary as input: checkers build it, the runner emits it and returns `to_dict()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

METRIC_NAMESPACE = "Vigil"
# At most this many samples of at most SAMPLE_LIMIT characters leave a run (the runner clips).
MAX_SAMPLES = 10
SAMPLE_LIMIT = 300
CHECK_DIMENSION = "Check"
# What a check id may be (the catalog enforces it); only such an id becomes a metric dimension.
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
# Every checker run writes it: 1 when the checker could not measure. Its alarm treats missing
# data as breaching, so a checker that goes silent pages too.
MEASURE_FAILED = "MeasureFailed"


@dataclass(frozen=True)
class MetricBudget:
    """A kind that writes fewer custom metrics than the default (every value, plus MeasureFailed).

    Each metric costs USD 0.30 a month per check and series, more than a 1-minute check's runs.
    `metrics`: the only values written as metrics, those its alarms read; the others ride in the
    run's log line as plain fields (Logs Insights and the alarm e-mail's evidence still read them).
    `failed`: what a run that could not measure writes instead of MeasureFailed, a value the kind's
    alarm counts as breaching, so "cannot measure" still pages and never looks healthy, and silence
    pages through that alarm's missing data (breaching); None: MeasureFailed as usual.
    """

    metrics: frozenset[str]
    failed: dict[str, float] | None = None


METRIC_BUDGETS: dict[str, MetricBudget] = {
    # One metric, Healthy (1/0); a run that cannot measure writes Healthy=0 (vigil.spec.http).
    "http": MetricBudget(metrics=frozenset({"Healthy"}), failed={"Healthy": 0.0}),
    # What its signals read (vigil.spec.rabbitmq), for the check and a listed queue's overrides; node
    # counts, sums and rates go to the log line (the sample check: 10 series, not 43).
    "rabbitmq": MetricBudget(
        metrics=frozenset(
            {
                MEASURE_FAILED,
                "Unreachable",
                "ResourceAlarm",
                "QueuesMissing",
                "Backlog",
                "NoConsumers",
                "GrowthRate",
                "UnackedPercent",
            }
        )
    ),
}


class Status(StrEnum):
    ok = "ok"  # the checker measured; the values say whether the target is healthy
    failed = "failed"  # the checker could not measure; values are absent, reason says why


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    kind: str
    status: Status
    # metric name → value; the names are the kind's Signal.metric names plus any extras.
    values: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # metric name → CloudWatch unit
    reason_code: str | None = None  # short machine tag: dns, connect, tls, timeout, status, body, secret, internal
    reason: str | None = None  # one human line: "status 503, expected 200"
    duration_ms: float = 0.0
    details: dict[str, str | int | float | bool | None] = field(default_factory=dict)
    # Evidence on-call should read (matching log lines, sample hits, differing keys): it rides in
    # the run's EMF log line, where the notifier finds it when the alarm fires.
    samples: tuple[str, ...] = ()

    @property
    def measured(self) -> bool:
        return self.status is Status.ok

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what a checker Lambda returns."""
        data = asdict(self)
        data["status"] = self.status.value
        data["samples"] = list(self.samples)
        return data
