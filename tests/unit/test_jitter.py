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
