"""Kind `sqs`: native CloudWatch alarms on existing queues and their dead-letter queues; no Lambda runs.

One queue (`queue`, `dlq`) or a list (`queues`, `dlqs`): a list gets ONE alarm per signal on the
worst queue (metric math MAX over the queues), so a check's resource count does not grow with its
list. A name prefix is refused: CloudWatch cannot alarm on one without a Lambda (see _no_prefix).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from vigil.spec.common import AlarmRule, CheckBase, Comparison, MissingData, Signal

QUEUE_REF = r"^(arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:)?[A-Za-z0-9_-]{1,75}(\.fifo)?$"
QueueRef = Annotated[str, Field(pattern=QUEUE_REF)]

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


class SqsCheck(CheckBase):
    """Backlog, age, time to drain and dead letters of one queue or a list of queues."""

    signals: ClassVar = {
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
    # Added after checks were deployed: they alarm only when the check names them under `alarms`,
    # so upgrading vigil never starts paging anyone for a check nobody changed.
    opt_in: ClassVar[frozenset[str]] = frozenset({"drain_time", "dlq_age"})
    # A ratio of two statistics fixed by its meaning: an override could only make it wrong.
    fixed_statistic: ClassVar[frozenset[str]] = frozenset({"drain_time"})
    has_checker: ClassVar[bool] = False

    kind: Literal["sqs"]
    queue: str | None = Field(default=None, pattern=QUEUE_REF, description="one queue: name or ARN")
    queues: list[QueueRef] | None = Field(
        default=None,
        min_length=1,
        max_length=ALARM_METRICS_LIMIT,
        description="several queues (name or ARN), one alarm per signal on the worst of them",
    )
    dlq: str | None = Field(default=None, pattern=QUEUE_REF, description="dead-letter queue name or ARN")
    dlqs: list[QueueRef] | None = Field(
        default=None,
        min_length=1,
        max_length=ALARM_METRICS_LIMIT,
        description="several dead-letter queues (name or ARN), one alarm per signal on the worst of them",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_prefix(cls, data: Any) -> Any:
        # Metrics Insights' WHERE has only = and != (no LIKE), and SEARCH expressions cannot be
        # alarmed on: matching queue names by prefix would need a Lambda to list the queues.
        if isinstance(data, dict) and "queue_prefix" in data:
            raise ValueError(
                "queue_prefix: CloudWatch alarms cannot select queues by name prefix without a Lambda "
                f"(Metrics Insights filters only with = and !=); list them under queues (up to {ALARM_METRICS_LIMIT})"
            )
        return data

    @model_validator(mode="after")
    def _queues_given(self) -> SqsCheck:
        if (self.queue is None) == (self.queues is None):
            found = "both" if self.queue else "neither"
            raise ValueError(f"give one of queue (one queue) or queues (a list of up to 10); found {found}")
        if self.dlq is not None and self.dlqs is not None:
            raise ValueError("give one of dlq (one dead-letter queue) or dlqs (a list); found both")
        for signal in sorted(DLQ_SIGNALS & set(self.alarms)):
            if not self.dead_letter_queues():
                raise ValueError(f"alarms.{signal}: the check names no dead-letter queue; add dlq or dlqs")
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

    def watched_queues(self) -> list[str]:
        """QueueName dimension values of the watched queues."""
        return [queue_name(ref) for ref in (self.queues or [self.queue or ""])]

    def dead_letter_queues(self) -> list[str]:
        refs = self.dlqs or ([self.dlq] if self.dlq else [])
        return [queue_name(ref) for ref in refs]

    def queues_for(self, signal: str) -> list[str]:
        return self.dead_letter_queues() if signal in DLQ_SIGNALS else self.watched_queues()

    def alarm_metric_count(self, signal: str) -> int:
        """Metrics the signal's alarm reads (CloudWatch prices an alarm per metric it reads)."""
        per_queue = len(DRAIN_TIME_METRICS) if signal == "drain_time" else 1
        return per_queue * len(self.queues_for(signal))

    def active_signals(self) -> list[str]:
        return [
            s
            for s in self.signals
            if (s not in self.opt_in or s in self.alarms) and (s not in DLQ_SIGNALS or self.dead_letter_queues())
        ]
