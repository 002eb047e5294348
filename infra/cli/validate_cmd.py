"""`python -m infra validate [DIR]`: exit 0 when the catalog is valid, 1 with one line per problem."""

from __future__ import annotations

import argparse

from infra import estimate
from infra.cli.common import load_or_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", nargs="?", default="checks", help="catalog directory (default: checks)")


def run(args: argparse.Namespace) -> int:
    catalog = load_or_report(args.catalog)
    if catalog is None:
        return 1
    over = estimate.problems(catalog)
    if over:
        for problem in over:
            print(f"error: {problem}")
        print(f"{len(over)} problem(s) in {args.catalog}")
        return 1
    for file in catalog.without_checks:
        print(f"note: {file}: no checks (checks: [] or none given); delete the file if the service is gone")
    kinds = sorted({c.kind for c in catalog.checks})
    print(
        f"ok: {len(catalog.checks)} checks ({', '.join(kinds)}), {len(catalog.settings.routes)} routes in {args.catalog}"
    )
    return 0
