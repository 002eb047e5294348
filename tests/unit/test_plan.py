"""`plan`: the arithmetic for known checks of the sample catalog against hand-computed values."""

from __future__ import annotations

import json

import pytest

from infra.__main__ import main
from infra.catalog import load_catalog
from infra.plan import (
    PRICES_FILE,
    custom_metrics,
    dashboards_cost,
    load_prices,
    plan_catalog,
    plan_total,
)
from tests.support.catalogs import FIXTURE_CATALOG as SAMPLE
from tests.support.catalogs import PLAN_CATALOG

# A frozen three-check catalog, so the figures below stay exact while the sample catalog grows.
CHECKS = PLAN_CATALOG


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
    (down,) = row.signals
    # down, 2 of 2 at 1m, missing = breaching: a silent checker needs the whole range (N + 2 = 4)
    # empty, which is slower than two failed runs: cadence 60 + timeout 5 + 4 × 60 + 60 + 30
    assert down.periods_to_alarm == 4
    assert down.detect_seconds == 60 + 5 + 240 + 60 + 30 == 395
    assert row.detect_seconds == 395
    assert row.rules == {"down": "< 1 for 2 of 2 minutes"}
    assert row.cadence == "1m"
    assert row.routes == ["campaigns-critical", "platform-critical"]


def test_http_check_cost_by_hand(plan):
    row = plan[0]["campaign-api-health"]
    runs = 730 * 3600 / 60  # 43,800 runs a month at a 1m cadence
    expected = {
        "scheduler": runs * 1.00 / 1e6,
        "lambda_requests": runs * 0.20 / 1e6,
        "lambda_compute": runs * 0.5 * 0.125 * 0.0000133334,  # 0.5 s typical, 128 MB arm64 (infra.sizing)
        "logs": runs * 384 / 1024**3 * 0.50,  # the EMF line alone: no START/END/REPORT, no runner line
        "custom_metrics": 1 * 0.30,  # Healthy alone (vigil.result.METRIC_BUDGETS)
        "alarms": 1 * 0.10,
        # 1 alarm × 4 state changes; routes reach 3 e-mail and 2 SMS contacts
        "notifications": 4 * (0.50 / 1e6 + 3 * 2.00 / 1e5 + 2 * 0.00581),
    }
    for key, value in expected.items():
        assert row.cost_breakdown[key] == pytest.approx(value, abs=1e-6), key
    assert row.cost_usd_month == pytest.approx(sum(expected.values()), abs=1e-4)
    # Issue 11: 1.02 before (and 1.62 counting the StatusCode and LatencyMs metrics it also wrote).
    assert row.cost_usd_month == pytest.approx(0.5436, abs=1e-4)


def test_compute_follows_the_checkers_memory(plan):
    # http checkers are built at 128 MB (others at 256): plan reads the same table as the stack.
    from infra.sizing import checker_memory_mb

    row = plan[0]["campaign-api-deep-health"]
    runs = 730 * 3600 / 300
    assert checker_memory_mb("http") == 128
    assert row.cost_breakdown["lambda_compute"] == pytest.approx(runs * 0.5 * 128 / 1024 * 0.0000133334, abs=1e-6)


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
    assert totals.alarms == 5  # down, down, and orders-queue's backlog, age, dlq
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


@pytest.fixture(scope="module")
def sample():
    catalog = load_catalog(SAMPLE)
    rows, totals = plan_catalog(catalog, load_prices())
    return catalog, {r.id: r for r in rows}, totals


def test_rabbitmq_counts_each_listed_queues_series(sample):
    catalog, rows, _ = sample
    broker = catalog.by_id("campaign-events-broker")
    assert [q.name for q in broker.queues] == ["campaign-orders", "campaign-emails"] and broker.pattern
    # unreachable, resource_alarm, queue_missing, measure; 4 worst-of signals (rollup and listed queues
    # without an override); campaign-orders' own backlog and no_consumers (dimensions Check and Queue)
    assert custom_metrics(broker) == 4 + 4 + 2
    assert rows["campaign-events-broker"].cost_breakdown["custom_metrics"] == pytest.approx(10 * 0.30)


def test_sqs_prefix_counts_the_queues_metric(sample):
    catalog, _, _ = sample
    prefix = catalog.by_id("campaign-fulfilment-queues")
    assert prefix.queue_prefix is not None
    # its active signals' metrics (measure included) and Queues, written with no alarm
    assert custom_metrics(prefix) == len(prefix.active_signals()) + 1


def test_dashboards_cost_beyond_the_three_free():
    prices = load_prices()
    assert [dashboards_cost(n, prices) for n in (1, 3, 4, 10)] == [0, 0, 3.0, 21.0]


def test_plan_total_per_team_and_environment(sample):
    catalog, _, totals = sample
    env = plan_total("demo", catalog, dashboards=5)
    assert env.checks == totals
    assert sum(env.teams.values()) == pytest.approx(totals.cost_usd_month, abs=1e-3)
    assert set(env.teams) == {c.team for c in catalog.checks}
    assert env.dashboards_usd_month == 6.0
    assert env.cost_usd_month == pytest.approx(totals.cost_usd_month + 6.0)


def test_cli_prints_teams_and_environments(capsys, tmp_path):
    environments = tmp_path / "environments.yaml"
    environments.write_text(f"small:\n  catalog: {CHECKS}\nbig:\n  catalog: {SAMPLE}\n")
    assert main(["plan", str(CHECKS), "--environments", str(environments)]) == 0
    out = capsys.readouterr().out
    assert "per team (USD/month): campaigns " in out
    small = plan_total("small", load_catalog(CHECKS)).cost_usd_month
    big = plan_total("big", load_catalog(SAMPLE)).cost_usd_month
    assert f"  small: 3 checks {small:.2f} + 1 dashboard(s) 0.00 = {small:.2f}" in out
    assert f"all environments: {small + big:.2f}" in out
