"""The fixture catalog of the Lambda-free kinds (ecs, ec2, alb, lambda, dynamodb, metric): its alarm unit
tests pass and cover every alarm, each signal's missing-data treatment included (see the tests' names)."""

from __future__ import annotations

from pathlib import Path

from infra import alarm_tests
from infra.__main__ import main
from infra.catalog import load_catalog
from vigil.spec.common import MissingData

KINDS_CATALOG = Path(__file__).resolve().parents[1] / "fixtures" / "kinds"
NATIVE = {"ecs", "ec2", "alb", "lambda", "dynamodb", "metric"}


def test_fixture_catalog_uses_every_native_kind_and_its_alarm_tests_cover_every_alarm(capsys):
    catalog = load_catalog(KINDS_CATALOG)
    assert {c.kind for c in catalog.checks} == NATIVE
    tests, problems = alarm_tests.load_tests(alarm_tests.tests_dir(KINDS_CATALOG))
    report = alarm_tests.run_all(catalog, tests, problems)
    assert report.ok, [str(f) for f in report.failures] + [str(p) for p in report.problems]
    assert report.untested == []
    assert main(["test-alarms", str(KINDS_CATALOG)]) == 0
    assert "no alarm test for" not in capsys.readouterr().out


def test_the_tests_pin_the_missing_data_treatment_down():
    """A stopped worker publishes no CPU metric: with missing data not breaching, its test fails."""
    catalog = load_catalog(KINDS_CATALOG)
    tests, _ = alarm_tests.load_tests(alarm_tests.tests_dir(KINDS_CATALOG))
    silent = [t for t in tests if t.check == "campaign-worker-tasks" and t.signal == "running" and None in t.values]
    assert silent and not alarm_tests.run_all(catalog, silent).failures
    worker = catalog.by_id("campaign-worker-tasks")
    running = worker.alarms["running"].model_copy(update={"missing_data": MissingData.not_breaching})
    flipped = worker.model_copy(update={"alarms": {**worker.alarms, "running": running}})
    catalog.checks = [flipped if c.id == worker.id else c for c in catalog.checks]
    assert alarm_tests.run_all(catalog, silent).failures
