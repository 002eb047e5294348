"""Kind `rabbitmq`: queues and broker health read from the RabbitMQ management HTTP API.

Queue signals roll up into one check-level series per signal on the Check dimension (the worst
queue's value, or a count): the queues `pattern` selects (every queue, when neither `pattern` nor
`queues` is given), and each listed queue without an override of its own for that signal. So a
pattern matching thousands of queues, or a list of fifty, costs one alarm per signal; the checker
computes the worst itself (no metric math), and the run's samples name the worst queue per signal.

A listed queue WITH an override for a signal keeps its own alarm for it, on a metric with the
dimensions Check and Queue, named `<signal>@<queue>` (vigil-<env>-<check>-backlog@orders); its
rule is the check's rule for that signal with the queue's override on top.

A listed queue that is gone (deleted, renamed, or declared in another vhost) has no figures:
its own alarms hold their state (missing data `ignore`) and the worst-of series leave it out.
`queue_missing` is what pages for it, counting the listed queues not found, plus 1 when `pattern`
selects no queue at all (its rollup would otherwise report zeros, which look healthy).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, GetJsonSchemaHandler, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue

from vigil.spec.common import (
    MEASURE_SIGNAL,
    AlarmRule,
    AlarmRuleOverride,
    BaseUrl,
    CheckBase,
    Comparison,
    MissingData,
    Signal,
    Slug,
    StrictModel,
    VpcPlacement,
    _first_error,
    checker_signals,
    worded,
)

# Listed queues become a CloudWatch dimension value and part of an alarm name: a safe subset of
# what RabbitMQ allows. Queues with other names can still be selected by `pattern`.
QUEUE_NAME_PATTERN = worded(
    r"^[A-Za-z0-9_.:-]{1,100}$",
    "a queue name of 1 to 100 letters, digits and _ . : - (select queues with other names by pattern)",
)
QueueName = Annotated[str, Field(pattern=QUEUE_NAME_PATTERN)]
# The second dimension of per-queue series, next to Check.
QUEUE_DIMENSION = "Queue"
# Separates a queue signal from the queue in per-queue signal (and alarm) names.
QUEUE_SEPARATOR = "@"
MAX_LISTED_QUEUES = 50

# The broker is down (or not answering as a management API): one page for the whole broker.
UNREACHABLE = "unreachable"
RESOURCE_ALARM = "resource_alarm"
BACKLOG = "backlog"
NO_CONSUMERS = "no_consumers"
GROWTH = "growth"
UNACKED = "unacked"
QUEUE_MISSING = "queue_missing"
QUEUE_SIGNALS = (BACKLOG, NO_CONSUMERS, GROWTH, UNACKED)


def _rule(threshold: float, comparison: Comparison, m: int, n: int, missing: MissingData) -> AlarmRule:
    return AlarmRule.sustained(threshold, comparison, n, missing, datapoints=m)


# Queue and resource signals have no data while the broker is unreachable; `ignore` keeps their
# state through the outage (already paged once by `unreachable`) instead of flapping to OK.
_HOLD = MissingData.ignore


class QueueSignals(dict[str, Signal]):
    """The kind's signals; `backlog@orders` looks up as `backlog`, so per-queue alarms need no new signal."""

    def __missing__(self, key: str) -> Signal:
        base, sep, queue = key.partition(QUEUE_SEPARATOR)
        if sep and queue and base in QUEUE_SIGNALS:
            return self[base]
        raise KeyError(key)


def queue_signal(signal: str, queue: str) -> str:
    return f"{signal}{QUEUE_SEPARATOR}{queue}"


def split_signal(name: str) -> tuple[str, str | None]:
    """`backlog@orders` → ("backlog", "orders"); a check-level signal → (name, None)."""
    base, sep, queue = name.partition(QUEUE_SEPARATOR)
    return (base, queue) if sep else (name, None)


class QueueSpec(StrictModel):
    """A queue watched by name; an override of a signal gives it its own alarm for that signal."""

    name: QueueName
    alarms: dict[str, AlarmRuleOverride] = Field(
        default_factory=dict,
        description=(f"overrides of the check's rules for this queue, each its own alarm: {', '.join(QUEUE_SIGNALS)}"),
    )


def _queue_entry(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


class _NameOrQueueSpec:
    """JSON Schema of a queue entry: what the catalog accepts (a plain name too), not only the stored form."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {
            "anyOf": [{"type": "string", "pattern": QUEUE_NAME_PATTERN}, handler(core_schema)],
            "description": "a queue name, or {name, alarms} with per-queue rule overrides",
        }


QueueEntry = Annotated[QueueSpec, BeforeValidator(_queue_entry), _NameOrQueueSpec()]


class RabbitmqCheck(CheckBase):
    """Queues (depth, consumers, rates, unacked share) and broker health from the management API."""

    signals: ClassVar = QueueSignals(
        checker_signals(
            Signal(
                name=UNREACHABLE,
                metric="Unreachable",
                unit="",
                summary="broker management API unreachable (refused, timeout, DNS, TLS or a 5xx answer)",
                default=_rule(1, Comparison.ge, 2, 2, MissingData.not_breaching),
                period_follows_cadence=True,
            ),
            Signal(
                name=RESOURCE_ALARM,
                metric="ResourceAlarm",
                unit="",
                summary="a memory or disk alarm is raised, or a cluster node is not running (publishers block)",
                default=_rule(1, Comparison.ge, 2, 2, _HOLD),
                period_follows_cadence=True,
            ),
            Signal(
                name=QUEUE_MISSING,
                metric="QueuesMissing",
                unit="queues",
                summary=(
                    "listed queues not found on the broker, plus 1 when the pattern selects no queue "
                    "(the reason names them)"
                ),
                # Three runs in a row: a deploy that deletes and re-declares a queue is not a page.
                default=_rule(0, Comparison.gt, 3, 3, _HOLD),
                period_follows_cadence=True,
            ),
            Signal(
                name=BACKLOG,
                metric="Backlog",
                unit="messages",
                summary="messages ready for delivery (the worst queue when rolled up)",
                default=_rule(1000, Comparison.gt, 3, 3, _HOLD),
                period_follows_cadence=True,
            ),
            Signal(
                name=NO_CONSUMERS,
                metric="NoConsumers",
                unit="queues",
                summary="queues with messages waiting and no consumer",
                default=_rule(0, Comparison.gt, 2, 2, _HOLD),
                period_follows_cadence=True,
            ),
            Signal(
                name=GROWTH,
                metric="GrowthRate",
                unit="messages/s",
                summary="publish rate above consume rate: the backlog grows (the worst queue when rolled up)",
                default=_rule(0, Comparison.gt, 5, 5, _HOLD),
                period_follows_cadence=True,
            ),
            Signal(
                name=UNACKED,
                metric="UnackedPercent",
                unit="%",
                summary="share of the queue's messages delivered but not acknowledged (the worst queue when rolled up)",
                default=_rule(80, Comparison.gt, 5, 5, _HOLD),
                period_follows_cadence=True,
            ),
        )
    )

    # A broker outage holds back the pages of the queue and resource alarms (infra/alarms.py).
    inhibitor_signal: ClassVar[str | None] = UNREACHABLE

    kind: Literal["rabbitmq"]
    url: BaseUrl = Field(
        max_length=2000,
        description="management API base URL, such as http://rabbit.internal:15672 (the /api paths are added)",
    )
    credentials_secret: Slug = Field(
        description='name of a secret (see settings secrets) holding {"username": ..., "password": ...}'
    )
    vhost: str | None = Field(
        default=None, min_length=1, max_length=255, description="only queues of this vhost; omitted: every vhost"
    )
    queues: list[QueueEntry] = Field(
        default_factory=list,
        max_length=MAX_LISTED_QUEUES,
        description=(
            "queues watched by name, in vhost (or / when vhost is omitted): each signal's worst queue is "
            "one check-level series; a queue's own override of a signal gives it its own alarm"
        ),
    )
    pattern: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="regular expression (searched, not anchored) selecting queues that roll up into check-level metrics",
    )
    timeout: float = Field(default=10.0, gt=0, le=60, description="seconds for the whole measurement")
    vpc: VpcPlacement | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _rabbitmq_sane(self) -> RabbitmqCheck:
        seen: set[str] = set()
        for queue in self.queues:
            if queue.name in seen:
                raise ValueError(f"queues: {queue.name} is listed twice")
            seen.add(queue.name)
            unknown = sorted(set(queue.alarms) - set(QUEUE_SIGNALS))
            if unknown:
                raise ValueError(
                    f"queues: {queue.name}: alarms: unknown signal {', '.join(unknown)}; "
                    f"per-queue signals: {', '.join(QUEUE_SIGNALS)}"
                )
            for signal in QUEUE_SIGNALS:
                try:
                    self.rule(queue_signal(signal, queue.name))
                except ValueError as exc:
                    raise ValueError(f"queues: {queue.name}: {exc}") from None
        return self

    def listed_queue(self, name: str) -> QueueSpec:
        return next(q for q in self.queues if q.name == name)

    @property
    def queue_vhost(self) -> str:
        """The vhost of the listed queues."""
        return self.vhost or "/"

    @property
    def rolls_up(self) -> bool:
        """Whether queues beyond the listed ones are selected (by pattern, or all of them)."""
        return self.pattern is not None or not self.queues

    @property
    def expects_queues(self) -> bool:
        """Whether some queue must exist: queues are listed, or a pattern must match (`queue_missing`)."""
        return bool(self.queues) or self.pattern is not None

    def rule(self, signal: str) -> AlarmRule:
        base, queue = split_signal(signal)
        rule = super().rule(base)
        if queue is None:
            return rule
        override = self.listed_queue(queue).alarms.get(base)
        if override is None:
            return rule
        try:
            return AlarmRule.model_validate({**rule.model_dump(), **override.model_dump(exclude_none=True)})
        except ValueError as exc:
            raise ValueError(f"alarms.{base}: {_first_error(exc)}") from None

    def alarm_dimensions(self, signal: str) -> dict[str, str]:
        """A listed queue's signal (`backlog@orders`) watches that queue's own series."""
        queue = split_signal(signal)[1]
        return super().alarm_dimensions(signal) | ({QUEUE_DIMENSION: queue} if queue is not None else {})

    def own_alarm(self, queue: QueueSpec, signal: str) -> bool:
        """Whether a listed queue has its own alarm for a queue signal: only with its own override."""
        return signal in queue.alarms

    def pooled_queues(self, signal: str) -> list[str]:
        """Listed queues whose value for a queue signal goes into the check-level worst-of series."""
        return [q.name for q in self.queues if not self.own_alarm(q, signal)]

    def check_level_queue_signals(self) -> list[str]:
        """Queue signals with a check-level series: a rollup, or a listed queue without its own alarm."""
        return [s for s in QUEUE_SIGNALS if self.rolls_up or self.pooled_queues(s)]

    def active_signals(self) -> list[str]:
        listed = [queue_signal(s, q.name) for q in self.queues for s in QUEUE_SIGNALS if self.own_alarm(q, s)]
        missing = [QUEUE_MISSING] if self.expects_queues else []
        return [UNREACHABLE, RESOURCE_ALARM, *missing, *self.check_level_queue_signals(), *listed, MEASURE_SIGNAL.name]
