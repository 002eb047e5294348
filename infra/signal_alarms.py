"""A check's alarms as data, and how one measurement fares against them.

The stack and `python -m infra run` (and the demo) must not disagree about a check: which signals
get an alarm (`active_signals`: an SQS check without a DLQ has no dlq alarm, a RabbitMQ listed
queue has one per signal it overrides), which series each alarm watches (metric and dimensions, the
queue's own series for `backlog@orders`), and its rule. `checker_alarms` is that list for checker
kinds: infra.checks builds one CloudWatch alarm per entry from it, and `run` reads each entry's
datapoint from what the checker wrote and judges it with `state_if_it_persists`, which asks
CloudWatch's evaluation (infra.alarm_model, tested against the user guide's tables) where the
alarm ends if this datapoint were the value of every period it evaluates: missing data included
(no datapoint this run is `missing_data` at work, as on AWS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from infra.alarm_model import AlarmState, Datapoint, aggregate, evaluate
from vigil.result import METRIC_NAMESPACE
from vigil.spec.common import AlarmRule, CheckBase

# A series as CloudWatch tells them apart: metric name and its full set of dimensions.
Series = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class SignalAlarm:
    """One alarm of a checker kind's check: the signal, the Vigil series it watches, its rule."""

    signal: str
    metric: str
    dimensions: Mapping[str, str]
    rule: AlarmRule
    unit: str
    namespace: str = METRIC_NAMESPACE

    @property
    def series(self) -> Series:
        return self.metric, frozenset(self.dimensions.items())

    def datapoint(self, written: Mapping[Series, Sequence[float]]) -> Datapoint:
        """This period's datapoint from the values a run wrote (the rule's statistic; none: missing)."""
        return aggregate(self.rule.statistic, written.get(self.series, []))


def checker_alarms(check: CheckBase) -> list[SignalAlarm]:
    """Every alarm the stack builds for a checker kind's check, in order."""
    return [
        SignalAlarm(
            signal=signal,
            metric=check.signals[signal].metric,
            dimensions=check.alarm_dimensions(signal),
            rule=check.rule(signal),
            unit=check.signals[signal].unit,
        )
        for signal in check.active_signals()
    ]


def state_if_it_persists(rule: AlarmRule, value: Datapoint) -> AlarmState:
    """Where the alarm ends, from OK, once `value` has been every period's datapoint it evaluates."""
    return evaluate(rule, [value] * rule.evaluation_periods, AlarmState.OK)[-1]
