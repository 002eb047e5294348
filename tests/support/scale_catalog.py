"""Generated catalogs of a 200-service platform's shape: 5 checks per service file, every kind.

Each check is a copy of one of the fixture catalog's checks (tests/fixtures/catalog), taken in
turn so every kind recurs, under a new id `<service>-<original id>`; the settings are the
fixture's. Used by bench/scale.py and by the stack test that synthesizes 300 checks.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.support.catalogs import FIXTURE_CATALOG

CHECKS_PER_SERVICE = 5
SETTINGS_FILE = "_settings.yaml"


def fixture_checks() -> list[dict]:
    """Every check entry of the fixture catalog, in file order."""
    entries = []
    for path in sorted(FIXTURE_CATALOG.glob("*.yaml")):
        if path.name != SETTINGS_FILE:
            entries += yaml.safe_load(path.read_text())["checks"]
    return entries


def service_file(index: int, entries: list[dict]) -> dict:
    service = f"svc{index:03d}"
    return {
        "service": service,
        "team": "campaigns",
        "checks": [{**entry, "id": f"{service}-{entry['id']}"} for entry in entries],
    }


def write(directory: Path, checks: int) -> Path:
    """A catalog of `checks` checks (the last service file may hold fewer than 5) under directory."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE_CATALOG / SETTINGS_FILE, directory / SETTINGS_FILE)
    pool = fixture_checks()
    chosen = [pool[i % len(pool)] for i in range(checks)]
    for index, start in enumerate(range(0, checks, CHECKS_PER_SERVICE)):
        document = service_file(index, chosen[start : start + CHECKS_PER_SERVICE])
        (directory / f"svc{index:03d}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return directory


def add_check(directory: Path, service_index: int, kind: str) -> str:
    """One more check, a copy of the fixture's first of `kind`, in one existing service file; its id."""
    path = directory / f"svc{service_index:03d}.yaml"
    document = yaml.safe_load(path.read_text())
    entry = next(e for e in fixture_checks() if e["kind"] == kind)
    added = {**entry, "id": f"svc{service_index:03d}-added-{entry['id']}"}
    document["checks"].append(added)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return added["id"]
