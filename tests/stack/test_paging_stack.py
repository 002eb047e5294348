"""Repeats and acknowledgement in the template: the function URL, the Scheduler role and what may pass
it, the link key by reference (structural walks: moto models neither function URLs, Scheduler's
assumption of a role, nor IAM conditions).

The sample catalog's critical routes repeat by the default policy (critical every 30 minutes); a
catalog whose routes neither repeat nor escalate still gets the group and the role, which the page
at an ad-hoc silence's end needs (vigil.notifier.silence_end), and nothing else.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ENV, ROOT, SAMPLE, Synth

from infra.catalog import load_catalog
from infra.notifications import NOTIFIER_HANDLER
from infra.paging import ACK_HANDLER, group_name
from infra.paging_config import paging_policy
from tests.support.function_urls import permissions_of, public_url_permissions
from vigil.notifier.repeats import (
    ACK_SECRET_ENV,
    ACK_URL_ENV,
    DEAD_LETTER_ENV,
    PAGING_ENV,
    SCHEDULE_GROUP_ENV,
    SCHEDULER_ROLE_ENV,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synth(synthesize: Callable[[Path], Synth]) -> Synth:
    return synthesize(SAMPLE)


def _function(synth: Synth, handler: str) -> tuple[str, dict]:
    (found,) = [
        (k, r) for k, r in synth.of_type("AWS::Lambda::Function").items() if r["Properties"]["Handler"] == handler
    ]
    return found


def _role_of(function: dict) -> str:
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def _statements_of(synth: Synth, role: str) -> list[dict]:
    return [
        statement
        for policy in synth.of_type("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _scheduler_role(synth: Synth) -> tuple[str, dict]:
    (found,) = [
        (k, r)
        for k, r in synth.of_type("AWS::IAM::Role").items()
        if "scheduler.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
        and k.startswith("NotificationsPaging")  # the checks' cadence schedules have roles of their own
    ]
    return found


def test_the_ack_function_url_is_auth_none_on_the_ack_function(synth: Synth) -> None:
    ack, _ = _function(synth, ACK_HANDLER)
    ((url_id, url),) = [
        (k, u)
        for k, u in synth.of_type("AWS::Lambda::Url").items()
        if u["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [ack, "Arn"]}
    ]
    assert url["Properties"]["AuthType"] == "NONE"  # the signed token is the auth
    # Public access by the URL only: InvokeFunctionUrl for auth NONE, and InvokeFunction only through the URL.
    assert permissions_of(synth.resources, ack) == public_url_permissions(ack)
    _, notifier = _function(synth, NOTIFIER_HANDLER)
    assert notifier["Properties"]["Environment"]["Variables"][ACK_URL_ENV] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}


def test_the_link_key_is_generated_and_read_by_reference(synth: Synth) -> None:
    ((secret_id, secret),) = synth.of_type("AWS::SecretsManager::Secret").items()
    assert "SecretString" not in secret["Properties"]  # the value exists only in Secrets Manager
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "key"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    for handler in (ACK_HANDLER, NOTIFIER_HANDLER):
        _, function = _function(synth, handler)
        assert function["Properties"]["Environment"]["Variables"][ACK_SECRET_ENV] == {"Ref": secret_id}
        reads = [s for s in _statements_of(synth, _role_of(function)) if "secretsmanager:GetSecretValue" in _actions(s)]
        assert any(s["Resource"] == {"Ref": secret_id} for s in reads)


@pytest.fixture(scope="module")
def no_repeats(synthesize: Callable[[Path], Synth], tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The inhibition fixture catalog with the default repeats turned off: no route repeats or escalates."""
    catalog = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(ROOT / "tests" / "fixtures" / "inhibition", catalog)
    settings = catalog / "_settings.yaml"
    settings.write_text(settings.read_text() + "paging:\n  repeat_every: {critical: null}\n")
    return synthesize(catalog)


@pytest.fixture(params=["repeats", "no repeats"])
def either(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue("synth" if request.param == "repeats" else "no_repeats")


def test_only_scheduler_of_this_account_and_group_may_assume_the_role_which_only_invokes_the_notifier_and_dead_letters(
    either: Synth,
) -> None:
    synth = either
    role_id, role = _scheduler_role(synth)
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert group_name(ENV) in json.dumps(trust["Condition"]["StringEquals"]["aws:SourceArn"])
    notifier_id, _ = _function(synth, NOTIFIER_HANDLER)
    statements = _statements_of(synth, role_id)
    assert [_actions(s) for s in statements] == [["lambda:InvokeFunction"], ["sqs:SendMessage"]]
    assert notifier_id in json.dumps(statements[0]["Resource"])
    assert len(statements[0]["Resource"]) == 2  # the function, and its versions and aliases


def test_the_notifier_passes_the_scheduler_role_to_scheduler_only_and_schedules_in_its_group(either: Synth) -> None:
    synth = either
    role_id, _ = _scheduler_role(synth)
    _, notifier = _function(synth, NOTIFIER_HANDLER)
    statements = _statements_of(synth, _role_of(notifier))
    (passing,) = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert passing["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    (creating,) = [s for s in statements if any(a.startswith("scheduler:") for a in _actions(s))]
    assert _actions(creating) == ["scheduler:CreateSchedule"]
    assert f":schedule/{group_name(ENV)}/*" in json.dumps(creating["Resource"])
    variables = notifier["Properties"]["Environment"]["Variables"]
    assert variables[SCHEDULE_GROUP_ENV] == group_name(ENV)
    assert variables[SCHEDULER_ROLE_ENV] == {"Fn::GetAtt": [role_id, "Arn"]}
    groups = [g["Properties"]["Name"] for g in synth.of_type("AWS::Scheduler::ScheduleGroup").values()]
    assert group_name(ENV) in groups


def test_the_one_shots_dead_letters_go_to_the_notifiers_failure_queue(either: Synth) -> None:
    """What Scheduler could not deliver lands where the notifier's own failures do, whose alarm pages
    self-monitoring (test_notifier_stack: a dead letter pages through self-monitoring)."""
    synth = either
    notifier_id, notifier = _function(synth, NOTIFIER_HANDLER)
    (config,) = [
        c["Properties"]
        for c in synth.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": notifier_id}
    ]
    failures = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert "NotifierFailures" in failures["Fn::GetAtt"][0]
    assert notifier["Properties"]["Environment"]["Variables"][DEAD_LETTER_ENV] == failures
    role_id, _ = _scheduler_role(synth)
    (sending,) = [s for s in _statements_of(synth, role_id) if "sqs:SendMessage" in _actions(s)]
    assert _actions(sending) == ["sqs:SendMessage"] and sending["Resource"] == failures
    # SSE-SQS: sending needs no KMS key. On vigil's key the role would need kms:GenerateDataKey and
    # kms:Decrypt on it too (EventBridge Scheduler's dead-letter queue guide).
    queue = synth.resources[failures["Fn::GetAtt"][0]]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True and "KmsMasterKeyId" not in queue


def test_the_notifier_carries_the_catalogs_paging_policy(synth: Synth) -> None:
    _, notifier = _function(synth, NOTIFIER_HANDLER)
    written = json.loads(notifier["Properties"]["Environment"]["Variables"][PAGING_ENV])
    assert written == json.loads(paging_policy(load_catalog(SAMPLE).settings).model_dump_json())
    assert written["routes"]["platform-critical"]["repeat_every"] == {"critical": 1800}
    assert "campaigns-warning" not in written["routes"]  # warnings repeat by no default


def test_the_ack_function_writes_only_the_alarm_partitions(synth: Synth) -> None:
    _, ack = _function(synth, ACK_HANDLER)
    dynamo = [s for s in _statements_of(synth, _role_of(ack)) if any(a.startswith("dynamodb:") for a in _actions(s))]
    assert [_actions(s) for s in dynamo] == [["dynamodb:UpdateItem"]]
    assert dynamo[0]["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["alarm#*"]}}


def test_without_repeats_there_is_no_ack_function_key_or_policy(no_repeats: Synth) -> None:
    handlers = [f["Properties"]["Handler"] for f in no_repeats.of_type("AWS::Lambda::Function").values()]
    assert ACK_HANDLER not in handlers
    assert no_repeats.of_type("AWS::SecretsManager::Secret") == {}
    _, notifier = _function(no_repeats, NOTIFIER_HANDLER)
    variables = notifier["Properties"]["Environment"]["Variables"]
    assert not {PAGING_ENV, ACK_URL_ENV, ACK_SECRET_ENV} & set(variables)
    reads = [s for s in _statements_of(no_repeats, _role_of(notifier)) if "dynamodb:GetItem" in _actions(s)]
    assert reads == []  # the paging record is read only to stop repeats on an acknowledgement
