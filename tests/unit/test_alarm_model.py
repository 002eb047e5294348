"""The local alarm model against the CloudWatch User Guide's tables and rules.

Source: Amazon CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data" →
"How alarm state is evaluated when data is missing" (two tables, evaluation range 5, N = 3) and
"Avoiding premature transitions to alarm state". Data points are written as in the guide, oldest
first: 0 non-breaching, X breaching, - missing.
"""

from __future__ import annotations

import pytest

from infra.alarm_model import (
    AlarmState,
    aggregate,
    evaluate,
    evaluate_range,
    periods_to_alarm,
    periods_to_alarm_when_silent,
)
from vigil.spec.common import AlarmRule, Comparison, MissingData, Statistic

OK, ALARM, INSUFFICIENT = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA
RETAIN = "retain"  # the guide's "Retain current state"
TREATMENTS = (MissingData.missing, MissingData.ignore, MissingData.breaching, MissingData.not_breaching)


def rule(m: int, n: int = 3, missing: MissingData = MissingData.missing, comparison: Comparison = Comparison.gt):
    return AlarmRule(
        threshold=1, comparison=comparison, evaluation_periods=n, datapoints_to_alarm=m, missing_data=missing
    )


def points(text: str) -> list[float | None]:
    return [{"0": 0.0, "X": 2.0, "-": None}[c] for c in text.split()]


# Columns: data points, # missing, then MISSING, IGNORE, BREACHING, NOT BREACHING.
TABLE_3_OF_3 = [
    ("0 - X - X", 2, OK, OK, OK, OK),
    ("0 - - - -", 4, OK, OK, OK, OK),
    ("- - - - -", 5, INSUFFICIENT, RETAIN, ALARM, OK),
    ("0 X X - X", 1, ALARM, ALARM, ALARM, ALARM),
    ("- - - - X", 4, INSUFFICIENT, RETAIN, ALARM, OK),
    ("X - - - -", 4, ALARM, RETAIN, ALARM, OK),
    # "Avoiding premature transitions to alarm state": - - X - - alarms even when missing is missing.
    ("- - X - -", 4, ALARM, RETAIN, ALARM, OK),
]
TABLE_2_OF_3 = [
    ("0 - X - X", 2, ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", 0, ALARM, ALARM, ALARM, ALARM),
    ("0 - X - -", 3, OK, OK, ALARM, OK),
    ("- - - - 0", 4, OK, OK, ALARM, OK),
    ("- - - - X", 4, INSUFFICIENT, RETAIN, ALARM, OK),
]


def _cases(m: int, table: list[tuple]) -> list:
    cases = []
    for data, n_missing, *states in table:
        for treatment, expected in zip(TREATMENTS, states, strict=True):
            cases.append(pytest.param(m, data, n_missing, treatment, expected, id=f"{m}of3 {data} {treatment}"))
    return cases


@pytest.mark.parametrize(
    ("m", "data", "n_missing", "treatment", "expected"), _cases(3, TABLE_3_OF_3) + _cases(2, TABLE_2_OF_3)
)
def test_guide_missing_data_tables(m, data, n_missing, treatment, expected):
    window = points(data)
    assert window.count(None) == n_missing
    for current in (OK, ALARM, INSUFFICIENT):
        want = current if expected == RETAIN else expected
        assert evaluate_range(rule(m, missing=treatment), window, current) is want, f"from {current}"


def test_premature_transition_waits_for_an_old_enough_breach():
    # The guide: with M = 3, "- - - - X" and "- - - X -" do not alarm yet; "- - X - -" does.
    r = rule(3)
    assert evaluate_range(r, points("- - - - X"), OK) is INSUFFICIENT
    assert evaluate_range(r, points("- - - X -"), OK) is INSUFFICIENT
    assert evaluate_range(r, points("- - X - -"), OK) is ALARM
    # ...and the false positive it avoids: the next point is good.
    assert evaluate_range(r, points("- - - X 0"), OK) is OK


def test_all_missing_keeps_state_with_ignore_over_time():
    states = evaluate(rule(1, 1, MissingData.ignore), [5, None, None, None], INSUFFICIENT)
    assert states == [ALARM, ALARM, ALARM, ALARM]


def test_missing_looks_back_beyond_n_then_goes_insufficient():
    # N = 1, range 3: a lone real point keeps deciding for two more periods, then data runs out.
    states = evaluate(rule(1, 1, MissingData.missing), [5, None, None, None, 0])
    assert states == [ALARM, ALARM, ALARM, INSUFFICIENT, OK]


def test_breaching_fills_only_when_too_few_real_points():
    # 3 of 3, breaching, range 5: a silent source stays OK while a good point is left in the range
    # (the guide's "0 - - - -" row), and alarms once the whole range is missing.
    states = evaluate(rule(3, missing=MissingData.breaching), [0, 0, 0, None, None, None, None, None])
    assert states == [OK, OK, OK, OK, OK, OK, OK, ALARM]


@pytest.mark.parametrize(
    ("series", "expected_last"),
    [
        ("X X 0 0 0", OK),  # 2 of 3 breaching long ago: out of the window
        ("0 X 0 X 0", OK),  # last 3: 0 X 0 → 1 breach
        ("0 0 X 0 X", ALARM),  # last 3: X 0 X → 2 of 3
        ("0 0 0 X X", ALARM),
        ("X 0 X 0 0", OK),
    ],
)
def test_m_of_n(series, expected_last):
    assert evaluate(rule(2, 3, MissingData.not_breaching), points(series))[-1] is expected_last


def test_m_of_n_over_time_matches_the_guide_figure():
    # "Evaluating an alarm": 3 of 3, threshold 3; ALARM from the 5th period, OK at the 6th,
    # a single breach at the 9th stays OK.
    r = AlarmRule(
        threshold=3, comparison=Comparison.gt, evaluation_periods=3, datapoints_to_alarm=3, missing_data="missing"
    )
    values = [1, 2, 4, 5, 4, 2, 1, 2, 4, 1]
    states = evaluate(r, values)
    assert states[2:] == [OK, OK, ALARM, OK, OK, OK, OK, OK]


@pytest.mark.parametrize(
    ("comparison", "value", "breaches"),
    [
        (Comparison.gt, 10, False),
        (Comparison.gt, 10.5, True),
        (Comparison.ge, 10, True),
        (Comparison.ge, 9.9, False),
        (Comparison.lt, 10, False),
        (Comparison.lt, 9.9, True),
        (Comparison.le, 10, True),
        (Comparison.le, 10.1, False),
    ],
)
def test_each_comparison_operator(comparison, value, breaches):
    r = AlarmRule(
        threshold=10, comparison=comparison, evaluation_periods=1, datapoints_to_alarm=1, missing_data="missing"
    )
    assert evaluate(r, [value]) == [ALARM if breaches else OK]


def test_initial_state_is_kept_until_data_decides():
    assert evaluate(rule(1, 1, MissingData.ignore), [None, None], initial=OK) == [OK, OK]
    assert evaluate(rule(1, 1, MissingData.missing), [None], initial=OK) == [INSUFFICIENT]


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [
        (Statistic.maximum, 9.0),
        (Statistic.minimum, 1.0),
        (Statistic.sum, 15.0),
        (Statistic.average, 5.0),
        (Statistic.sample_count, 3.0),
    ],
)
def test_aggregate(statistic, expected):
    assert aggregate(statistic, [1.0, 5.0, 9.0]) == expected
    assert aggregate(statistic, []) is None


def test_periods_to_alarm():
    assert periods_to_alarm(rule(3, 3)) == 3
    assert periods_to_alarm(rule(2, 3)) == 2
    assert periods_to_alarm(rule(1, 1)) == 1


def test_periods_to_alarm_when_silent():
    # breaching with M = N: every good point must leave the range (N + 2) before the fill can alarm.
    assert periods_to_alarm_when_silent(rule(3, 3, MissingData.breaching)) == 5
    assert periods_to_alarm_when_silent(rule(2, 2, MissingData.breaching)) == 4
    assert periods_to_alarm_when_silent(rule(1, 3, MissingData.breaching)) == 3
    assert periods_to_alarm_when_silent(rule(3, 3, MissingData.not_breaching)) is None
    assert periods_to_alarm_when_silent(rule(3, 3, MissingData.missing)) is None
