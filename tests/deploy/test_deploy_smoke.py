"""Smoke test: `cdk bootstrap` + `cdk deploy` with the pinned CDK CLI against moto_server.

Proves the templates deploy through the real CLI (asset publishing to the bootstrap bucket,
change sets, IAM capabilities) without an AWS account, and prints which template resource types
moto's CloudFormation did not create (moto accepts them and still reports CREATE_COMPLETE).
Run: .venv/bin/python -m pytest tests/deploy -m slow -s
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local_aws import REPO_ROOT
from tests.support.cdk_cli import CDK_BIN, CdkRun, bootstrap, deploy, deployed_resources
from tests.support.moto_server import client, start_moto_server

pytestmark = pytest.mark.slow

MINIMAL_APP = Path(__file__).parent / "minimal_app" / "app.py"
MINIMAL_STACK = "VigilSmoke-minimal"
VIGIL_STACK = "Vigil-demo"
DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


def _report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with capsys.disabled():
        print(f"\n{text}")


@pytest.fixture(scope="module")
def bootstrapped() -> Iterator[tuple[str, CdkRun]]:
    """One moto_server for the module, bootstrapped once (the slow part)."""
    if not CDK_BIN.exists():
        pytest.fail(f"{CDK_BIN} missing: run `npm ci` (or `make setup`)")
    with start_moto_server() as endpoint:
        run = bootstrap(endpoint)
        ssm = client("ssm", endpoint)
        assert int(ssm.get_parameter(Name="/cdk-bootstrap/hnb659fds/version")["Parameter"]["Value"]) > 0
        yield endpoint, run


def _deploy_and_check(
    endpoint: str,
    stack: str,
    capsys: pytest.CaptureFixture[str],
    bootstrap_run: CdkRun,
    output_dir: Path,
    *,
    app: str | None = None,
    context: dict[str, str] | None = None,
) -> None:
    run = deploy(endpoint, stack, app=app, output_dir=output_dir, context=context)
    summary = deployed_resources(endpoint, stack)
    _report(
        capsys,
        f"cdk bootstrap: {bootstrap_run.seconds:.1f}s; cdk deploy {stack} (synth + publish + deploy): {run.seconds:.1f}s\n"
        + summary.format(),
    )
    assert summary.status in DONE, run.output[-4000:]
    assert summary.deployed, "moto created none of the stack's resources"
    # The Lambda code asset went through the bootstrap bucket: the function must exist in moto.
    functions = {lid for lid, res in summary.deployed.items() if res.resource_type == "AWS::Lambda::Function"}
    template_functions = {lid for lid, rtype in summary.template.items() if rtype == "AWS::Lambda::Function"}
    assert functions == template_functions


def test_minimal_app_deploys_on_moto(
    bootstrapped: tuple[str, CdkRun], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    endpoint, bootstrap_run = bootstrapped
    app = f"{sys.executable} {MINIMAL_APP}"
    _deploy_and_check(endpoint, MINIMAL_STACK, capsys, bootstrap_run, tmp_path / "cdk.out", app=app)


def test_vigil_app_deploys_on_moto(
    bootstrapped: tuple[str, CdkRun], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if not (REPO_ROOT / "app.py").exists() or not (REPO_ROOT / "cdk.json").exists():
        pytest.skip("vigil's CDK app (app.py, cdk.json) is not there yet")
    endpoint, bootstrap_run = bootstrapped
    _deploy_and_check(endpoint, VIGIL_STACK, capsys, bootstrap_run, tmp_path / "cdk.out", context={"env": "demo"})
