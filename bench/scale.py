"""vigil at catalog scale: generated catalogs of 50, 300 and 1,000 checks (5 per service file, every
kind, tests/support/scale_catalog.py) through validate and a real synth (app.py, as `cdk synth` runs it).

Per size it prints: validate's wall time, synth's wall time and peak memory (the largest process,
Python or the CDK's node), the number of stacks, the largest stack's resources and template bytes,
the largest dashboard's widgets, the largest IAM role's inline policy characters, and `plan`'s
monthly USD; `over_budget` counts the budget problems synth refused the catalog for (the templates are
still written and measured). Targets: 1,000 checks synthesize in <= 90 s; every stack <= 500 resources and 1 MB.

    .venv/bin/python bench/scale.py                    # 50, 300, 1000
    .venv/bin/python bench/scale.py --sizes 50 300

Not a test: the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]

from infra import budgets  # noqa: E402
from infra.catalog import load_catalog  # noqa: E402
from infra.plan import plan_catalog  # noqa: E402
from tests.support import scale_catalog  # noqa: E402


def timed(command: list[str], env: dict[str, str], refusal_ok: bool = False) -> float:
    """Wall seconds. A synth that refuses (exit 1 after writing its templates) is a figure, not a crash."""
    started = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if run.returncode and not (refusal_ok and run.returncode == 1):
        sys.exit(f"{' '.join(command)} failed ({run.returncode}):\n{run.stderr}")
    return time.perf_counter() - started


def measure(checks: int, work: Path) -> dict[str, object]:
    catalog = scale_catalog.write(work / f"catalog-{checks}", checks)
    outdir = work / f"cdk.out-{checks}"
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    validate = timed([sys.executable, "-m", "infra", "validate", str(catalog)], env)
    synth_env = {
        **env,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({"env": "demo", "catalog": str(catalog)}),
    }
    synth = timed([sys.executable, "app.py"], synth_env, refusal_ok=True)
    stacks = budgets.read_assembly(outdir)
    return {
        "checks": checks,
        "validate_s": round(validate, 1),
        "synth_s": round(synth, 1),
        # ru_maxrss of children: the largest single process waited for so far (KiB on Linux).
        "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
        "stacks": len(stacks),
        "max_resources": max(s.resources for s in stacks),
        "max_bytes": max(s.template_bytes for s in stacks),
        "max_widgets": max(max(s.widgets, default=0) for s in stacks),
        "max_role_chars": max(max(s.role_inline_chars, default=0) for s in stacks),
        "over_budget": len(budgets.check_assembly(outdir)),
        "plan_usd_month": plan_catalog(load_catalog(catalog))[1].cost_usd_month,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 300, 1000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-scale-") as work:
        rows = [measure(n, Path(work)) for n in args.sizes]
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + " --- |" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
