"""A one-file catalog in a temporary directory: load its checks, or the problems validate prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from vigil.spec.common import CheckBase

SETTINGS = {
    "contacts": {"oncall": {"email": "oncall@example.com"}},
    "routes": {"all": {"email": ["oncall"]}},
    "self_monitoring_route": "all",
}


def write_catalog(root: Path, checks: list[dict], settings: dict = SETTINGS) -> Path:
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings))
    (root / "service.yaml").write_text(yaml.safe_dump({"service": "campaign-api", "checks": checks}))
    return root


def loaded(root: Path, checks: list[dict], settings: dict = SETTINGS) -> list[CheckBase]:
    return load_catalog(write_catalog(root, checks, settings)).checks


def catalog_problems(root: Path, checks: list[dict]) -> list[str]:
    """Every problem line `validate` would print for these checks."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(write_catalog(root, checks))
    return [str(p) for p in caught.value.problems]


def has_problem(found: list[str], *fragments: str) -> bool:
    return any(all(f in line for f in fragments) for line in found)
