"""Shared synth helpers: the Lambda asset is built once per session; each module synthesizes once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

from infra import assembly, packaging
from infra.catalog import load_catalog
from infra.discovery import Source
from infra.environments import Environment
from infra.stack import build_app, stack_name
from tests.support.catalogs import FIXTURE_CATALOG

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = FIXTURE_CATALOG
ENV = "demo"


@dataclass
class Synth:
    """`template` is the merged view (infra.assembly.merged): the core and every service stack as one."""

    outdir: Path
    template: dict
    seconds: float

    @property
    def template_files(self) -> list[Path]:
        """Every template synth wrote: the core's and each service file's nested stack."""
        return sorted(self.outdir.glob("*.template.json"))

    @property
    def resources(self) -> dict[str, dict]:
        return self.template["Resources"]

    def of_type(self, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}


def schedule_event(schedule: dict) -> dict:
    """A schedule's input (its Properties) as the event the checker gets; a reference CloudFormation
    resolves at deploy (an access role's ARN) reads `<LogicalId.Attribute>`."""
    value = schedule["Target"]["Input"]
    if isinstance(value, dict):
        value = "".join(
            part if isinstance(part, str) else "<{}.{}>".format(*part["Fn::GetAtt"]) for part in value["Fn::Join"][1]
        )
    return json.loads(value)


def synth(catalog_dir: Path, outdir: Path, asset_dir: Path, env: str = ENV, discovery: Source | None = None) -> Synth:
    """`discovery`: where tag selectors find their resources (a recorded listing in tests)."""
    started = time.perf_counter()
    # A Code object binds to one stack, so each app gets its own; the directory is shared.
    app, _ = build_app(
        Environment(name=env, catalog=catalog_dir),
        catalog=load_catalog(catalog_dir),
        code=lambda_.Code.from_asset(str(asset_dir)),
        outdir=outdir,
        discovery=discovery,
    )
    app.synth()
    template = assembly.merged(outdir, stack_name(env))
    return Synth(outdir=outdir, template=template, seconds=time.perf_counter() - started)


@pytest.fixture(scope="session")
def asset_dir() -> Path:
    return packaging.build()


@pytest.fixture(scope="session")
def synthesize(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Synth]:
    return lambda catalog_dir: synth(catalog_dir, tmp_path_factory.mktemp("cdk.out"), asset_dir)


@pytest.fixture(scope="module")
def sample(synthesize: Callable[[Path], Synth]) -> Synth:
    return synthesize(SAMPLE)


def role_statements(synth: Synth, role_id: str) -> list[dict]:
    """Every statement of the policies attached to one role (a logical id)."""
    return [
        s
        for p in synth.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions(statement: dict) -> list[str]:
    """A statement's actions as a list (CloudFormation gives one action as a string)."""
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def secret_statements(synth: Synth, role: str | None = None) -> list[dict]:
    """Every statement naming secretsmanager:GetSecretValue, of one role's policies (a logical id) or all."""
    return [
        s
        for p in synth.of_type("AWS::IAM::Policy").values()
        if role is None or {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])
    ]


def resource_tail(statement: dict) -> str:
    """The statement's one resource, from `:secret:` on (`:secret:vigil/*`)."""
    return ":secret:" + json.dumps(statement["Resource"]).split(":secret:")[-1].split('"')[0]


def assert_reads_catalog_secrets_by_prefix(statements: list[dict]) -> None:
    """infra.secret_convention: one Allow on vigil/*, one Deny on the heartbeat tokens, nothing listed."""
    assert sorted((s["Effect"], resource_tail(s)) for s in statements) == [
        ("Allow", ":secret:vigil/*"),
        ("Deny", ":secret:vigil/heartbeat/*"),
    ]
