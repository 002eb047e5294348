"""The per-stack budgets synth applies to what it wrote: resources, bytes, widgets, IAM sizes."""

from __future__ import annotations

import json
from pathlib import Path

from infra import budgets


def _template(resources: int = 1, **extra: dict) -> dict:
    found = {f"Topic{i}": {"Type": "AWS::SNS::Topic", "Properties": {}} for i in range(resources)}
    found.update(extra)
    return {"Description": "vigil monitoring (demo): service file payments", "Resources": found}


def _write(outdir: Path, name: str, template: dict, pad: int = 0) -> None:
    (outdir / f"{name}.template.json").write_text(json.dumps(template) + " " * pad)


def test_a_stack_within_every_budget_has_no_problem(tmp_path: Path) -> None:
    _write(tmp_path, "Vigil-demo", _template(budgets.RESOURCE_BUDGET))
    assert budgets.check_assembly(tmp_path) == []


def test_too_many_resources_names_the_service_file_and_the_way_out(tmp_path: Path) -> None:
    _write(tmp_path, "nested", _template(budgets.RESOURCE_BUDGET + 1))
    (problem,) = budgets.check_assembly(tmp_path)
    assert problem.startswith("vigil monitoring (demo): service file payments: 451 CloudFormation resources")
    assert "new service file" in problem


def test_too_many_bytes_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "nested", _template(), pad=budgets.TEMPLATE_BYTES_BUDGET)
    (problem,) = budgets.check_assembly(tmp_path)
    assert "bytes, over the budget of 900,000 (CloudFormation allows 1,048,576)" in problem


def test_widgets_are_counted_through_the_references_the_cdk_joins_in() -> None:
    widget = '{"type":"alarm","properties":{"alarms":["'
    body = {
        "Fn::Join": [
            "",
            ['{"widgets":[', widget, {"Fn::GetAtt": ["A", "Arn"]}, '"]}},', widget, {"Ref": "B"}, '"]}}]}'],
        ]
    }
    assert budgets.widget_count(body) == 2


def test_a_dashboard_over_500_widgets_is_refused() -> None:
    body = json.dumps({"widgets": [{"type": "text"}] * (budgets.WIDGET_LIMIT + 1)})
    dashboard = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": body}}
    (problem,) = budgets.problems(budgets.figures("core", _template(Board=dashboard), 10))
    assert "a dashboard of 501 widgets, over CloudWatch's 500" in problem


def test_inline_policies_add_up_per_role_with_references_at_arn_length() -> None:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}}
    document = {"Version": "2012-10-17", "Statement": [statement] * 60}
    policy = {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": document, "Roles": [{"Ref": "Role"}]}}
    figures = budgets.figures("core", _template(P1=policy, P2=policy), 10)
    assert figures.role_inline_chars == [2 * budgets.policy_chars(document)]
    assert budgets.policy_chars(document) > 60 * budgets.RESOLVED_REFERENCE_CHARS
    (problem,) = budgets.problems(figures)
    assert "a role's inline policies total" in problem and "over IAM's 10240" in problem


def test_a_managed_policy_over_6144_characters_is_refused() -> None:
    document = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "x" * 6200}]}
    managed = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": document}}
    (problem,) = budgets.problems(budgets.figures("core", _template(M=managed), 10))
    assert "a managed policy of" in problem and "over IAM's 6144" in problem


def test_a_shared_roles_policies_add_up_across_nested_stacks(tmp_path: Path) -> None:
    """Each service stack's grant to the core's checker role is under IAM's total alone, but not together."""
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "x" * 6_000}]}
    core: dict = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {}}}}
    files = {}
    for name in ("svcA", "svcB"):
        asset = f"hash{name}"
        core["Resources"][name] = {
            "Type": "AWS::CloudFormation::Stack",
            "Properties": {
                "TemplateURL": {"Fn::Join": ["", ["https://s3/", f"{asset}.json"]]},
                "Parameters": {"roleRef": {"Ref": "Role"}},
            },
        }
        nested = {
            "Resources": {
                "QueryPolicy": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {"PolicyDocument": big, "PolicyName": "q", "Roles": [{"Ref": "roleRef"}]},
                }
            }
        }
        _write(tmp_path, f"{name}.nested", nested)
        files[asset] = {"source": {"path": f"{name}.nested.template.json"}}
    _write(tmp_path, "Vigil-demo", core)
    (tmp_path / "Vigil-demo.assets.json").write_text(json.dumps({"files": files}))

    [problem] = budgets.check_assembly(tmp_path)
    assert problem.startswith("Vigil-demo: a role's inline policies, with those its service stacks attach to it")
    assert f"over IAM's {budgets.ROLE_INLINE_CHARS}" in problem
