"""validate refuses a service file whose checks would overflow its stack, naming the file, without the CDK."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra import budgets, estimate
from infra.__main__ import main
from infra.catalog import load_catalog
from tests.support.catalogs import FIXTURE_CATALOG


def test_each_service_file_gets_its_own_estimate() -> None:
    found = estimate.by_file(load_catalog(FIXTURE_CATALOG))
    # campaign-consistency.yaml and campaign-db.yaml share a service, not a stack: the file decides.
    assert {"campaign-consistency", "campaign-db", "messaging"} <= found.keys()
    assert all(count > estimate.DASHBOARD for count in found.values())


def test_validate_refuses_a_file_over_the_budget_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURE_CATALOG, catalog)
    messaging = estimate.by_file(load_catalog(catalog))["messaging"]
    monkeypatch.setattr(budgets, "RESOURCE_BUDGET", messaging - 1)

    assert main(["validate", str(catalog)]) == 1
    out = capsys.readouterr().out
    assert f"messaging.yaml: its checks would make about {messaging} CloudFormation resources" in out
    assert "move some checks into a new service file" in out
    assert "campaign-api.yaml" not in out
