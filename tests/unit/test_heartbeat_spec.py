"""The heartbeat catalog entry: what it accepts, what it refuses and how it says so, its alarm tests and its plan row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.__main__ import main
from infra.catalog import CatalogError, load_catalog
from infra.plan import Assumptions, detect_seconds, load_prices, plan_check
from tests.support.heartbeat import CATALOG_DIR, catalog
from vigil.spec.heartbeat import HeartbeatCheck

BASE = {
    "id": "nightly-export",
    "kind": "heartbeat",
    "service": "reporting",
    "severity": "critical",
    "cron": "30 2 * * *",
    "grace": "15m",
    "token_secret_name": "vigil/heartbeat/nightly-export",
}


def model(**changes: object) -> HeartbeatCheck:
    data = {**BASE, **changes}
    return HeartbeatCheck.model_validate({k: v for k, v in data.items() if v is not None})


def test_defaults():
    c = model()
    assert (c.timezone, c.start_ping, c.max_runtime) == ("UTC", False, None)
    assert c.active_signals() == ["missed", "failed", "measure"]
    assert c.schedule().max_runtime.total_seconds() == 900  # grace, when max_runtime is not given


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"period": "1h"}, "give either period"),
        ({"cron": None}, "give either period"),
        ({"cron": "0 2 L * *"}, "L, W and #"),
        ({"cron": None, "period": "30s"}, "period 30s: use 1m to 840h"),
        ({"cron": None, "period": "1h", "timezone": "Europe/London"}, "timezone applies to cron only"),
        ({"timezone": "Mars/Olympus_Mons"}, "not an IANA time zone name"),
        ({"timezone": "../../etc/passwd"}, "not an IANA time zone name"),
        ({"grace": "30s"}, "grace 30s: use 1m to 168h"),
        ({"grace": "200h"}, "grace 200h"),
        ({"max_runtime": "1h"}, "max_runtime counts from the start ping"),
        ({"start_ping": True, "max_runtime": "200h"}, "max_runtime 200h"),
        ({"token_secret_name": "prod/db-password"}, "should match pattern"),
        ({"token_secret_name": "vigil/heartbeat/"}, "should match pattern"),
        ({"token": "abc"}, "Extra inputs are not permitted"),
    ],
)
def test_what_is_refused(changes, message):
    with pytest.raises(ValidationError, match=message):
        model(**changes)


def test_a_bad_entry_is_reported_with_file_check_and_field(tmp_path: Path):
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, root, ignore=shutil.ignore_patterns("tests"))
    text = (root / "jobs.yaml").read_text().replace('cron: "30 2 * * *"', 'cron: "30 2 * * MON#1"')
    (root / "jobs.yaml").write_text(text)

    with pytest.raises(CatalogError) as raised:
        load_catalog(root)

    (problem,) = raised.value.problems
    assert (problem.check, problem.field) == ("nightly-export", "cron") and problem.file.endswith("jobs.yaml")
    assert "day-of-week 'MON#1': L, W and #" in problem.message


def test_the_fixture_alarm_tests_pass_and_cover_every_heartbeat_alarm(capsys):
    assert main(["test-alarms", str(CATALOG_DIR)]) == 0
    out = capsys.readouterr().out
    assert "ok: 9 test(s)" in out and "no alarm test for" not in out


def test_the_plan_row_counts_the_grace_and_prices_pings_table_and_token():
    prices = load_prices()
    a = Assumptions()
    nightly = catalog().by_id("nightly-export")
    assert isinstance(nightly, HeartbeatCheck)

    row = plan_check(nightly, catalog(), prices, a)

    # missed: a fault is one only after the 15m grace, then the next 5m run, 1 period, evaluation, delivery.
    assert detect_seconds(nightly, "missed", a) == (1, 900 + 300 + 30 + 300 + 60 + 30)
    # One run a night, two pings each (start and end): two endpoint requests, reads and writes a night.
    usage = nightly.usage_per_month(730 * 3600)
    assert usage["lambda_request"] == pytest.approx(2 * 730 / 24)
    assert usage["secrets_manager_secret_month"] == 1
    expected = sum(prices[name] * amount for name, amount in usage.items())
    assert row.cost_breakdown["kind_extras"] == pytest.approx(expected, abs=1e-6)
    assert 0.4 < row.cost_breakdown["kind_extras"] < 0.41  # the secret dominates: $0.40 a month


def test_period_runs_per_month():
    hourly = model(cron=None, period="1h")
    assert hourly.runs_per_month(730 * 3600) == 730


def test_utc_needs_no_time_zone_database_and_others_say_what_is_missing(monkeypatch):
    from zoneinfo import ZoneInfoNotFoundError

    import vigil.heartbeat.cron as zones

    def no_database(key: str) -> None:
        raise ZoneInfoNotFoundError(key)

    monkeypatch.setattr(zones, "ZoneInfo", no_database)
    assert model().schedule().zone.utcoffset(None).total_seconds() == 0
    with pytest.raises(ValidationError, match="the tzdata package provides one"):
        model(timezone="Europe/London")
