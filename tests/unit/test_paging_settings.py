"""The `paging:` block of _settings.yaml: group_wait's forms, its limits, and what a bad one says."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_catalog_messages import SETTINGS, mutated

from infra.catalog import load_catalog
from infra.paging_settings import Paging
from tests.support.catalogs import problem_lines


@pytest.mark.parametrize(("given", "seconds"), [("30s", 30), ("2m", 120), (0, 0), ("0s", 0), ("15m", 900)])
def test_group_wait_takes_a_duration_from_zero_to_fifteen_minutes(given: object, seconds: int) -> None:
    assert Paging.model_validate({"group_wait": given}).group_wait == seconds


def test_group_wait_defaults_to_thirty_seconds(tmp_path: Path) -> None:
    catalog = load_catalog(mutated(tmp_path, SETTINGS, None, {}))
    assert catalog.settings.paging.group_wait == 30


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("16m", "less than or equal to 900"),
        ("soon", "a duration such as 30s, 5m or 1h"),
        (-5, "greater than or equal to 0"),
    ],
)
def test_a_bad_group_wait_names_the_file_the_field_and_what_is_allowed(
    tmp_path: Path, given: object, words: str
) -> None:
    [line] = problem_lines(mutated(tmp_path, SETTINGS, None, {"paging": {"group_wait": given}}))
    assert "_settings.yaml" in line and "paging.group_wait" in line and words in line, line


def test_an_unknown_paging_field_is_refused(tmp_path: Path) -> None:
    [line] = problem_lines(mutated(tmp_path, SETTINGS, None, {"paging": {"group_interval": "5m"}}))
    assert "paging.group_interval" in line, line
