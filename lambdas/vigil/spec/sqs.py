"""Kind `sqs`: native CloudWatch alarms on existing queues and their dead-letter queues; no Lambda runs.

One queue (`queue`, `dlq`) or a list (`queues`, `dlqs`): a list gets ONE alarm per signal on the
worst queue (metric math MAX over the queues), so a check's resource count does not grow with its
list.

A name prefix (`queue_prefix`, DLQs among the matches by `dlq_suffix`) is the one part of the kind
that runs a Lambda: CloudWatch alarms cannot select dimension values by prefix (Metrics Insights'
WHERE has only = and !=, and SEARCH cannot be alarmed on). The sqs checker lists the queues every
cadence and emits the worst queue's values under the Check dimension (PREFIX_METRICS); the same
signal names then read those metrics, with the same thresholds, per cadence period.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from vigil.spec.common import (
    CHECKER_MISSING_DATA,
    MEASURE_SIGNAL,
    AlarmRule,
    CheckBase,
    Comparison,
    MissingData,
    Signal,
    worded,
)

QUEUE_REF = worded(
    r"^(arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:)?[A-Za-z0-9_-]{1,75}(\.fifo)?$",
    "a queue name (1 to 75 letters, digits, - and _, then .fifo for a FIFO queue) or its ARN "
    "arn:aws:sqs:<region>:<12-digit account>:<name>",
)
QueueRef = Annotated[str, Field(pattern=QUEUE_REF)]
# What ListQueues' QueueNamePrefix accepts: the start of a queue name (80 characters at most).
QUEUE_PREFIX = worded(r"^[A-Za-z0-9_-]{1,80}$", "the start of a queue name: 1 to 80 letters, digits, - and _")
DLQ_SUFFIX = worded(r"^[A-Za-z0-9_-]{1,40}$", "the end of a queue name: 1 to 40 letters, digits, - and _")

# PutMetricAlarm reads at most 10 metrics (MetricStat entries) per alarm.
ALARM_METRICS_LIMIT = 10
# "Never drains" (messages wait, nothing is deleted) is reported as this many seconds: a day is as
# bad as forever for any sensible threshold, and it keeps the graph readable.
NEVER_DRAINS = 86400
DRAIN_TIME_METRICS = ("ApproximateNumberOfMessagesVisible", "NumberOfMessagesDeleted")
DLQ_SIGNALS = frozenset({"dlq", "dlq_age"})


def queue_name(ref: str) -> str:
    """A queue given by name or ARN, as the QueueName dimension CloudWatch uses."""
    return ref.rsplit(":", 1)[-1]


def _rule(threshold: float, periods: int, comparison: Comparison = Comparison.gt) -> AlarmRule:
    # SQS stops publishing metrics for a queue idle for six hours: an idle queue is not a fault.
    return AlarmRule.sustained(threshold, comparison, periods, MissingData.not_breaching)


AWS_SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal(
            "backlog",
            "ApproximateNumberOfMessagesVisible",
            "messages",
            "messages waiting in the queue",
            _rule(1000, 3),
        ),
        Signal(
            "age",
            "ApproximateAgeOfOldestMessage",
            "seconds",
            "age of the oldest message in the queue",
            _rule(600, 3),
        ),
        Signal(
            "drain_time",
            "/".join(DRAIN_TIME_METRICS),
            "seconds",
            "time to drain the backlog at the current delete rate",
            _rule(900, 5),
        ),
        Signal(
            "dlq",
            "ApproximateNumberOfMessagesVisible",
            "messages",
            "messages in the dead-letter queue",
            _rule(0, 1),
        ),
        Signal(
            "dlq_age",
            "ApproximateAgeOfOldestMessage",
            "seconds",
            "age of the oldest message in the dead-letter queue",
            _rule(86400, 1),
        ),
    )
}

# Prefix checks: the checker's metric (namespace Vigil, dimension Check) and its CloudWatch unit per
# signal, the worst matched queue's value. The checker emits these names and the alarms read them.
PREFIX_METRICS: dict[str, tuple[str, str]] = {
    "backlog": ("Backlog", "Count"),
    "age": ("OldestMessageAgeSeconds", "Seconds"),
    "drain_time": ("DrainTimeSeconds", "Seconds"),
    "dlq": ("DlqMessages", "Count"),
    "dlq_age": ("DlqOldestMessageAgeSeconds", "Seconds"),
}
# Also emitted by prefix checks (no alarm): how many queues matched, DLQs included.
QUEUES_METRIC = "Queues"


def _prefix_signal(signal: Signal) -> Signal:
    """The same signal read from the checker's metric: one datapoint per run, so the period follows
    the cadence, and a run that could not measure leaves no value (`ignore`: no false recovery,
    the measure alarm pages about the checker)."""
    rule = signal.default.model_copy(update={"missing_data": CHECKER_MISSING_DATA})
    return replace(signal, metric=PREFIX_METRICS[signal.name][0], default=rule, period_follows_cadence=True)


PREFIX_SIGNALS: dict[str, Signal] = {
    **{name: _prefix_signal(s) for name, s in AWS_SIGNALS.items()},
    MEASURE_SIGNAL.name: MEASURE_SIGNAL,
}


class _QueueSignals:
    """`signals` for sqs: AWS's own metrics for a queue or a list (and on the class), the checker's
    metrics plus `measure` for a prefix check (only an instance knows which it is)."""

    def __get__(self, check: SqsCheck | None, owner: type | None = None) -> dict[str, Signal]:
        if check is not None and getattr(check, "queue_prefix", None) is not None:
            return PREFIX_SIGNALS
        return AWS_SIGNALS


class SqsCheck(CheckBase):
    """Backlog, age, time to drain and dead letters of one queue, a list, or every queue with a name prefix."""

    signals: ClassVar = _QueueSignals()  # type: ignore[assignment]
    # Added after checks were deployed: they alarm only when the check names them under `alarms`,
    # so upgrading vigil never starts paging anyone for a check nobody changed.
    opt_in: ClassVar[frozenset[str]] = frozenset({"drain_time", "dlq_age"})
    # A ratio of two statistics fixed by its meaning: an override could only make it wrong.
    fixed_statistic: ClassVar[frozenset[str]] = frozenset({"drain_time"})

    kind: Literal["sqs"]
    queue: str | None = Field(default=None, pattern=QUEUE_REF, description="one queue: name or ARN")
    queues: list[QueueRef] | None = Field(
        default=None,
        min_length=1,
        max_length=ALARM_METRICS_LIMIT,
        description="several queues (name or ARN), one alarm per signal on the worst of them",
    )
    queue_prefix: str | None = Field(
        default=None,
        pattern=QUEUE_PREFIX,
        description="every queue whose name starts with this (runs the sqs checker), one alarm per signal on the worst",
    )
    dlq: str | None = Field(default=None, pattern=QUEUE_REF, description="dead-letter queue name or ARN")
    dlqs: list[QueueRef] | None = Field(
        default=None,
        min_length=1,
        max_length=ALARM_METRICS_LIMIT,
        description="several dead-letter queues (name or ARN), one alarm per signal on the worst of them",
    )
    dlq_suffix: str | None = Field(
        default=None,
        pattern=DLQ_SUFFIX,
        description="with queue_prefix: matched queues whose name ends with this (before .fifo) are the DLQs",
    )
    timeout: float = Field(
        default=20.0, gt=0, le=300, description="with queue_prefix: seconds for the checker's whole run"
    )

    @property
    def has_checker(self) -> bool:  # type: ignore[override]
        """Only a prefix check runs a Lambda; a queue or a list is watched by native alarms alone."""
        return self.queue_prefix is not None

    @model_validator(mode="after")
    def _queues_given(self) -> SqsCheck:
        given = [name for name in ("queue", "queues", "queue_prefix") if getattr(self, name) is not None]
        if len(given) != 1:
            found = " and ".join(given) if given else "neither"
            raise ValueError(
                "give one of queue (one queue), queues (a list of up to 10) or queue_prefix (every queue "
                f"whose name starts with it); found {found}"
            )
        if self.dlq is not None and self.dlqs is not None:
            raise ValueError("give one of dlq (one dead-letter queue) or dlqs (a list); found both")
        if self.queue_prefix is not None:
            if self.dlq is not None or self.dlqs is not None:
                raise ValueError(
                    "with queue_prefix, name the dead-letter queues by dlq_suffix (such as -dlq), not dlq or dlqs"
                )
        else:
            for name in ("dlq_suffix", "timeout"):
                if name in self.model_fields_set:
                    raise ValueError(f"{name}: only with queue_prefix (a queue or a list runs no checker)")
        for signal in sorted(DLQ_SIGNALS & set(self.alarms)):
            if not self.has_dead_letter_queues():
                add = "dlq_suffix" if self.queue_prefix is not None else "dlq or dlqs"
                raise ValueError(f"alarms.{signal}: the check names no dead-letter queue; add {add}")
        for signal in sorted(self.fixed_statistic & set(self.alarms)):
            if self.alarms[signal].statistic is not None:
                raise ValueError(
                    f"alarms.{signal}: statistic is fixed (Maximum visible over Sum deleted per second); remove it"
                )
        if "drain_time" in self.alarms and len(self.watched_queues()) * 2 > ALARM_METRICS_LIMIT:
            raise ValueError(
                f"alarms.drain_time: reads 2 metrics per queue and an alarm reads at most {ALARM_METRICS_LIMIT}; "
                f"list at most {ALARM_METRICS_LIMIT // 2} queues, or split the check"
            )
        return self

    def has_dead_letter_queues(self) -> bool:
        return bool(self.dead_letter_queues()) or self.dlq_suffix is not None

    def is_dead_letter_queue(self, name: str) -> bool:
        """Prefix checks: whether a matched queue is a DLQ (its name, before .fifo, ends with dlq_suffix)."""
        return self.dlq_suffix is not None and name.removesuffix(".fifo").endswith(self.dlq_suffix)

    def watched_queues(self) -> list[str]:
        """QueueName dimension values of the watched queues (none for a prefix: only the checker knows)."""
        if self.queue_prefix is not None:
            return []
        return [queue_name(ref) for ref in (self.queues or [self.queue or ""])]

    def dead_letter_queues(self) -> list[str]:
        refs = self.dlqs or ([self.dlq] if self.dlq else [])
        return [queue_name(ref) for ref in refs]

    def queues_for(self, signal: str) -> list[str]:
        return self.dead_letter_queues() if signal in DLQ_SIGNALS else self.watched_queues()

    def alarm_metric_count(self, signal: str) -> int:
        """Metrics the signal's alarm reads (CloudWatch prices an alarm per metric it reads)."""
        if self.queue_prefix is not None:
            return 1  # the checker's rollup
        per_queue = len(DRAIN_TIME_METRICS) if signal == "drain_time" else 1
        return per_queue * len(self.queues_for(signal))

    def unalarmed_metrics(self) -> list[str]:
        """Metrics the checker writes beside its alarms' (plan counts them): a prefix check's Queues."""
        return [QUEUES_METRIC] if self.queue_prefix is not None else []

    def active_signals(self) -> list[str]:
        # `measure` is among the signals of prefix checks only: the one kind of sqs check that runs a checker.
        return [
            s
            for s in self.signals
            if (s not in self.opt_in or s in self.alarms) and (s not in DLQ_SIGNALS or self.has_dead_letter_queues())
        ]
