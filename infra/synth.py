"""The CDK app behind `cdk synth` (app.py): environment and catalog from context, then the stack.

Synth refuses a catalog in three ways: load_catalog raises CatalogError (the catalog's own rules),
resolving tag selectors raises DiscoveryError (no listing, or a listing that does not fit), and
the construct tree's validations (each stack's resource budget, unlinked inhibitions, cdk-nag) fail
`app.synth()`, which jsii reports as a RuntimeError carrying the CDK's message. All three are answers
for the person who wrote the catalog, so they are printed as such (one line per problem, exit
1), never as a Python and JavaScript traceback. Anything else is a bug and keeps its traceback.
The budgets that only the written templates show (bytes, dashboard widgets, IAM policy sizes:
infra.budgets) are checked last, and refuse the same way.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from aws_cdk import App

from infra import budgets
from infra.catalog import CatalogError
from infra.discovery import DiscoveryError
from infra.environments import get_environment
from infra.stack import build_app, keep_for_import

# How the CDK words a failed construct validation (ValidationFailedWithErrors) and a failed policy
# validation plugin such as cdk-nag (ValidationFailed), as jsii passes them on.
_VALIDATION_ERRORS = "Validation failed with the following errors:"
_VALIDATION_KINDS = ("ValidationFailedWithErrors:", "ValidationFailed:")


def refusal(error: RuntimeError) -> list[str] | None:
    """The problems a failed CDK validation lists, one per line; None when `error` is not one."""
    message = str(error).strip()
    if not message.startswith(_VALIDATION_KINDS):
        return None
    _, _, text = message.partition(":")
    _, header, listed = text.partition(_VALIDATION_ERRORS)
    return [line.strip() for line in (listed if header else text).splitlines() if line.strip()]


def main(err: TextIO = sys.stderr) -> int:
    app = App()
    try:
        environment = get_environment(app.node.try_get_context("env"))
    except ValueError as exc:  # an unknown environment, or a malformed environments.yaml
        print(f"error: {exc}", file=err)
        return 1
    catalog = app.node.try_get_context("catalog")
    if catalog:  # `-c catalog=DIR` points any environment at another catalog (the demo uses this)
        environment = replace(environment, catalog=Path(catalog).resolve())
    listing = app.node.try_get_context("listing")
    if listing:  # `-c listing=FILE`: resolve tag selectors from a recorded listing, not the account
        environment = replace(environment, listing=Path(listing).resolve())
    try:
        _, stack = build_app(environment, app=app)
    except CatalogError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=err)
        print(f"{len(exc.problems)} problem(s) in {environment.catalog}: fix the catalog and synth again", file=err)
        return 1
    except DiscoveryError as exc:
        print(f"error: tag selector: {exc}", file=err)
        return 1
    if app.node.try_get_context("migration") == "import":  # docs/operations.md, migrating to the split
        keep_for_import(stack)
    try:
        assembly = app.synth()
    except RuntimeError as exc:
        problems = refusal(exc)
        if problems is None:
            raise
        for problem in problems:
            print(f"error: {problem}", file=err)
        print(f"synth refused the catalog in {environment.catalog}: no template was written", file=err)
        return 1
    # Bytes, widgets and IAM sizes are known only once written: the CLI then refuses the deploy.
    over = budgets.check_assembly(Path(assembly.directory))
    for problem in over:
        print(f"error: {problem}", file=err)
    if over:
        print(f"the catalog in {environment.catalog} is over a stack's budget: do not deploy", file=err)
        return 1
    return 0
