"""vigil's command line: python -m infra COMMAND (validate, schema, ...)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from infra.cli import (
    demo_cmd,
    migration_map_cmd,
    plan_cmd,
    run_cmd,
    schema_cmd,
    silence_cmd,
    test_alarms_cmd,
    validate_cmd,
)

COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "validate": ("check the catalog and list every problem", validate_cmd.add_arguments, validate_cmd.run),
    "schema": ("write (or --check) the catalog's JSON Schemas", schema_cmd.add_arguments, schema_cmd.run),
    "test-alarms": ("run the alarm unit tests (CATALOG/tests)", test_alarms_cmd.add_arguments, test_alarms_cmd.run),
    "plan": ("per check: rules, detection time, monthly cost", plan_cmd.add_arguments, plan_cmd.run),
    "run": (
        "measure one check now and give its alarm verdict (exit 0 ok, 1 alarm, 2 failed)",
        run_cmd.add_arguments,
        run_cmd.run,
    ),
    "silence": (
        "silence a check or service for a while (or: silence list, silence expire ID)",
        silence_cmd.add_arguments,
        silence_cmd.run,
    ),
    "migration-map": (
        "map a single-stack template's resources to the split stacks (for stack refactoring)",
        migration_map_cmd.add_arguments,
        migration_map_cmd.run,
    ),
    "demo": (
        "run vigil end to end on a local AWS and print what on-call receives",
        demo_cmd.add_arguments,
        demo_cmd.run,
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description="vigil: monitoring as code")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    sys.exit(main())
