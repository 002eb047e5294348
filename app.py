#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c env=dev` (default: demo) builds the stack Vigil-<env>."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from aws_cdk import App

from infra.catalog import CatalogError
from infra.discovery import DiscoveryError
from infra.environments import get_environment
from infra.stack import build_app


def main() -> None:
    app = App()
    environment = get_environment(app.node.try_get_context("env"))
    catalog = app.node.try_get_context("catalog")
    if catalog:  # `-c catalog=DIR` points any environment at another catalog (the demo uses this)
        environment = replace(environment, catalog=Path(catalog).resolve())
    listing = app.node.try_get_context("listing")
    if listing:  # `-c listing=FILE`: resolve tag selectors from a recorded listing, not the account
        environment = replace(environment, listing=Path(listing).resolve())
    try:
        build_app(environment, app=app)
    except CatalogError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        sys.exit(f"{exc}: fix the catalog ({environment.catalog}) and synth again")
    except DiscoveryError as exc:
        sys.exit(f"tag selector: {exc}")
    app.synth()


if __name__ == "__main__":
    main()
