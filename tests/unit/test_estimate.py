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


def _one_check_per_file(directory: Path, files: int) -> Path:
    """`files` service files of one http check each, with the fixture catalog's settings."""
    directory.mkdir()
    shutil.copy(FIXTURE_CATALOG / "_settings.yaml", directory / "_settings.yaml")
    for n in range(files):
        check = f"  - id: svc{n:03d}-health\n    kind: http\n    severity: warning\n    url: https://svc{n:03d}.example.com/health\n"
        (directory / f"svc{n:03d}.yaml").write_text(f"service: svc{n:03d}\nteam: campaigns\nchecks:\n{check}")
    return directory


def test_validate_refuses_more_service_files_than_the_core_can_hold(tmp_path: Path, capsys) -> None:
    files = budgets.RESOURCE_BUDGET - budgets.CORE_FLOOR + 1
    catalog = _one_check_per_file(tmp_path / "catalog", files)

    assert main(["validate", str(catalog)]) == 1
    out = capsys.readouterr().out
    assert f"{files} service files would make at least {budgets.RESOURCE_BUDGET + 1} CloudFormation resources" in out
    assert "merge small service files" in out and "more environments" in out


def test_as_many_service_files_as_the_core_floor_leaves_room_for_pass_validate(tmp_path: Path, capsys) -> None:
    catalog = _one_check_per_file(tmp_path / "catalog", budgets.RESOURCE_BUDGET - budgets.CORE_FLOOR)

    assert main(["validate", str(catalog)]) == 0, capsys.readouterr().out
