"""`validate`, `plan`, `test-alarms` and `run` start without the CDK; nothing vigil runs prints jsii's Node banner.

Importing aws_cdk costs ~1.5 s and starts a ~270 MB jsii Node process, which on Node 20 also
prints an end-of-life banner (as Python bytes). Only synth needs it. Each command runs in a fresh
interpreter, as a user runs it, on the fixture catalog.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from infra.jsii_env import DEPRECATED, END_OF_LIFE, quiet_node_banners
from tests.support.catalogs import FIXTURE_CATALOG, REPO_ROOT

# Runs one command as `python -m infra` would, then lists the CDK/jsii modules it loaded.
WRAPPER = """
import sys
from infra.__main__ import main
code = main(sys.argv[1:])
print("LOADED:" + ",".join(sorted(m for m in sys.modules if m.split(".")[0] in {"aws_cdk", "jsii", "constructs"})))
sys.exit(code)
"""
BANNER = "end-of-life"


def _env_without_silencers() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("JSII_SILENCE_")}


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (["validate", str(FIXTURE_CATALOG)], 0),
        (["plan", str(FIXTURE_CATALOG)], 0),
        (["test-alarms", str(FIXTURE_CATALOG)], 0),
        # run's whole module graph (local checker, signal alarms), stopped before any network call.
        (["run", "no-such-check", "--catalog", str(FIXTURE_CATALOG)], 2),
        # silence's whole module graph, stopped at the catalog's answer, before any AWS call.
        (["silence", "no-such-thing", "--for", "1h", "--reason", "x", "--catalog", str(FIXTURE_CATALOG)], 1),
    ],
    ids=["validate", "plan", "test-alarms", "run", "silence"],
)
def test_command_does_not_load_the_cdk(command: list[str], code: int) -> None:
    run = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command],
        cwd=REPO_ROOT,
        env=_env_without_silencers(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == code, run.stdout + run.stderr
    loaded = run.stdout.rsplit("LOADED:", 1)[1].strip()
    assert loaded == "", f"{command} imported {loaded}"
    assert BANNER not in run.stderr


@pytest.mark.slow
def test_importing_the_cdk_through_infra_prints_no_node_banner() -> None:
    # The user's shell sets no JSII_SILENCE_* variable; infra sets them before aws_cdk starts jsii.
    run = subprocess.run(
        [sys.executable, "-c", "import infra.synth, jsii; print('jsii started')"],
        cwd=REPO_ROOT,
        env=_env_without_silencers(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "jsii started" in run.stdout
    assert BANNER not in run.stderr and "!!" not in run.stderr, run.stderr


def test_silencing_keeps_the_users_own_list() -> None:
    environ = {END_OF_LIFE: "16, 20"}
    quiet_node_banners(environ)
    assert environ[END_OF_LIFE].split(",") == ["16", "20", "18"]
    assert environ[DEPRECATED] == "1"
    mine = {DEPRECATED: "0"}
    quiet_node_banners(mine)
    assert mine[DEPRECATED] == "0"
