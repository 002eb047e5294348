"""Catalog test helpers: the validation fixture catalog, and the problem lines a catalog yields."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.catalog import CatalogError, load_catalog

# A valid catalog with every kind and every settings section, for tests to copy and break.
VALIDATION_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "validation"
VALIDATION_CATALOG = VALIDATION_FIXTURES / "catalog"


def problem_lines(root: Path) -> list[str]:
    """The lines `validate` prints for the catalog at root, which must be invalid."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    return [str(p) for p in caught.value.problems]
