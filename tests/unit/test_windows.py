"""Maintenance windows: their catalog form, the mute rule's formats, and when they are open (time simulated).

The mute rule's formats are CloudWatch's (API reference, Schedule:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Schedule.html): cron(Minutes
Hours Day-of-month Month Day-of-week) with *, - and , and JAN-DEC / SUN-SAT names, or
at(yyyy-MM-ddThh:mm); a duration in ISO 8601 from PT1M to P15D; an IANA time zone, UTC by default.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from infra.catalog import load_catalog
from infra.notifier_config import NOTIFIER_ENV_BUDGET, environment_problem, notifier_environment
from infra.windows import in_force
from tests.support.catalogs import FIXTURE_CATALOG, has_problem, problem_lines
from vigil.alarm_meta import AlarmMeta
from vigil.notifier.silencing import WINDOWS_ENV, windows_from
from vigil.silences.active import active_silence
from vigil.silences.adhoc import AdhocSilence
from vigil.silences.windows import Span, Window, WindowTiming, iso_duration

LONDON = "Europe/London"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def window(**fields: object) -> Window:
    return Window.model_validate({"name": "w", "services": ["orders"], **fields})


# --- the mute rule's formats ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "iso"),
    [(60, "PT1M"), (7200, "PT2H"), (5400, "PT1H30M"), (86400, "P1D"), (95400, "P1DT2H30M"), (15 * 86400, "P15D")],
)
def test_durations_are_written_in_iso_8601(seconds: int, iso: str) -> None:
    assert iso_duration(seconds) == iso


def test_a_cron_window_becomes_a_cron_expression_with_its_duration_and_zone() -> None:
    w = window(cron="0 2 * * sun", duration="2h", timezone=LONDON)
    assert (w.expression(), w.iso_duration(), w.timezone) == ("cron(0 2 * * SUN)", "PT2H", LONDON)


def test_a_one_time_window_becomes_an_at_expression_lasting_until_its_end() -> None:
    w = window(start="2026-12-24T22:00", end="2026-12-25T02:00", timezone="Europe/Paris")
    assert (w.expression(), w.iso_duration()) == ("at(2026-12-24T22:00)", "PT4H")


def test_a_one_time_window_over_a_clock_change_lasts_the_elapsed_time() -> None:
    # London goes back an hour at 02:00 BST on 25 October 2026: 00:00 to 04:00 local is five hours.
    w = window(start="2026-10-25T00:00", end="2026-10-25T04:00", timezone=LONDON)
    assert w.iso_duration() == "PT5H"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"cron": "*/5 2 * * *", "duration": "1h"}, "no steps such as */5"),
        ({"cron": "0 2 * * 0", "duration": "1h"}, "write SUN-SAT names"),
        ({"cron": "0 2 1 * MON", "duration": "1h"}, "restrict day-of-month or day-of-week, not both"),
        ({"cron": "0 2 ? * MON *", "duration": "1h"}, "five fields"),
        ({"cron": "0 2 * * L", "duration": "1h"}, "L, W and #"),
        ({"cron": "0 2 31 FEB *", "duration": "1h"}, "never runs"),
        ({"cron": "0 2 * * SUN"}, "needs duration"),
        ({"cron": "0 2 * * SUN", "duration": "30s"}, "1m to 360h"),
        ({"cron": "0 2 * * SUN", "duration": "361h"}, "1m to 360h"),
        ({"cron": "0 2 * * SUN", "duration": "90s"}, "whole minutes"),
        ({"start": "2026-12-24T22:00"}, "start and end"),
        ({"start": "2026-12-24T22:00", "end": "2026-12-24T21:00"}, "1m to 360h"),
        ({"start": "2026-12-24T22:00", "end": "2027-01-24T21:00"}, "1m to 360h"),
        ({"start": "2026-12-24T22:00:30", "end": "2026-12-25T01:00"}, "whole minutes"),
        ({"start": "2026-12-24T22:00+01:00", "end": "2026-12-25T01:00"}, "without an offset"),
        ({"start": "2026-03-29T01:30", "end": "2026-03-29T04:00", "timezone": LONDON}, "the clocks skip it"),
        ({"cron": "0 2 * * SUN", "duration": "1h", "start": "2026-12-24T22:00"}, "not both"),
        ({"cron": "0 2 * * SUN", "duration": "1h", "timezone": "Mars/Olympus"}, "not an IANA time zone"),
    ],
)
def test_what_a_mute_rule_cannot_take_or_aws_leaves_open_is_refused(fields: dict, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WindowTiming.model_validate(fields)
    assert words in str(caught.value)


# --- when a window is open: time simulated ----------------------------------------------------------


def test_a_cron_window_is_open_from_each_start_for_its_duration() -> None:
    w = window(cron="0 2 * * SUN", duration="2h")  # UTC; 1 Nov 2026 is a Sunday
    assert w.opening(utc(2026, 11, 1, 1, 59)) is None
    assert w.opening(utc(2026, 11, 1, 2, 0)) == Span(utc(2026, 11, 1, 2), utc(2026, 11, 1, 4))
    assert w.opening(utc(2026, 11, 1, 3, 59)) == Span(utc(2026, 11, 1, 2), utc(2026, 11, 1, 4))
    assert w.opening(utc(2026, 11, 1, 4, 0)) is None  # the end is not in the window
    assert w.opening(utc(2026, 11, 2, 2, 30)) is None  # Monday
    assert w.opening(utc(2026, 11, 8, 2, 30)) == Span(utc(2026, 11, 8, 2), utc(2026, 11, 8, 4))


def test_a_window_longer_than_a_day_covers_the_days_after_its_start() -> None:
    w = window(cron="0 18 * * FRI", duration="60h")  # Friday 18:00 to Monday 06:00
    assert w.opening(utc(2026, 11, 9, 5, 59)) == Span(utc(2026, 11, 6, 18), utc(2026, 11, 9, 6))
    assert w.opening(utc(2026, 11, 9, 6, 0)) is None


def test_a_cron_window_opens_at_wall_time_in_its_zone_summer_and_winter() -> None:
    w = window(cron="0 2 * * *", duration="1h", timezone=LONDON)
    assert w.opening(utc(2026, 7, 1, 1, 30)) == Span(utc(2026, 7, 1, 1), utc(2026, 7, 1, 2))  # BST, UTC+1
    assert w.opening(utc(2026, 12, 1, 2, 30)) == Span(utc(2026, 12, 1, 2), utc(2026, 12, 1, 3))  # GMT


def test_a_start_the_clocks_skip_opens_no_window_that_day() -> None:
    # 29 March 2026, London: 01:00 GMT becomes 02:00 BST; 01:30 never happens that night.
    w = window(cron="30 1 * * *", duration="1h", timezone=LONDON)
    assert all(w.opening(utc(2026, 3, 29, 0, 0) + timedelta(minutes=m)) is None for m in range(0, 180, 10))
    assert w.opening(utc(2026, 3, 30, 0, 45)) == Span(utc(2026, 3, 30, 0, 30), utc(2026, 3, 30, 1, 30))


def test_a_start_the_clocks_repeat_opens_the_window_once_at_its_first_occurrence() -> None:
    # 25 October 2026, London: 01:30 happens at 00:30 UTC (BST) and again at 01:30 UTC (GMT).
    w = window(cron="30 1 * * *", duration="30m", timezone=LONDON)
    assert w.opening(utc(2026, 10, 25, 0, 45)) == Span(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 0))
    assert w.opening(utc(2026, 10, 25, 1, 45)) is None


def test_a_one_time_window_is_open_from_start_to_end_in_its_zone() -> None:
    w = window(start="2026-12-24T22:00", end="2026-12-25T02:00", timezone="Europe/Paris")  # UTC+1
    assert w.opening(utc(2026, 12, 24, 20, 59)) is None
    assert w.opening(utc(2026, 12, 24, 21, 0)) == Span(utc(2026, 12, 24, 21), utc(2026, 12, 25, 1))
    assert w.opening(utc(2026, 12, 25, 1, 0)) is None
    assert not w.ended_by(utc(2026, 12, 25, 0, 59)) and w.ended_by(utc(2026, 12, 25, 1, 0))


# --- which silence covers an alarm --------------------------------------------------------------------


META = AlarmMeta(check="orders-queue", signal="backlog", service="orders", severity="critical", routes=["r"])


def test_a_window_covers_its_services_and_its_checks_only() -> None:
    at = utc(2026, 11, 1, 2, 30)
    daily = {"cron": "0 2 * * *", "duration": "1h"}
    assert active_silence(META, at, [window(**daily)], []) is not None
    assert active_silence(META, at, [window(**daily, services=[], checks=["orders-queue"])], []) is not None
    assert active_silence(META, at, [window(**daily, services=["billing"])], []) is None


def test_vigils_own_alarms_and_foreign_alarms_are_never_silenced() -> None:
    at = utc(2026, 11, 1, 2, 30)
    everything = window(cron="0 2 * * *", duration="1h", services=["vigil", "orders"])
    assert active_silence(META.model_copy(update={"kind": "self", "service": "vigil"}), at, [everything], []) is None
    assert active_silence(None, at, [everything], []) is None


def test_of_several_silences_the_one_ending_last_is_named() -> None:
    at = utc(2026, 11, 1, 2, 30)
    adhoc = AdhocSilence(
        id="abc123",
        target="check",
        name="orders-queue",
        reason="reindex",
        created_by="alice",
        start=utc(2026, 11, 1, 2, 0),
        until=utc(2026, 11, 1, 5, 0),
    )
    found = active_silence(META, at, [window(cron="0 2 * * *", duration="1h")], [adhoc])
    assert found is not None and found.label == "silence abc123 by alice (reindex)" and found.end == adhoc.until
    assert active_silence(META, utc(2026, 11, 1, 5, 0), [], [adhoc]) is None


# --- windows in the catalog ---------------------------------------------------------------------------


def _catalog(tmp_path: Path, settings_windows: dict | None = None, db_windows: dict | None = None) -> Path:
    """The fixture catalog, copied, with windows in _settings.yaml and in campaign-db.yaml."""
    root = tmp_path / "catalog"
    for path in FIXTURE_CATALOG.rglob("*"):
        if path.is_file():
            (root / path.relative_to(FIXTURE_CATALOG)).parent.mkdir(parents=True, exist_ok=True)
            (root / path.relative_to(FIXTURE_CATALOG)).write_bytes(path.read_bytes())
    if settings_windows is not None:
        settings = yaml.safe_load((root / "_settings.yaml").read_text())
        (root / "_settings.yaml").write_text(yaml.safe_dump({**settings, "windows": settings_windows}))
    if db_windows is not None:
        db = yaml.safe_load((root / "campaign-db.yaml").read_text())
        (root / "campaign-db.yaml").write_text(yaml.safe_dump({**db, "windows": db_windows}, sort_keys=False))
    return root


PATCHING = {"teams": ["campaigns"], "cron": "0 2 * * SUN", "duration": "2h", "timezone": LONDON}


def test_windows_resolve_to_the_services_and_checks_they_cover(tmp_path: Path) -> None:
    catalog = load_catalog(
        _catalog(
            tmp_path,
            {
                "sqlserver-patching": PATCHING,
                "orders-freeze": {"services": ["orders"], "cron": "0 0 * DEC *", "duration": "24h"},
            },
            {
                "reindex": {"cron": "30 1 * * *", "duration": "30m", "checks": ["campaign-db-errors"]},
                "db-upgrade": {"start": "2099-12-24T22:00", "end": "2099-12-25T02:00"},
            },
        )
    )
    by_name = {w.name: w for w in catalog.windows}
    assert sorted(by_name) == ["db-upgrade", "orders-freeze", "reindex", "sqlserver-patching"]
    assert by_name["sqlserver-patching"].services == sorted(
        {c.service for c in catalog.checks if c.team == "campaigns"}
    )
    assert by_name["orders-freeze"].services == ["orders"]
    assert (by_name["reindex"].checks, by_name["reindex"].services) == (["campaign-db-errors"], [])
    assert (by_name["db-upgrade"].checks, by_name["db-upgrade"].services) == ([], ["campaign-db"])


def test_catalog_windows_reach_the_notifier_as_the_same_windows(tmp_path: Path) -> None:
    catalog = load_catalog(_catalog(tmp_path, {"sqlserver-patching": PATCHING}))
    env = notifier_environment(catalog.settings, catalog.windows, utc(2026, 1, 1))
    assert windows_from(env[WINDOWS_ENV]) == tuple(catalog.windows)


def test_a_one_time_window_that_has_ended_goes_to_neither_the_stack_nor_the_notifier(tmp_path: Path) -> None:
    catalog = load_catalog(
        _catalog(tmp_path, db_windows={"done": {"start": "2020-01-01T00:00", "end": "2020-01-01T02:00"}})
    )
    assert [w.name for w in catalog.windows] == ["done"]  # still valid: time passing breaks no catalog
    assert in_force(catalog.windows, utc(2026, 1, 1)) == []
    assert WINDOWS_ENV not in notifier_environment(catalog.settings, catalog.windows, utc(2026, 1, 1))


@pytest.mark.parametrize(
    ("settings_windows", "db_windows", "fragments"),
    [
        (
            {"x": {**PATCHING, "teams": ["nobody"]}},
            None,
            ("_settings.yaml", "windows.x.teams", "unknown team(s) nobody"),
        ),
        (
            {"x": {"services": ["nowhere"], "cron": "0 2 * * *", "duration": "1h"}},
            None,
            ("windows.x.services", "nowhere"),
        ),
        ({"x": {"cron": "0 2 * * *", "duration": "1h"}}, None, ("windows.x", "needs teams or services")),
        (
            None,
            {"x": {"cron": "0 2 * * *", "duration": "1h", "checks": ["orders-queue"]}},
            ("campaign-db.yaml", "windows.x.checks", "not a check of this file: orders-queue"),
        ),
        (
            {"x": PATCHING},
            {"x": {"cron": "0 3 * * *", "duration": "1h"}},
            ("campaign-db.yaml", "windows.x", "duplicate window name"),
        ),
        (None, {"x": {"cron": "*/10 2 * * *", "duration": "1h"}}, ("campaign-db.yaml", "windows.x", "no steps")),
    ],
)
def test_a_wrong_window_is_one_clear_problem(
    tmp_path: Path, settings_windows: dict | None, db_windows: dict | None, fragments: tuple[str, ...]
) -> None:
    assert has_problem(problem_lines(_catalog(tmp_path, settings_windows, db_windows)), *fragments)


def test_windows_too_big_for_the_notifiers_environment_are_refused(tmp_path: Path) -> None:
    many = {f"w{i}": {"services": ["orders"], "cron": f"{i % 60} 2 * * *", "duration": "1h"} for i in range(60)}
    catalog = load_catalog(_catalog(tmp_path, {"x": PATCHING}))
    env = notifier_environment(catalog.settings, catalog.windows, utc(2026, 1, 1))
    assert environment_problem(env) is None
    lines = problem_lines(_catalog(tmp_path / "big", many))
    assert has_problem(lines, "_settings.yaml", f"over the {NOTIFIER_ENV_BUDGET} vigil leaves for them")
    assert len(json.dumps(many)) > NOTIFIER_ENV_BUDGET  # the refusal is about size, not content
