"""A local model of how CloudWatch evaluates a metric alarm, for `plan`, `test-alarms` and the demo.

It evaluates the very `vigil.spec.common.AlarmRule` objects the CDK alarms are built from, and follows
the Amazon CloudWatch User Guide, "Using Amazon CloudWatch alarms":

- "Evaluating an alarm": Period, Evaluation Periods (N) and Datapoints to Alarm (M). The alarm goes
  to ALARM when at least M of the N data points evaluated are breaching; they need not be
  consecutive ("M out of N").
- "Configuring how CloudWatch alarms treat missing data" / "How alarm state is evaluated when data
  is missing": CloudWatch retrieves MORE data points than N (the *evaluation range*) and then
    * no data point in the range missing: evaluate the N most recent data points;
    * some missing but at least N real data points in the range: evaluate the N most recent REAL
      data points, reaching further back; the missing-data setting is not used;
    * fewer than N real data points: fill the gap with the missing-data setting, "as few times as
      possible", keeping every real data point of the range, "no matter when they were reported";
    * every data point of the range missing: breaching → ALARM, notBreaching → OK,
      ignore → keep the current state, missing → INSUFFICIENT_DATA.
- "Avoiding premature transitions to alarm state": with `missing` (and `ignore`) an alarm still goes
  to ALARM when the oldest breaching data point is at least M periods old and every other data point
  is breaching or missing ("- - X - -" with M = 3), but not while it is younger ("- - - X -"), so that
  a single fresh breach cannot fire before the next data point arrives.

The guide's tables (reproduced in tests/unit/test_alarm_model.py) pin down what the prose leaves
open, and this model matches every row:
- with `missing`/`ignore` and fewer than N real data points, no filling is done; ALARM if at least
  M real points breach; otherwise OK if any real point is non-breaching ("0 - - - -" → OK with
  M = 3, "- - - - 0" → OK with M = 2); otherwise (only a few, recent, breaching points) the
  premature rule above decides, else INSUFFICIENT_DATA for `missing` / current state for `ignore`
  ("- - - - X" → Insufficient data / Retain current state);
- the premature rule needs no non-breaching point anywhere in the range: "0 - X - -" (M = 2) is OK
  with `missing`, although its breaching point is old enough.
- `ignore` retains the current state in the premature case ("X - - - -": ALARM with `missing`,
  "Retain current state" with `ignore`).

Anomaly detection bands: CloudWatch learns the band from the metric's history, which no local model
can reproduce. A band rule is evaluated against a band the caller states (`band=(lower, upper)`, the
same for every period: an alarm unit test says which band it assumes); without one, evaluating it
is refused (`BandNeeded`). M of N and missing data work exactly as for a threshold.

Not modelled: the guide says the evaluation range "depends on the length of the alarm period and
whether it is based on a metric with standard resolution or high resolution" and gives only the
example N = 3 → 5 data points. We assume N + 2 by default (`default_evaluation_range`); callers may
pass another. Alarms on AWS/DynamoDB metrics always ignore missing data, whatever the setting
(PutMetricAlarm's TreatMissingData); the dynamodb kind's rules say `ignore`, so this model evaluates
them as CloudWatch does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

from vigil.spec.common import AlarmRule, MissingData, Statistic

Datapoint = float | None  # None: no data point for that period
Band = tuple[float, float]  # (lower, upper) of an anomaly detection band


class BandNeeded(ValueError):
    """A band rule cannot be evaluated without the band CloudWatch would have learnt."""


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


# How many more periods than N CloudWatch retrieves; the guide's only example is N = 3 → 5.
EXTRA_PERIODS = 2


def default_evaluation_range(rule: AlarmRule) -> int:
    return rule.evaluation_periods + EXTRA_PERIODS


def aggregate(statistic: Statistic, samples: Sequence[float]) -> Datapoint:
    """One period's data point from the raw samples published in it; no samples → missing.

    Percentiles use the nearest rank: CloudWatch computes them from its own sample buckets, so a
    percentile of a few raw samples is an approximation of what it would report.
    """
    if not samples:
        return None
    if statistic.percentile is not None:
        ordered = sorted(samples)
        rank = max(1, math.ceil(statistic.percentile / 100 * len(ordered)))
        return ordered[rank - 1]
    match statistic:
        case Statistic.maximum:
            return max(samples)
        case Statistic.minimum:
            return min(samples)
        case Statistic.sum:
            return float(sum(samples))
        case Statistic.average:
            return sum(samples) / len(samples)
        case Statistic.sample_count:
            return float(len(samples))
    raise ValueError(f"unknown statistic {statistic!r}")


def breaches(rule: AlarmRule, value: float, band: Band | None = None) -> bool:
    """Whether one data point breaches: against the threshold, or against the stated band for a band rule."""
    if rule.band is None:
        return rule.comparison.breaches(value, rule.threshold)
    if band is None:
        raise BandNeeded(
            "this rule alarms on an anomaly detection band that CloudWatch learns from the metric's history; "
            "state the band to evaluate it against (lower, upper)"
        )
    lower, upper = band
    return rule.band.side.breaches(value, lower, upper)


def evaluate_range(
    rule: AlarmRule, window: Sequence[Datapoint], current: AlarmState, band: Band | None = None
) -> AlarmState:
    """The state after one evaluation of `window`: the evaluation range, oldest first, newest last."""
    n, m = rule.evaluation_periods, rule.datapoints_to_alarm
    flags = [None if v is None else breaches(rule, v, band) for v in window]
    real = [f for f in flags if f is not None]

    if not real:
        return {
            MissingData.breaching: AlarmState.ALARM,
            MissingData.not_breaching: AlarmState.OK,
            MissingData.ignore: current,
            MissingData.missing: AlarmState.INSUFFICIENT_DATA,
        }[rule.missing_data]

    if len(real) >= n:
        # Enough real data: the N most recent real points decide and the missing-data setting is unused.
        return AlarmState.ALARM if sum(real[-n:]) >= m else AlarmState.OK

    breaching = sum(real)
    if rule.missing_data in (MissingData.breaching, MissingData.not_breaching):
        filled = n - len(real)
        if rule.missing_data is MissingData.breaching:
            breaching += filled
        return AlarmState.ALARM if breaching >= m else AlarmState.OK

    # missing / ignore: only real points count, and nothing is filled in.
    if breaching >= m:
        return AlarmState.ALARM
    if all(real):
        oldest_breach_age = len(flags) - flags.index(True)  # the newest point has age 1
        if oldest_breach_age >= m:
            return AlarmState.ALARM if rule.missing_data is MissingData.missing else current
        return AlarmState.INSUFFICIENT_DATA if rule.missing_data is MissingData.missing else current
    return AlarmState.OK


def evaluate(
    rule: AlarmRule,
    datapoints: Sequence[Datapoint],
    initial: AlarmState = AlarmState.INSUFFICIENT_DATA,
    evaluation_range: int | None = None,
    band: Band | None = None,
) -> list[AlarmState]:
    """The alarm's state after each period's data point, one state per element of `datapoints`.

    datapoints[i] is the aggregated value of period i (None: missing). The evaluation after period i
    sees the evaluation range ending at i; periods before the series started count as missing.
    `band` is the anomaly detection band a band rule is evaluated against (see BandNeeded).
    """
    size = evaluation_range or default_evaluation_range(rule)
    if size < rule.evaluation_periods:
        raise ValueError(f"evaluation range {size} is shorter than evaluation_periods {rule.evaluation_periods}")
    states: list[AlarmState] = []
    state = initial
    for i in range(len(datapoints)):
        window = [None] * max(0, size - i - 1) + list(datapoints[max(0, i + 1 - size) : i + 1])
        state = evaluate_range(rule, window, state, band)
        states.append(state)
    return states


def periods_to_alarm(rule: AlarmRule, evaluation_range: int | None = None) -> int:
    """Periods of a persistent fault (every new data point breaching) until the alarm is in ALARM.

    Starts from a settled OK history, so that the answer is the worst case a real fault meets.
    """
    good, bad = _good_and_bad(rule)
    size = evaluation_range or default_evaluation_range(rule)
    history = [good] * size
    for extra in range(1, size + rule.evaluation_periods + 2):
        states = evaluate(rule, history + [bad] * extra, AlarmState.OK, size, NOMINAL_BAND)
        if states[-1] is AlarmState.ALARM:
            return extra
    raise AssertionError("a persistent fault must reach ALARM")  # pragma: no cover


def periods_to_alarm_when_silent(rule: AlarmRule, evaluation_range: int | None = None) -> int | None:
    """Periods after data stops (a silent checker) until ALARM; None when silence never alarms."""
    good, _ = _good_and_bad(rule)
    size = evaluation_range or default_evaluation_range(rule)
    history: list[Datapoint] = [good] * size
    for extra in range(1, size + rule.evaluation_periods + 2):
        states = evaluate(rule, history + [None] * extra, AlarmState.OK, size, NOMINAL_BAND)
        if states[-1] is AlarmState.ALARM:
            return extra
    return None


# Timing does not depend on where the band lies, only on M of N and missing data: simulated
# histories use this band, with values inside it as good and outside it as bad.
NOMINAL_BAND: Band = (0.0, 1.0)


def _good_and_bad(rule: AlarmRule) -> tuple[float, float]:
    """A value that breaches the rule and one that does not, for simulated histories."""
    if rule.band is not None:
        lower, upper = NOMINAL_BAND
        return (lower + upper) / 2, (lower - 1 if rule.band.side.value == "below" else upper + 1)
    step = max(1.0, abs(rule.threshold))
    if rule.comparison.value.startswith(">"):
        return rule.threshold - step, rule.threshold + step
    return rule.threshold + step, rule.threshold - step
