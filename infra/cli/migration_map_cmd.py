"""`python -m infra migration-map OLD_TEMPLATE [CDK_OUT]`: each resource of a single-stack template,
and where it lives after the split (docs/operations.md, "Migrating to one stack per service file")."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from infra.migration import migration_map, render, retained


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", help="the deployed single-stack template (aws cloudformation get-template ... )")
    parser.add_argument("cdk_out", nargs="?", default="cdk.out", help="the new cloud assembly (default: cdk.out)")
    parser.add_argument("--stack", default="Vigil-demo", help="the core stack's name (default: Vigil-demo)")
    parser.add_argument(
        "--retain", metavar="FILE", help="also write the old template with every moving resource retained on removal"
    )


def run(args: argparse.Namespace) -> int:
    old_path, outdir = Path(args.old), Path(args.cdk_out)
    try:
        old = json.loads(old_path.read_text())
        old = old.get("TemplateBody", old)  # get-template's JSON answer, or the template itself
        found = migration_map(old, outdir, args.stack)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}: give the old template's JSON and a cdk.out holding {args.stack}.template.json")
        return 1
    print(render(found, args.stack))
    if args.retain:
        Path(args.retain).write_text(json.dumps(retained(old, found, args.stack), indent=1))
    return 0
