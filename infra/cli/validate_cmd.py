"""`python -m infra validate [DIR]`: exit 0 when the catalog is valid, 1 with one line per problem."""

from __future__ import annotations

import argparse

from infra.catalog import CatalogError, load_catalog


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", nargs="?", default="checks", help="catalog directory (default: checks)")


def run(args: argparse.Namespace) -> int:
    try:
        catalog = load_catalog(args.catalog)
    except CatalogError as exc:
        for problem in exc.problems:
            print(f"error: {problem}")
        print(f"{len(exc.problems)} problem(s) in {args.catalog}")
        return 1
    kinds = sorted({c.kind for c in catalog.checks})
    print(
        f"ok: {len(catalog.checks)} checks ({', '.join(kinds)}), {len(catalog.settings.routes)} routes in {args.catalog}"
    )
    return 0
