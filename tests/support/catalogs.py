"""The catalogs that tests read, and the problem lines an invalid one yields.

Product tests read fixture catalogs under tests/fixtures/ (catalog/ is the sample as it stood
when the suite stopped reading checks/), never checks/: that directory is the user's catalog, and
a team replacing it must not break the suite (`make test` gives it validate, test-alarms and a
synth, in the Makefile's check-catalog). tests/support/catalog_guard.py fails any test that
reads it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from vigil.spec.common import CheckBase

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_CATALOG = REPO_ROOT / "tests" / "fixtures" / "catalog"
USER_CATALOG = REPO_ROOT / "checks"

# A valid catalog with every kind and every settings section, for tests to copy and break.
VALIDATION_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "validation"
VALIDATION_CATALOG = VALIDATION_FIXTURES / "catalog"

PLAN_CATALOG = REPO_ROOT / "tests" / "fixtures" / "plan_catalog"


def grouped_plan_catalog(root: Path, extra: int) -> Path:
    """The plan catalog at root, with `extra` more 1-minute http checks in campaign-api-health's
    group `edge` (campaign-api-edge-1, -2, ...)."""
    shutil.copytree(PLAN_CATALOG, root)
    path = root / "campaign-api.yaml"
    data = yaml.safe_load(path.read_text())
    health = data["checks"][0]
    health["group"] = "edge"
    data["checks"] += [
        {**health, "id": f"campaign-api-edge-{i}", "url": f"https://edge{i}.example.com/health"}
        for i in range(1, extra + 1)
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


SETTINGS = {
    "contacts": {"oncall": {"email": "oncall@example.com"}},
    "routes": {"all": {"email": ["oncall"]}},
    "self_monitoring_route": "all",
}


def problem_lines(root: Path) -> list[str]:
    """The lines `validate` prints for the catalog at root, which must be invalid."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    return [str(p) for p in caught.value.problems]


def write_catalog(root: Path, checks: list[dict], settings: dict = SETTINGS) -> Path:
    """A one-file catalog in root: the settings and one service file with these checks."""
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings))
    (root / "service.yaml").write_text(yaml.safe_dump({"service": "campaign-api", "checks": checks}))
    return root


def loaded(root: Path, checks: list[dict], settings: dict = SETTINGS) -> list[CheckBase]:
    return load_catalog(write_catalog(root, checks, settings)).checks


def catalog_problems(root: Path, checks: list[dict]) -> list[str]:
    """Every problem line `validate` would print for these checks."""
    return problem_lines(write_catalog(root, checks))


def has_problem(found: list[str], *fragments: str) -> bool:
    return any(all(f in line for f in fragments) for line in found)
