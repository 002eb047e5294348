"""`plan`: the arithmetic for known checks of the sample catalog against hand-computed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.__main__ import main
from infra.catalog import load_catalog
from infra.plan import PRICES_FILE, load_prices, plan_catalog
from tests.support.catalogs import FIXTURE_CATALOG as SAMPLE

# A frozen three-check catalog, so the figures below stay exact while the sample catalog grows.
CHECKS = Path(__file__).resolve().parents[1] / "fixtures" / "plan_catalog"


@pytest.fixture(scope="module")
def plan():
    rows, totals = plan_catalog(load_catalog(CHECKS), load_prices())
    return {r.id: r for r in rows}, totals


def test_prices_file_names_source_and_date_for_every_price():
    data = json.loads(PRICES_FILE.read_text())
    assert data["region"] == "us-east-1"
    for name, entry in data["prices"].items():
        assert entry["source"].startswith("https://aws.amazon.com/"), name
        assert entry["as_of"], name


def test_http_check_detect_seconds_by_hand(plan):
    row = plan[0]["campaign-api-health"]
    signals = {s.signal: s for s in row.signals}
    # down, 2 of 2 at 1m: cadence 60 + timeout 5 + 2 periods × 60 + evaluation 60 + delivery 30
    assert signals["down"].detect_seconds == 60 + 5 + 120 + 60 + 30 == 275
    # measure, 2 of 2, missing = breaching: a silent checker needs the whole range (N + 2 = 4) empty
    assert signals["measure"].periods_to_alarm == 4
    assert signals["measure"].detect_seconds == 60 + 5 + 240 + 60 + 30 == 395
    assert row.detect_seconds == 395
    assert row.rules == {"down": "< 1 for 2 of 2 minutes", "measure": ">= 1 for 2 of 2 minutes"}
    assert row.cadence == "1m"
    assert row.routes == ["campaigns-critical", "platform-critical"]


def test_http_check_cost_by_hand(plan):
    row = plan[0]["campaign-api-health"]
    runs = 730 * 3600 / 60  # 43,800 runs a month at a 1m cadence
    expected = {
        "scheduler": runs * 1.00 / 1e6,
        "lambda_requests": runs * 0.20 / 1e6,
        "lambda_compute": runs * 0.5 * 0.125 * 0.0000133334,  # 0.5 s typical, 128 MB arm64
        "logs": runs * 2048 / 1024**3 * 0.50,
        "custom_metrics": 2 * 0.30,  # Healthy, MeasureFailed
        "alarms": 2 * 0.10,
        # 2 alarms × 4 state changes; routes reach 3 e-mail and 2 SMS contacts
        "notifications": 8 * (0.50 / 1e6 + 3 * 2.00 / 1e5 + 2 * 0.00581),
    }
    for key, value in expected.items():
        assert row.cost_breakdown[key] == pytest.approx(value, abs=1e-6), key
    assert row.cost_usd_month == pytest.approx(sum(expected.values()), abs=1e-4)
    assert row.cost_usd_month == pytest.approx(1.0243, abs=1e-4)


def test_native_sqs_check_by_hand(plan):
    row = plan[0]["orders-queue"]
    signals = {s.signal: s for s in row.signals}
    # publish delay 180 + 3 periods × 60 + 60 + 30
    assert signals["backlog"].detect_seconds == 180 + 180 + 60 + 30
    assert signals["dlq"].detect_seconds == 180 + 60 + 60 + 30
    assert row.cadence is None
    assert row.cost_breakdown["lambda_requests"] == 0
    assert row.cost_breakdown["custom_metrics"] == 0
    assert row.cost_usd_month == pytest.approx(3 * 0.10 + 12 * (0.5e-6 + 3 * 2e-5 + 2 * 0.00581), abs=1e-4)


def test_totals(plan):
    rows, totals = plan
    assert totals.checks == 3
    assert totals.alarms == 7
    assert totals.cost_usd_month == pytest.approx(sum(r.cost_usd_month for r in rows.values()), abs=1e-4)
    assert totals.worst_detect_seconds == max(r.detect_seconds for r in rows.values())


def test_high_resolution_alarm_price(tmp_path):
    import shutil

    root = tmp_path / "catalog"
    shutil.copytree(CHECKS, root, ignore=shutil.ignore_patterns("tests"))
    text = (root / "orders.yaml").read_text().replace("age: {threshold: 300}", "age: {threshold: 300, period: 30s}")
    (root / "orders.yaml").write_text(text)
    rows, _ = plan_catalog(load_catalog(root), load_prices())
    row = next(r for r in rows if r.id == "orders-queue")
    assert row.cost_breakdown["alarms"] == pytest.approx(0.10 + 0.30 + 0.10)


def test_cli_table_and_json(capsys):
    assert main(["plan", str(CHECKS)]) == 0
    out = capsys.readouterr().out
    assert "campaign-api-health" in out and "TOTAL" in out
    assert main(["plan", str(CHECKS), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in data["checks"]] == ["campaign-api-health", "campaign-api-deep-health", "orders-queue"]
    assert all("detect_seconds" in c and "cost_usd_month" in c for c in data["checks"])
    assert data["totals"]["checks"] == 3


def test_every_sample_check_is_planned(capsys):
    assert main(["plan", str(SAMPLE), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {c["id"] for c in data["checks"]} == {c.id for c in load_catalog(SAMPLE).checks}
    assert all(c["cost_usd_month"] > 0 for c in data["checks"])


def test_cli_bad_catalog(tmp_path, capsys):
    assert main(["plan", str(tmp_path / "nope")]) == 1
    assert "no such catalog directory" in capsys.readouterr().out


def test_routes_follow_each_signals_own_severity(tmp_path):
    """A warning log_pattern check whose critical patterns page the critical routes: plan shows them."""
    import shutil

    root = tmp_path / "catalog"
    root.mkdir()
    shutil.copy(CHECKS / "_settings.yaml", root)
    check = {
        "id": "db-errors",
        "kind": "log_pattern",
        "severity": "warning",
        "log_group": "/aws/rds/instance/campaign-sql/error",
        "patterns": [
            {"name": "log-full", "pattern": '"is full due to"', "severity": "critical", "explain": "log full"},
            {"name": "deadlock", "pattern": '"deadlock"', "explain": "a deadlock"},
        ],
    }
    (root / "db.yaml").write_text(json.dumps({"service": "campaign-db", "team": "campaigns", "checks": [check]}))
    rows, _ = plan_catalog(load_catalog(root), load_prices())
    (row,) = rows
    assert row.severity == "warning"
    assert row.routes == ["campaigns-critical", "campaigns-warning", "platform-critical"]
    assert {s.signal: s.routes for s in row.signals} == {
        "log-full": ["campaigns-critical", "platform-critical"],
        "deadlock": ["campaigns-warning"],
    }
    # 4 state changes per alarm, each to its own routes: log-full reaches 3 e-mail and 2 SMS contacts,
    # deadlock 2 e-mail contacts.
    expected = 4 * (0.50 / 1e6 + 3 * 2.00 / 1e5 + 2 * 0.00581) + 4 * (0.50 / 1e6 + 2 * 2.00 / 1e5)
    assert row.cost_breakdown["notifications"] == pytest.approx(expected, abs=1e-6)
