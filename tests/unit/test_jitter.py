"""infra.jitter: each check fires at its own minute of its cadence, the same on every deploy."""

from __future__ import annotations

from collections import Counter

from infra.jitter import offset_minutes, schedule_expression


def test_offset_is_stable_and_within_the_cadence():
    assert offset_minutes("orders-queue", 5) == offset_minutes("orders-queue", 5)
    assert all(0 <= offset_minutes(f"check-{i}", 15) < 15 for i in range(200))


def test_offsets_spread_checks_over_the_cadence():
    counts = Counter(offset_minutes(f"check-{i}", 5) for i in range(1_000))
    assert set(counts) == set(range(5))
    assert max(counts.values()) < 1.25 * 1_000 / 5  # no minute gets a quarter more than its share


def test_expressions():
    minute = offset_minutes("api-deep-health", 5)
    assert schedule_expression("api-deep-health", 300) == f"cron({minute}/5 * * * ? *)"
    assert schedule_expression("nightly", 3600) == f"cron({offset_minutes('nightly', 60)} * * * ? *)"
    # Scheduler's precision is a minute: a 1-minute check has no minute to choose.
    assert schedule_expression("api-health", 60) == "rate(1 minute)"
    # 7 does not divide the hour: a cron would skip at the top of each hour.
    assert schedule_expression("odd", 420) == "rate(7 minutes)"


def test_a_run_that_starts_at_its_offset_ends_inside_its_alarm_period() -> None:
    """Fired within its minute, a run with the check's whole timeout still ends before the period does."""
    for cadence_min in (2, 5, 10, 15, 30, 60):
        for timeout_s in (5, 30, 60, 90, 200):
            if timeout_s >= cadence_min * 60 - 60:
                continue
            for i in range(200):
                expression = schedule_expression(f"check-{i}", cadence_min * 60, timeout_s)
                minute = int(expression.removeprefix("cron(").split()[0].split("/")[0])
                assert minute + 1 + timeout_s / 60 <= cadence_min, (expression, timeout_s)


def test_offsets_still_spread_when_the_timeout_leaves_room() -> None:
    minutes = {schedule_expression(f"check-{i}", 900, 10).split()[0] for i in range(500)}
    assert len(minutes) == 14  # minutes 0..13 of a 15-minute period: 13 + 1 + 10 s ends by 14:10
