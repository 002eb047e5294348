"""Access roles (infra.checks.access), walked in the synthesized templates, since moto checks no
IAM policy: schedule → the role its input names → that role's trust → the function the schedule
invokes → the function role's permission to assume it → the grants in the role.

The AWS rules asserted:
- A role's ARN carries its path: arn:aws:iam::ACCOUNT:role/PATH/NAME (IAM identifiers,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns),
  so a resource `role/vigil-<env>/<kind>/*` covers exactly the roles created under that path.
- Assuming a role needs both the role's trust policy to name the caller and the caller's own
  policy to allow sts:AssumeRole on the role
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html).
- IAM limits a role's inline policies to 10,240 characters in all
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): what the shared
  checker roles hold must not grow with the catalog.
"""

from __future__ import annotations

import fnmatch

import pytest
from conftest import SAMPLE, Synth, actions, schedule_event

from infra.catalog import load_catalog

pytestmark = pytest.mark.slow
ENV = "demo"
CATALOG = load_catalog(SAMPLE)
# Per-check grants that must live in access roles only, never in a shared checker role.
PER_CHECK_ACTIONS = {"logs:StartQuery", "sqs:GetQueueAttributes", "dynamodb:Scan", "s3:GetObject", "s3:ListBucket"}


def _text(value: object) -> str:
    """An ARN built with Fn::Join, as one string with pseudo parameters named."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]  # type: ignore[index]
    return "".join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)


def _resources(statement: dict) -> list[object]:
    return statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]


def _policies_of(sample: Synth, role_id: str) -> list[tuple[str, dict]]:
    return [
        (policy_id, statement)
        for policy_id, policy in sample.of_type("AWS::IAM::Policy").items()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _walk(sample: Synth) -> list[tuple[str, dict, str, str]]:
    """Each schedule naming an access role: (schedule, its properties, the role's id, the kind)."""
    found = []
    for schedule_id, schedule in sample.of_type("AWS::Scheduler::Schedule").items():
        event = schedule_event(schedule["Properties"])
        named = event.get("access_role")
        if named is not None:
            role_id, attribute = named.strip("<>").rsplit(".", 1)
            assert attribute == "Arn", named
            found.append((schedule_id, schedule, role_id, event["check"]["kind"]))
    return found


def test_every_access_role_admits_only_the_function_its_schedule_invokes_and_that_function_may_assume_it(
    sample: Synth,
) -> None:
    walked = _walk(sample)
    # The sample has a logs_query check, an sqs prefix check and consistency checks with a DynamoDB
    # and an S3 side: the walk must reach all three kinds.
    assert {kind for *_, kind in walked} == {"consistency", "logs_query", "sqs"}
    resources = sample.resources
    for schedule_id, schedule, role_id, kind in walked:
        role = resources[role_id]
        assert role["Type"] == "AWS::IAM::Role"
        path = role["Properties"]["Path"]
        assert path == f"/vigil-{ENV}/{kind}/"
        function_id = schedule["Properties"]["Target"]["Arn"]["Fn::GetAtt"][0]
        function_role_id = resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert (trust["Effect"], trust["Action"]) == ("Allow", "sts:AssumeRole")
        assert trust["Principal"] == {"AWS": {"Fn::GetAtt": [function_role_id, "Arn"]}}
        assumable = [
            _text(resource)
            for _, statement in _policies_of(sample, function_role_id)
            if "sts:AssumeRole" in actions(statement) and statement["Effect"] == "Allow"
            for resource in _resources(statement)
        ]
        assert assumable == [f"arn:<AWS::Partition>:iam::<AWS::AccountId>:role/vigil-{ENV}/{kind}/*"]
        role_arn = f"arn:<AWS::Partition>:iam::<AWS::AccountId>:role{path}AnyGeneratedName"
        assert fnmatch.fnmatchcase(role_arn, assumable[0])
        # The schedule waits for the role's grants: a first run without them would page AccessDenied.
        policy_ids = {policy_id for policy_id, _ in _policies_of(sample, role_id)}
        assert policy_ids and policy_ids <= set(schedule["DependsOn"]), schedule_id


def test_per_check_grants_live_in_access_roles_never_in_a_shared_checker_role(sample: Synth) -> None:
    functions = sample.of_type("AWS::Lambda::Function").values()
    checker_roles = {
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in functions
        if f["Properties"].get("Handler", "").startswith("vigil.checkers.")
    }
    assert checker_roles
    for role_id in checker_roles:
        for _, statement in _policies_of(sample, role_id):
            if PER_CHECK_ACTIONS & set(actions(statement)):
                # Only on vigil's own resources (the failure queue), never on a user's log groups,
                # queues, tables or exports.
                assert all(isinstance(r, dict) and "Fn::GetAtt" in r for r in _resources(statement)), statement
    access_roles = {role_id for _, _, role_id, _ in _walk(sample)}
    granted = {action for role_id in access_roles for _, s in _policies_of(sample, role_id) for action in actions(s)}
    assert granted >= PER_CHECK_ACTIONS
