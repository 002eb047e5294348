"""What every command that reads the catalog shares: load it, or print every problem and stop."""

from __future__ import annotations

from infra.catalog import Catalog, CatalogError, load_catalog


def load_or_report(directory: str, hint: str = "") -> Catalog | None:
    """The catalog, or None after printing one line per problem (never a traceback)."""
    try:
        return load_catalog(directory)
    except CatalogError as exc:
        for problem in exc.problems:
            print(f"error: {problem}")
        print(f"{len(exc.problems)} problem(s) in {directory}{hint}")
        return None
