"""Invocations per second and concurrency of vigil's checker functions at 10,000 checks, on paper.

    .venv/bin/python -m bench.load_at_scale [CATALOG] [N]

The catalog's mix of checks (default: the fixture catalog, every kind) repeated to N checks
(default 10,000), through infra.sizing: what the stack would reserve, and what it would use.
Prints a Markdown table (docs/operations.md, "Runtime at scale").
"""

from __future__ import annotations

import sys
from functools import reduce
from pathlib import Path

from infra.catalog import load_catalog
from infra.sizing import ACCOUNT_UNRESERVED_MINIMUM, catalog_load, scaled

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> None:
    catalog = load_catalog(Path(argv[0]) if argv else ROOT / "tests" / "fixtures" / "catalog")
    n = int(argv[1]) if len(argv) > 1 else 10_000
    loads = catalog_load(scaled(catalog.checks, n))
    total = reduce(lambda a, b: a + b, loads)
    print(f"{n:,} checks ({len(catalog.checks)}-check mix of {catalog.root}), {total.checks:,} of them run a checker")
    print()
    print("| checker function | checks | invocations/s | typical concurrency | worst concurrency | reserved |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in [*loads, total]:
        print(
            f"| {row.name} | {row.checks:,} | {row.invocations_per_second:.2f} | {row.typical_concurrency:.1f} "
            f"| {row.worst_concurrency:,} | {row.reserved:,} |"
        )
    print()
    print(
        f"reserved in all: {total.reserved:,}; the account must keep {ACCOUNT_UNRESERVED_MINIMUM} unreserved, "
        f"so its concurrency quota must be at least {total.reserved + ACCOUNT_UNRESERVED_MINIMUM:,}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
