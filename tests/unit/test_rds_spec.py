"""Kind `rds` catalog entries: default signals, opt-in connections, units, instance identifiers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from vigil.spec.rds import RdsCheck

SETTINGS = {
    "contacts": {"oncall": {"email": "oncall@example.com"}},
    "routes": {"all": {"email": ["oncall"]}},
    "self_monitoring_route": "all",
}
BASE = {"id": "campaign-db", "kind": "rds", "severity": "critical"}
DEFAULT_SIGNALS = ["cpu", "free_storage", "read_latency", "write_latency"]


def check(**fields: object) -> RdsCheck:
    return RdsCheck.model_validate({**BASE, "service": "campaign-db", "instance": "campaign-sql", **fields})


def load(tmp_path: Path, entry: dict, settings: dict = SETTINGS) -> RdsCheck:
    (tmp_path / "_settings.yaml").write_text(yaml.safe_dump(settings))
    (tmp_path / "db.yaml").write_text(yaml.safe_dump({"service": "campaign-db", "checks": [{**BASE, **entry}]}))
    (found,) = load_catalog(tmp_path).checks
    assert isinstance(found, RdsCheck)
    return found


def test_default_rules_in_the_catalogs_units():
    spec = check()
    assert spec.active_signals() == DEFAULT_SIGNALS
    rules = {name: rule.describe(spec.signals[name].unit) for name, rule in spec.rules().items()}
    assert rules == {
        "cpu": "> 90 % for 5 of 5 minutes",
        "free_storage": "< 2 GiB for 1 of 1 periods of 5m",
        "read_latency": "> 20 ms for 5 of 5 minutes",
        "write_latency": "> 20 ms for 5 of 5 minutes",
    }


def test_connections_alarm_only_with_a_threshold(tmp_path: Path):
    assert check(alarms={"connections": {"evaluation_periods": 6}}).active_signals() == DEFAULT_SIGNALS
    spec = check(alarms={"connections": {"threshold": 400}})
    assert spec.active_signals() == ["cpu", "free_storage", "connections", "read_latency", "write_latency"]
    assert spec.rule("connections").describe("connections") == "> 400 connections for 5 of 5 minutes"
    # Catalog-wide alarm defaults add an entry for every signal; they must not switch connections on.
    settings = {**SETTINGS, "defaults": {"alarm": {"evaluation_periods": 3, "datapoints_to_alarm": 2}}}
    assert load(tmp_path, {"instance": "campaign-sql"}, settings).active_signals() == DEFAULT_SIGNALS


@pytest.mark.parametrize("instance", ["campaign-sql", "a", "Db1-replica-2"])
def test_instance_identifiers(instance: str):
    assert check(instance=instance).instance == instance


@pytest.mark.parametrize("instance", ["1db", "db--x", "db-", "db_x", "a" * 64])
def test_bad_instance_identifiers_are_catalog_errors(tmp_path: Path, instance: str):
    with pytest.raises(CatalogError) as caught:
        load(tmp_path, {"instance": instance})
    (problem,) = caught.value.problems
    assert "check campaign-db: instance:" in str(problem)
