"""Kind `amazonmq`: native CloudWatch alarms on an Amazon MQ for RabbitMQ broker; no Lambda runs.

AWS/AmazonMQ publishes, every minute: broker metrics (dimension Broker, the broker's NAME), node
metrics (Broker and Node; node names such as rabbit@ip-10-0-0-230.eu-west-1.compute.internal are
not known before the broker exists, so memory and disk read them through a Metrics Insights query
on the broker) and queue metrics (Broker, VirtualHost, Queue).

An alarm's data request may hold only ONE Metrics Insights query (GetMetricData: "each
GetMetricData operation can include only one query"), so memory and disk cannot divide a node's
usage by its limit: each compares one node metric, in GiB, with a threshold in GiB. RabbitMQMemLimit
depends on the instance type, so `memory` is off until the catalog gives `alarms.memory.threshold`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from vigil.spec.common import AlarmRule, CheckBase, Comparison, MissingData, Signal, StrictModel, worded

# PutMetricAlarm reads at most 10 metrics per alarm; queue_no_consumers reads 2 per queue.
MAX_QUEUES = 5
QUEUE_SIGNALS = frozenset({"queue_backlog", "queue_no_consumers"})
# Active only when the catalog sets alarms.<signal>.threshold: no default fits every instance type.
THRESHOLD_REQUIRED = frozenset({"memory"})
# A Metrics Insights alarm is priced per metric the query reads: one per node, 3 in a cluster broker
# (a single-instance broker has 1; the check cannot tell which, so plans count the larger).
NODES_PRICED = 3


def _rule(
    threshold: float, comparison: Comparison, periods: int, missing: MissingData = MissingData.not_breaching
) -> AlarmRule:
    return AlarmRule.sustained(threshold, comparison, periods, missing)


class RabbitQueue(StrictModel):
    """One queue on the broker, by virtual host and name."""

    name: str = Field(min_length=1, max_length=255, description="queue name")
    vhost: str = Field(default="/", min_length=1, max_length=255, description="virtual host (default /)")


class AmazonMqCheck(CheckBase):
    """Backlog, consumers, memory and disk of a RabbitMQ broker, and optionally of listed queues."""

    signals: ClassVar = {
        s.name: s
        for s in (
            Signal(
                "backlog",
                "MessageCount",
                "messages",
                "messages on the broker (ready and unacked)",
                _rule(10000, Comparison.gt, 3),
            ),
            Signal(
                "no_consumers",
                "MessageCount/ConsumerCount",
                "",
                "messages wait on the broker and no consumer is connected",
                _rule(1, Comparison.ge, 3),
            ),
            # A broker that stops publishing metrics is down or being replaced: that is a fault here.
            # The threshold 0 is never used: memory is active only with a catalog threshold.
            Signal(
                "memory",
                "RabbitMQMemUsed",
                "GiB",
                "memory used by the busiest node; RabbitMQ blocks every publisher at RabbitMQMemLimit",
                _rule(0, Comparison.gt, 3, MissingData.breaching),
            ),
            Signal(
                "disk",
                "RabbitMQDiskFree",
                "GiB",
                "free disk of the fullest node; RabbitMQ blocks every publisher at RabbitMQDiskFreeLimit",
                _rule(5, Comparison.lt, 3, MissingData.breaching),
            ),
            Signal(
                "queue_backlog",
                "MessageCount",
                "messages",
                "messages in the fullest listed queue",
                _rule(1000, Comparison.gt, 3),
            ),
            Signal(
                "queue_no_consumers",
                "MessageCount/ConsumerCount",
                "",
                "a listed queue holds messages and has no consumer",
                _rule(1, Comparison.ge, 3),
            ),
        )
    }
    fixed_statistic: ClassVar[frozenset[str]] = frozenset({"no_consumers", "memory", "disk", "queue_no_consumers"})
    has_checker: ClassVar[bool] = False

    kind: Literal["amazonmq"]
    broker: str = Field(
        pattern=worded(r"^[A-Za-z0-9_-]{1,50}$", "a broker name: 1 to 50 letters, digits, - and _"),
        description="the broker's name (CloudWatch's Broker dimension), not its id",
    )
    queues: list[RabbitQueue] = Field(
        default_factory=list,
        max_length=MAX_QUEUES,
        description="queues to watch one by one (queue_backlog, queue_no_consumers); the worst of them alarms",
    )

    @model_validator(mode="after")
    def _signals_apply(self) -> AmazonMqCheck:
        for signal in sorted(QUEUE_SIGNALS & set(self.alarms)):
            if not self.queues:
                raise ValueError(f"alarms.{signal}: the check lists no queues; add queues")
        for signal in sorted(THRESHOLD_REQUIRED & set(self.alarms)):
            if self.alarms[signal].threshold is None:
                raise ValueError(
                    f"alarms.{signal}: give a threshold in GiB (the signal is off without one); "
                    "take about 80% of the broker's RabbitMQMemLimit"
                )
        for signal in sorted(self.fixed_statistic & set(self.alarms)):
            if self.alarms[signal].statistic is not None:
                raise ValueError(f"alarms.{signal}: statistic is fixed for a computed signal; remove it")
        keys = [(q.vhost, q.name) for q in self.queues]
        if len(set(keys)) != len(keys):
            raise ValueError("queues: a queue is listed twice")
        return self

    def alarm_metric_count(self, signal: str) -> int:
        """Metrics the signal's alarm reads (CloudWatch prices an alarm per metric it reads)."""
        per_alarm = {"backlog": 1, "no_consumers": 2, "memory": NODES_PRICED, "disk": NODES_PRICED}
        per_queue = {"queue_backlog": 1, "queue_no_consumers": 2}
        return per_alarm.get(signal) or per_queue[signal] * len(self.queues)

    def active_signals(self) -> list[str]:
        return [
            s
            for s in self.signals
            if (s not in QUEUE_SIGNALS or self.queues)
            and (s not in THRESHOLD_REQUIRED or (s in self.alarms and self.alarms[s].threshold is not None))
        ]
