"""No product test reads the user's catalog (checks/): the guard that enforces it, proven to work.

The guard (tests/support/catalog_guard.py) fails any test, or any test module at import, that
opens or lists a file under checks/. These tests show that it is active for every product test, that it sees the ways a test could read a catalog, and, for
subprocesses (beyond its reach), that no test source names the directory.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from infra.__main__ import main
from infra.catalog import load_catalog
from tests.support.catalog_guard import DirectoryReads
from tests.support.catalogs import FIXTURE_CATALOG, REPO_ROOT

# Ways a test source could name checks/: a path join (onto anything but a temporary directory:
# tmp_path / "checks", mktemp(...) / "checks"), a relative path string, a Path or catalog of it.
NAMES_USER_CATALOG = re.compile(
    r"""(?<!tmp_path )(?<!\) )/\s*["']checks["']|["']\.?/?checks/|(?:Path|load_catalog)\(\s*["']checks["']"""
)
# The one place allowed to spell the path (it defines USER_CATALOG).
ALLOWED = {REPO_ROOT / "tests" / "support" / "catalogs.py"}


def test_the_guard_is_active_for_every_product_test(request: pytest.FixtureRequest) -> None:
    assert "no_user_catalog_reads" in request.fixturenames


def test_the_guard_sees_a_catalog_loaded_listed_or_read_by_the_cli(tmp_path: Path, monkeypatch) -> None:
    watched = tmp_path / "checks"
    shutil.copytree(FIXTURE_CATALOG, watched)
    reads = DirectoryReads(watched)

    with reads.watch() as by_loader:
        load_catalog(watched)
    with reads.watch() as by_glob:
        sorted(watched.glob("*.yaml"))
    monkeypatch.chdir(tmp_path)
    with reads.watch() as by_cli:  # `validate` with no argument reads ./checks
        assert main(["validate"]) == 0
    with reads.watch() as elsewhere:
        load_catalog(FIXTURE_CATALOG)
    load_catalog(watched)  # not watching: not recorded

    assert str(watched / "_settings.yaml") in by_loader
    assert by_glob == [str(watched)]
    assert str(watched / "_settings.yaml") in by_cli
    assert elsewhere == []
    assert reads.paths == []


def test_the_guard_ignores_a_temporary_directory_named_checks_being_removed(tmp_path: Path, monkeypatch) -> None:
    # shutil.rmtree opens "checks" relative to its parent's descriptor; from tmp_path it would
    # read as tmp_path/checks, the watched directory.
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "demo" / "checks"
    shutil.copytree(FIXTURE_CATALOG, elsewhere)
    reads = DirectoryReads(tmp_path / "checks")

    with reads.watch() as paths:
        shutil.rmtree(tmp_path / "demo")

    assert paths == []


def test_no_test_source_names_the_user_catalog() -> None:
    sources = [p for p in (REPO_ROOT / "tests").rglob("*.py") if p not in ALLOWED]
    assert len(sources) > 50
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if NAMES_USER_CATALOG.search(line) and path != Path(__file__)
    ]
    assert offenders == [], "product tests must use tests/fixtures/ catalogs:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "line",
    [
        'SAMPLE = ROOT / "checks"',
        "CHECKS = Path(__file__).resolve().parents[2] / 'checks'",
        'load_catalog("checks")',
        'main(["validate", "checks/"])',
        'Path("checks")',
    ],
)
def test_the_source_scan_recognises_the_ways_of_naming_it(line: str) -> None:
    assert NAMES_USER_CATALOG.search(line)


@pytest.mark.parametrize(
    "line",
    [
        'root = tmp_path / "checks"',
        'root = tmp_path_factory.mktemp("catalog") / "checks"',
        '{"service": "api", "checks": []}',
        '("checks", "x")',
    ],
)
def test_the_source_scan_leaves_temporary_catalogs_and_the_checks_key_alone(line: str) -> None:
    assert not NAMES_USER_CATALOG.search(line)
