"""Migrating a single-stack deployment: every resource of the old template has exactly one place in
the split, of the same type and with the same properties, so a stack refactor moves it and
CloudFormation neither deletes nor duplicates an alarm. The old template is the sample synthesized
as vigil did before the split: every check under Checks/<check id> in the one stack."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_
from conftest import ENV, SAMPLE, Synth
from constructs import Construct

from infra import assembly, stack
from infra.__main__ import main
from infra.catalog import load_catalog
from infra.checks import CheckContext
from infra.environments import Environment
from infra.kinds import KINDS
from infra.migration import migration_map
from vigil.spec.common import CheckBase

pytestmark = pytest.mark.slow

# The one resource whose content the split changes: the core dashboard keeps only vigil's own panels.
REWRITTEN = {"AWS::CloudWatch::Dashboard"}
# Created again rather than moved: one stack has one access role per AWS-reading checker, the split
# one per service file (infra/checks/access.py). Replacing an IAM role and its policy loses no alarm;
# the schedules that name it move, and the update gives them the new role's ARN.
RECREATED = {"AWS::IAM::Role", "AWS::IAM::Policy"}
ACCESS_ROLE_ARN = re.compile(r'\{"Fn::GetAtt": \["(?:[A-Za-z0-9]+\.)?Access[A-Za-z0-9]+", "Arn"\]\}')


def _recreated(old: dict, logical_id: str) -> bool:
    return logical_id.startswith("Access") and old["Resources"][logical_id]["Type"] in RECREATED


class _ChecksInTheCore:
    """Stands in for ServiceStack: the checks built straight under Checks/, as before the split."""

    def __init__(self, scope: Construct, _file_id: str, *, checks: list[CheckBase], ctx: CheckContext, **_: object):
        for check in checks:
            KINDS[check.kind].constructs().build(Construct(scope, check.id), check, ctx)
        # The core dashboard links it (the one resource whose content the split rewrites anyway).
        self.dashboard_name = _file_id


@pytest.fixture(scope="module")
def old(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    catalog = load_catalog(SAMPLE)
    assert not catalog.windows  # window rules moved by name too; this sample has none
    outdir = tmp_path_factory.mktemp("single")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stack, "ServiceStack", _ChecksInTheCore)
        app, _ = stack.build_app(
            Environment(name=ENV, catalog=SAMPLE),
            catalog=catalog,
            code=lambda_.Code.from_asset(str(asset_dir)),
            outdir=outdir,
        )
        app.synth()
    template = assembly.load(outdir, stack.stack_name(ENV))
    assert not assembly.nested_stacks(outdir, stack.stack_name(ENV))
    return template


def _properties(resource: dict) -> dict:
    # An inline policy's default name is its logical id; a new name is harmless (IAM attaches it
    # again), so it is no reason to keep the old id. A schedule's input names its access role by the
    # role's ARN, which is recreated (RECREATED): any access role reads the same.
    properties = {k: v for k, v in resource.get("Properties", {}).items() if k != "PolicyName"}
    return json.loads(ACCESS_ROLE_ARN.sub('"<access role>"', json.dumps(properties)))


def test_every_old_resource_has_exactly_one_place_of_the_same_type(old: dict, sample: Synth) -> None:
    found = migration_map(old, sample.outdir, stack.stack_name(ENV))
    assert found.lost and all(_recreated(old, lost) for lost in found.lost)
    assert sorted(m.old_id for m in found.moves) == sorted(set(old["Resources"]) - set(found.lost))
    targets = [(m.stack, m.new_id) for m in found.moves]
    assert len(set(targets)) == len(targets)
    moved = [m for m in found.moves if m.stack != stack.stack_name(ENV)]
    assert moved and all(m.type == old["Resources"][m.old_id]["Type"] for m in found.moves)
    # What the update creates: the nested stacks, each service's dashboard and access roles, nothing of a check's own.
    created = {sample.resources.get(a.replace("/", assembly.SEPARATOR), {}).get("Type") for a in found.added}
    assert created <= {None, "AWS::CloudWatch::Dashboard"} | RECREATED


def test_every_moved_resource_keeps_its_properties(old: dict, sample: Synth) -> None:
    core = stack.stack_name(ENV)
    found = migration_map(old, sample.outdir, core)
    merged_id = {
        m.old_id: m.new_id if m.stack == core else f"{m.stack}{assembly.SEPARATOR}{m.new_id}" for m in found.moves
    }
    changed = set()
    for move in found.moves:
        was = assembly.rename(old["Resources"][move.old_id], dict(merged_id))
        now = sample.resources[merged_id[move.old_id]]
        if _properties(was) != _properties(now):
            changed.add(move.type)
    assert changed <= REWRITTEN


def test_migration_map_prints_one_line_per_old_resource(old: dict, sample: Synth, tmp_path: Path, capsys) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"TemplateBody": old}))  # as `aws cloudformation get-template` answers

    assert main(["migration-map", str(path), str(sample.outdir), "--stack", stack.stack_name(ENV)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(1 for line in lines if not line.startswith("(created)")) == len(old["Resources"])
    deleted = [line.split()[0] for line in lines if line.endswith("(deleted)")]
    assert deleted and all(_recreated(old, logical_id) for logical_id in deleted)


def test_migration_map_says_what_it_needs_when_the_old_template_is_missing(tmp_path: Path, capsys) -> None:
    assert main(["migration-map", str(tmp_path / "missing.json"), str(tmp_path)]) == 1
    assert "give the old template's JSON" in capsys.readouterr().out


def test_the_retained_old_template_keeps_every_moving_resource_and_changes_nothing_else(
    old: dict, sample: Synth, tmp_path: Path
) -> None:
    path, out = tmp_path / "old.json", tmp_path / "retained.json"
    path.write_text(json.dumps(old))

    assert main(["migration-map", str(path), str(sample.outdir), "--retain", str(out)]) == 0
    retained = json.loads(out.read_text())
    found = migration_map(old, sample.outdir, stack.stack_name(ENV))
    moving = {m.old_id for m in found.moves if m.stack != stack.stack_name(ENV)}
    assert moving and retained.keys() == old.keys()
    for logical_id, resource in retained["Resources"].items():
        if logical_id in moving:
            assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
            resource = {k: v for k, v in resource.items() if k not in ("DeletionPolicy", "UpdateReplacePolicy")}
            assert resource == {
                k: v
                for k, v in old["Resources"][logical_id].items()
                if k not in ("DeletionPolicy", "UpdateReplacePolicy")
            }
        else:
            assert resource == old["Resources"][logical_id]


def test_the_import_deploy_retains_every_service_stack_resource_and_nothing_of_the_core(
    asset_dir: Path, tmp_path: Path
) -> None:
    app, core = stack.build_app(
        Environment(name=ENV, catalog=SAMPLE),
        catalog=load_catalog(SAMPLE),
        code=lambda_.Code.from_asset(str(asset_dir)),
        outdir=tmp_path,
    )
    stack.keep_for_import(core)
    app.synth()
    nested = assembly.nested_stacks(tmp_path, stack.stack_name(ENV))
    policies = {r.get("DeletionPolicy") for n in nested for r in n.template["Resources"].values()}
    assert policies == {"RetainExceptOnCreate"}
    core_resources = assembly.load(tmp_path, stack.stack_name(ENV))["Resources"].values()
    assert "RetainExceptOnCreate" not in {r.get("DeletionPolicy") for r in core_resources}
