"""The sqlserver preset against real-shaped SQL Server error log lines (tests/fixtures/sqlserver)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import get_args

import pytest
import yaml

from vigil.filter_pattern import parse
from vigil.spec.log_pattern import PRESET_PATTERNS
from vigil.spec.log_presets import PRESETS, PresetName

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "sqlserver" / "errorlog.yaml"
LINES: list[dict] = yaml.safe_load(FIXTURE.read_text())["lines"]
SQLSERVER = PRESET_PATTERNS["sqlserver"]


def matching(line: str) -> set[str]:
    return {p.name for p in SQLSERVER if parse(p.pattern).matches(line)}


@pytest.mark.parametrize("case", LINES, ids=lambda case: case["line"][23:80])
def test_each_line_matches_exactly_its_patterns(case: dict) -> None:
    assert matching(case["line"]) == set(case["matches"])


def test_the_fixture_is_big_enough_and_covers_every_pattern() -> None:
    matched = [c for c in LINES if c["matches"]]
    assert len(LINES) >= 20 and len(matched) >= 10 and len(LINES) - len(matched) >= 10
    assert {name for c in LINES for name in c["matches"]} == {p.name for p in SQLSERVER}


def test_an_error_counts_once_not_once_per_line_of_it() -> None:
    # SQL Server writes "Error: N, ..." then the message; each pattern takes exactly one of the two.
    for first, second in itertools.pairwise(LINES):
        if "Error: " in first["line"] and first["line"][:22] == second["line"][:22]:
            assert not (set(first["matches"]) & set(second["matches"])), second["line"]


def test_severities_put_data_loss_first() -> None:
    severity = {p.name: p.severity for p in SQLSERVER}
    assert {n for n, s in severity.items() if s == "critical"} == {"severity-17plus", "io-error-823", "checksum-824"}
    assert {n for n, s in severity.items() if s == "warning"} == {"read-retry-825", "deadlock", "login-failures"}


def test_login_failures_alarm_on_a_burst_and_io_errors_on_the_first() -> None:
    by_name = {p.name: p for p in SQLSERVER}
    assert by_name["login-failures"].threshold == 10 and by_name["login-failures"].window == 300
    assert by_name["io-error-823"].threshold == 1


def test_the_preset_names_are_the_catalogs_choices() -> None:
    assert set(get_args(PresetName)) == set(PRESETS) == set(PRESET_PATTERNS)


def test_the_catalog_reference_shows_the_preset_as_it_is() -> None:
    docs = (ROOT / "docs" / "catalog.md").read_text()
    for p in SQLSERVER:
        assert f"`{p.pattern}`" in docs, p.name
        assert p.explain in docs, p.name
