"""Pure schedule evaluation: cron expressions, due times across daylight saving time, period and grace,
and the verdict a heartbeat's pings give at a moment ("did not start" apart from "failed")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vigil.heartbeat import cron
from vigil.heartbeat.state import Ping, Pings, Schedule, evaluate

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
MIN = timedelta(minutes=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- cron expressions ----------------------------------------------------------------------------------


def test_standard_fields():
    c = cron.parse("*/15 9-17/4 1,15 JAN-MAR *")
    assert c.minutes == (0, 15, 30, 45)
    assert c.hours == (9, 13, 17)
    assert c.days == {1, 15} and c.months == {1, 2, 3}


@pytest.mark.parametrize(
    ("expression", "sunday", "monday", "saturday"),
    [
        ("0 2 * * 0", True, False, False),
        ("0 2 * * 7", True, False, False),  # standard cron: 7 is Sunday too
        ("0 2 * * SUN", True, False, False),
        ("0 2 * * 1-5", False, True, False),
        ("cron(0 2 ? * 1 *)", True, False, False),  # AWS: 1 is Sunday
        ("0 2 ? * 2-6 *", False, True, False),  # AWS: MON-FRI
        ("0 2 ? * SAT *", False, False, True),
    ],
)
def test_day_of_week_numbering_of_both_forms(expression, sunday, monday, saturday):
    c = cron.parse(expression)
    # 2026-11-29 is a Sunday.
    assert (c.runs_on(date(2026, 11, 29)), c.runs_on(date(2026, 11, 30)), c.runs_on(date(2026, 11, 28))) == (
        sunday,
        monday,
        saturday,
    )


def test_both_day_fields_restricted_means_either_as_in_vixie_cron():
    c = cron.parse("0 2 13 * FRI")
    assert c.runs_on(date(2026, 11, 13))  # the 13th (a Friday)
    assert c.runs_on(date(2026, 11, 20))  # a Friday
    assert c.runs_on(date(2026, 12, 13))  # the 13th (a Sunday)
    assert not c.runs_on(date(2026, 11, 19))


def test_one_restricted_day_field_alone_decides():
    assert not cron.parse("0 2 */2 * *").runs_on(date(2026, 11, 2))  # "*/2" restricts by step only: odd days
    assert cron.parse("0 2 * * MON").runs_on(date(2026, 11, 30))


def test_aws_year_field():
    c = cron.parse("cron(0 2 1 JAN ? 2027-2028)")
    assert c.runs_on(date(2027, 1, 1)) and not c.runs_on(date(2026, 1, 1))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 2 L * *", "L, W and # "),
        ("0 2 15W * *", "L, W and # "),
        ("0 2 ? * MON#2 *", "L, W and # "),
        ("0 2 ? * 6L *", "L, W and # "),
        ("0 2 * *", "expected five fields"),
        ("cron(0 2 * * *)", "expected five fields"),
        ("0 2 * * * *", "day-of-month or day-of-week must be '?'"),
        ("0 2 ? * ? *", "cannot both be '?'"),
        ("0 2 ? * *", "'?' is allowed only in the day fields of the AWS form"),
        ("60 2 * * *", "minute '60': allowed 0-59"),
        ("0 24 * * *", "hour '24': allowed 0-23"),
        ("0 2 * 13 *", "allowed 1-12 or JAN-DEC"),
        ("0 2 * * 8", "allowed 0-7 or SUN-SAT"),
        ("0 2 ? * 0 *", "allowed 1-7 or SUN-SAT"),
        ("0 2 * * FRI-MON", "must not wrap"),
        ("0 2 30 FEB *", "never runs"),
        ("*/0 2 * * *", "at least 1"),
        ("0 2 * * MON;rm", "use *, a value"),
    ],
)
def test_what_is_refused_says_why(expression, message):
    with pytest.raises(ValueError, match=message.replace("?", r"\?").replace("*", r"\*")):
        cron.parse(expression)


def test_names_with_l_and_w_are_names():
    c = cron.parse("0 2 * JUL WED")
    assert c.months == {7} and c.weekdays == {3}


def test_runs_per_day():
    assert cron.parse("0 2 * * *").runs_per_day() == 1
    assert cron.parse("*/5 * * * *").runs_per_day() == 288
    assert cron.parse("0 9 * * MON-FRI").runs_per_day() == pytest.approx(5 / 7, rel=0.01)


# -- due times and daylight saving time (Europe/London: forward 2026-03-29 01:00 GMT, back 2026-10-25 02:00 BST)


def test_a_wall_time_the_clocks_skip_is_not_due():
    assert cron.occurrences(datetime(2026, 3, 29, 1, 30), LONDON) is None
    c = cron.parse("30 1 * * *")
    # On the morning of the change the newest due time is the day before's: nothing was due that day.
    due = cron.latest_due(c, LONDON, 15 * MIN, utc(2026, 3, 29, 6), since=utc(2026, 3, 1))
    assert due is not None and due.wall == datetime(2026, 3, 28, 1, 30)


def test_a_wall_time_the_clocks_repeat_is_due_once_from_its_first_to_its_last_occurrence():
    due = cron.occurrences(datetime(2026, 10, 25, 1, 30), LONDON)
    assert due is not None and (due.first, due.last) == (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30))
    c = cron.parse("30 1 * * *")
    grace = 15 * MIN
    # 00:50Z is past the first occurrence + grace, but the deadline counts from the second: not yet due.
    assert cron.latest_due(c, LONDON, grace, utc(2026, 10, 25, 0, 50), since=utc(2026, 10, 1)).wall.day == 24
    assert cron.latest_due(c, LONDON, grace, utc(2026, 10, 25, 1, 45), since=utc(2026, 10, 1)).wall.day == 25


def test_due_times_follow_the_zone_not_utc():
    c = cron.parse("0 2 * * *")
    summer = cron.latest_due(c, NEW_YORK, 10 * MIN, utc(2026, 7, 1, 7), since=utc(2026, 6, 1))
    winter = cron.latest_due(c, NEW_YORK, 10 * MIN, utc(2026, 12, 1, 8), since=utc(2026, 11, 1))
    assert summer.first == utc(2026, 7, 1, 6)  # 02:00 EDT
    assert winter.first == utc(2026, 12, 1, 7)  # 02:00 EST


def test_nothing_is_due_before_watching_began():
    c = cron.parse("0 2 * * *")
    assert cron.latest_due(c, UTC, 10 * MIN, utc(2026, 11, 27, 2, 5), since=utc(2026, 11, 26, 12)) is None
    assert cron.latest_due(c, UTC, 10 * MIN, utc(2026, 11, 27, 2, 10), since=utc(2026, 11, 26, 12)).first == utc(
        2026, 11, 27, 2
    )


# -- verdicts ------------------------------------------------------------------------------------------

NIGHTLY = Schedule(grace=15 * MIN, max_runtime=60 * MIN, start_ping=True, cron=cron.parse("30 2 * * *"), zone=LONDON)
HOURLY = Schedule(grace=10 * MIN, max_runtime=10 * MIN, start_ping=False, period=timedelta(hours=1))
WATCHED = utc(2026, 11, 1)
DUE = utc(2026, 11, 27, 2, 30)  # 02:30 GMT is 02:30Z in November


def pings(**kinds: Ping) -> Pings:
    return Pings(watched_since=WATCHED, **kinds)


def test_cron_before_the_deadline_nothing_is_missed():
    yesterday = pings(start=Ping(DUE - timedelta(days=1)), success=Ping(DUE - timedelta(days=1) + 5 * MIN))
    assert not evaluate(NIGHTLY, yesterday, DUE + 14 * MIN).missed


def test_cron_no_ping_by_due_time_plus_grace_is_did_not_start():
    yesterday = pings(start=Ping(DUE - timedelta(days=1)), success=Ping(DUE - timedelta(days=1) + 5 * MIN))

    verdict = evaluate(NIGHTLY, yesterday, DUE + 15 * MIN)

    assert (verdict.missed, verdict.failed, verdict.reason_code) == (True, False, "missed")
    assert verdict.reason.startswith("did not start: no ping for the 2026-11-27 02:30 Europe/London run")
    assert "by 2026-11-27T02:45:00Z (15m grace)" in verdict.reason
    assert "last ping 2026-11-26T02:35:00Z" in verdict.reason


def test_cron_a_start_after_the_due_time_counts_and_one_before_does_not():
    assert not evaluate(NIGHTLY, pings(start=Ping(DUE + 20 * MIN)), DUE + 30 * MIN).missed
    assert evaluate(NIGHTLY, pings(start=Ping(DUE - 1 * MIN)), DUE + 30 * MIN).missed


def test_without_start_pings_a_miss_is_did_not_run():
    schedule = Schedule(grace=15 * MIN, max_runtime=15 * MIN, start_ping=False, cron=NIGHTLY.cron, zone=LONDON)
    verdict = evaluate(schedule, pings(), DUE + 16 * MIN)
    assert verdict.missed and verdict.reason.startswith("did not run:")
    assert "no ping since vigil began watching at 2026-11-01T00:00:00Z" in verdict.reason


def test_period_deadline_is_last_ping_plus_period_plus_grace():
    last = utc(2026, 11, 27, 10, 0)
    assert not evaluate(HOURLY, pings(success=Ping(last)), last + timedelta(minutes=69)).missed
    verdict = evaluate(HOURLY, pings(success=Ping(last)), last + timedelta(minutes=70))
    assert verdict.missed and "expected every 1h + 10m grace, so by 2026-11-27T11:10:00Z" in verdict.reason


def test_period_a_new_check_is_due_one_period_and_grace_after_watching_began():
    assert not evaluate(HOURLY, pings(), WATCHED + timedelta(minutes=69)).missed
    assert evaluate(HOURLY, pings(), WATCHED + timedelta(minutes=70)).missed


def test_a_fail_ping_is_failed_not_missed_with_its_exit_code_and_lines():
    run = pings(start=Ping(DUE + 1 * MIN), fail=Ping(DUE + 13 * MIN, 137, ("Killed", "exit 137")))

    verdict = evaluate(NIGHTLY, run, DUE + 20 * MIN)

    assert (verdict.missed, verdict.failed, verdict.reason_code) == (False, True, "failed")
    assert verdict.reason == "failed with exit code 137 at 2026-11-27T02:43:00Z (started 2026-11-27T02:31:00Z)"
    assert verdict.samples == ("Killed", "exit 137")


def test_a_failure_stays_until_a_success():
    failed = pings(fail=Ping(DUE + 5 * MIN, 1))
    assert evaluate(NIGHTLY, failed, DUE + timedelta(hours=5)).failed
    rerun = pings(fail=Ping(DUE + 5 * MIN, 1), start=Ping(DUE + 2 * 60 * MIN))
    assert evaluate(NIGHTLY, rerun, DUE + 2 * 60 * MIN + 5 * MIN).failed  # the rerun is still going
    fixed = pings(fail=Ping(DUE + 5 * MIN, 1), success=Ping(DUE + 3 * 60 * MIN, 0))
    assert not evaluate(NIGHTLY, fixed, DUE + 3 * 60 * MIN + 5 * MIN).failed


def test_a_start_without_an_end_fails_once_max_runtime_has_passed():
    started = pings(start=Ping(DUE + 1 * MIN, lines=("task abc",)))
    assert evaluate(NIGHTLY, started, DUE + 60 * MIN).failed is False

    verdict = evaluate(NIGHTLY, started, DUE + 61 * MIN)

    assert (verdict.missed, verdict.failed, verdict.reason_code) == (False, True, "hung")
    assert verdict.reason.startswith("started at 2026-11-27T02:31:00Z and sent no success or fail ping within 1h")
    assert verdict.samples == ("task abc",)


def test_missed_and_failed_together_name_both():
    failed_yesterday = pings(fail=Ping(DUE - timedelta(days=1) + 10 * MIN, 2))
    verdict = evaluate(NIGHTLY, failed_yesterday, DUE + 16 * MIN)
    assert (verdict.missed, verdict.failed) == (True, True)
    assert verdict.reason.startswith("did not start:") and "; failed with exit code 2 at" in verdict.reason


def test_a_healthy_job_has_no_reason():
    ok = pings(start=Ping(DUE + 1 * MIN), success=Ping(DUE + 9 * MIN, 0))
    assert evaluate(NIGHTLY, ok, DUE + timedelta(hours=6)) == evaluate(NIGHTLY, ok, DUE + 10 * MIN)
    assert evaluate(NIGHTLY, ok, DUE + 10 * MIN).reason is None
