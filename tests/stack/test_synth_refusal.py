"""`cdk synth` (app.py) refuses a catalog in words: one line per problem, exit 1, no traceback.

Each case runs app.py in a fresh interpreter as the CDK CLI does (context in CDK_CONTEXT_JSON,
output directory in CDK_OUTDIR), with no JSII_SILENCE_* variable set, on a fixture catalog.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.synth import refusal
from tests.support.catalogs import FIXTURE_CATALOG, REPO_ROOT

pytestmark = pytest.mark.slow

KINDS_CATALOG = REPO_ROOT / "tests" / "fixtures" / "kinds"  # the native kinds, with tag selectors

# Enough copies of the fixture's RabbitMQ check (11 resources each: its alarms and its schedule)
# to take messaging.yaml's stack past its budget of 450.
BROKER_COPIES = 42


def run_app(tmp_path: Path, **context: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JSII_SILENCE_", "CDK_"))}
    env |= {"CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path / "cdk.out")}
    return subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def assert_refused_in_words(run: subprocess.CompletedProcess[str]) -> list[str]:
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and "jsii" not in run.stderr and "end-of-life" not in run.stderr
    lines = run.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines[:-1]), run.stderr
    return lines


def test_a_catalog_over_the_resource_budget_is_refused_with_the_count_and_the_way_out(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURE_CATALOG, catalog)
    service = yaml.safe_load((catalog / "messaging.yaml").read_text())
    broker = service["checks"][0]
    service["checks"] += [{**broker, "id": f"{broker['id']}-{n}"} for n in range(BROKER_COPIES)]
    (catalog / "messaging.yaml").write_text(yaml.safe_dump(service))

    run = run_app(tmp_path, catalog=str(catalog))

    lines = assert_refused_in_words(run)
    assert re.search(r"Vigil-demo service file messaging would hold 4[5-9]\d CloudFormation resources", lines[0]), lines
    assert "over the budget of 450 (CloudFormation allows 500 per stack)" in lines[0]
    assert "new service file" in lines[0]
    assert lines[-1] == f"synth refused the catalog in {catalog}: no template was written"
    assert not list((tmp_path / "cdk.out").glob("*.template.json"))


def test_an_invalid_catalog_is_refused_with_one_line_per_problem(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURE_CATALOG, catalog)
    text = (catalog / "orders.yaml").read_text()
    (catalog / "orders.yaml").write_text(text.replace("severity: critical", "severity: urgent", 1))

    run = run_app(tmp_path, catalog=str(catalog))

    lines = assert_refused_in_words(run)
    assert lines[0] == (
        f"error: {catalog / 'orders.yaml'}:8: check orders-queue: severity: found 'urgent'; allowed: 'critical' or 'warning'"
    )
    assert lines[-1] == f"1 problem(s) in {catalog}: fix the catalog and synth again"


def test_an_unknown_environment_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    run = run_app(tmp_path, env="nope", catalog=str(FIXTURE_CATALOG))

    (line,) = assert_refused_in_words(run)
    assert line.startswith("error: unknown environment 'nope'; environments.yaml defines: demo")


def test_a_tag_selector_that_cannot_be_resolved_is_refused_in_words(tmp_path: Path) -> None:
    listing = tmp_path / "missing.json"
    run = run_app(tmp_path, catalog=str(KINDS_CATALOG), listing=str(listing))

    (line,) = assert_refused_in_words(run)
    assert line.startswith(
        f"error: tag selector: check campaign-services: selector vigil:service=campaign-api: {listing}: "
        "cannot read the listing"
    ), line
    assert not list((tmp_path / "cdk.out").glob("*.template.json"))


def test_refusal_reads_the_cdks_validation_messages() -> None:
    construct = RuntimeError(
        "ValidationFailedWithErrors: Validation failed with the following errors:\n"
        "  [Vigil-demo] too many resources\n  [Vigil-demo/Checks] an inhibitor was never built"
    )
    plugin = RuntimeError("ValidationFailed: Validation failed. A copy of this report can be found in: /o/report.json")

    assert refusal(construct) == ["[Vigil-demo] too many resources", "[Vigil-demo/Checks] an inhibitor was never built"]
    assert refusal(plugin) == ["Validation failed. A copy of this report can be found in: /o/report.json"]
    assert refusal(RuntimeError("TypeError: x is undefined")) is None
