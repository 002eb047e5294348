"""Every synthesized template passes cfn-lint and cdk-nag (AwsSolutions + Serverless)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import aws_sns as sns
from conftest import SAMPLE, Synth

from infra.catalog import load_catalog
from infra.environments import Environment
from infra.stack import build_app

pytestmark = pytest.mark.slow
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
# W3005 flags the DependsOn that the CDK adds from a function to its role's policy, on purpose.
IGNORED = ["W3005"]


def lint_errors(template: Path) -> list[dict]:
    result = subprocess.run(
        [str(CFN_LINT), "--format", "json", "--ignore-checks", *IGNORED, "--", str(template)],
        capture_output=True,
        text=True,
    )
    findings = json.loads(result.stdout or "[]")
    return [f for f in findings if f["Level"] == "Error"]


def lint_all(synth: Synth) -> dict[str, list[dict]]:
    """cfn-lint's errors in every template of the synth (core and service stacks), by file name."""
    assert synth.template_files
    return {t.name: found for t in synth.template_files if (found := lint_errors(t))}


def test_cfn_lint_finds_no_errors(sample: Synth) -> None:
    assert lint_all(sample) == {}


def test_cdk_nag_reports_nothing_unacknowledged(sample: Synth) -> None:
    report = json.loads((sample.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_an_unacknowledged_finding_fails_the_synth(asset_dir: Path, tmp_path: Path) -> None:
    from aws_cdk import aws_lambda as lambda_

    app, stack = build_app(
        Environment(name="demo", catalog=SAMPLE),
        catalog=load_catalog(SAMPLE),
        code=lambda_.Code.from_asset(str(asset_dir)),
        outdir=tmp_path,
    )
    sns.Topic(stack, "Plain")  # no SSL-only policy: AwsSolutions-SNS3
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert "AwsSolutions-SNS3" in rules
