"""Import time of the Lambda entry modules: a cold start pays it before the first event.

Runs `python -X importtime -c "import <module>"` in fresh subprocesses (bytecode allowed and
precompiled, as in a deployed package), and prints min and median of the total cumulative import
time plus where the time goes, by top-level package. Prints figures only; never pass/fail.

    .venv/bin/python bench/import_times.py [--runs 5] [module ...]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "lambdas"
DEFAULT_MODULES = ["vigil.checkers.http", "vigil.notifier.handler"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=DEFAULT_MODULES)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    env = _env()
    _precompile(env)
    print(f"python {sys.version.split()[0]} ({sys.executable}), {args.runs} fresh runs per module\n")
    rows = []
    breakdowns = {}
    for module in args.modules:
        if not _exists(module):
            print(f"skip {module}: no such module under {LAMBDAS.relative_to(ROOT)}/ yet")
            continue
        runs = [_measure(module, env) for _ in range(args.runs)]
        totals = [total for total, _ in runs]
        rows.append((module, min(totals), statistics.median(totals)))
        breakdowns[module] = runs[totals.index(sorted(totals)[len(totals) // 2])][1]

    if rows:
        width = max(len(r[0]) for r in rows)
        print(f"{'module':<{width}}  {'min ms':>8}  {'median ms':>9}")
        for module, low, mid in rows:
            print(f"{module:<{width}}  {low:>8.1f}  {mid:>9.1f}")
        for module, by_package in breakdowns.items():
            top = sorted(by_package.items(), key=lambda kv: -kv[1])[:8]
            print(f"\n{module}, median run, self time by top-level package (ms):")
            print("  " + ", ".join(f"{name} {ms:.1f}" for name, ms in top))
    print("\nreproduce one run:")
    print(
        f"  cd {ROOT} && env -u PYTHONDONTWRITEBYTECODE PYTHONPATH=lambdas {shlex.quote(sys.executable)} -X importtime -c 'import <module>'"
    )
    return 0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a deployed package imports from bytecode
    env["PYTHONPATH"] = str(LAMBDAS)
    return env


def _precompile(env: dict[str, str]) -> None:
    # One warm-up import per module would also do it; compileall makes it explicit and covers
    # site-packages files a module imports lazily.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(LAMBDAS)], env=env, check=False)


def _exists(module: str) -> bool:
    parts = module.split(".")
    base = LAMBDAS.joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _measure(module: str, env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """(total ms of imports the statement caused, self ms by top-level package)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return _parse(done.stderr)


def _parse(stderr: str) -> tuple[float, dict[str, float]]:
    # Lines: "import time: <self us> | <cumulative us> | <two spaces per level><name>". Entries up to
    # `site` are interpreter start-up, paid by every Python process; the rest is the import.
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative_us, name = line.split("|", 2)
        entries.append((int(head.removeprefix("import time:")), int(cumulative_us), name[1:]))
    start = max((i for i, e in enumerate(entries) if e[2] == "site"), default=-1) + 1
    statement = entries[start:]
    total = sum(cum for _, cum, name in statement if not name.startswith(" "))
    by_package: dict[str, float] = defaultdict(float)
    for self_us, _, name in statement:
        by_package[name.strip().split(".")[0]] += self_us / 1000
    return total / 1000, dict(by_package)


if __name__ == "__main__":
    raise SystemExit(main())
