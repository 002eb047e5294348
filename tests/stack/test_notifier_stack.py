"""The notifier's infrastructure in the template: its state table, the EventBridge rule beside the
alarm actions, and least privilege for both (aws_cdk.assertions and walks of the template).

EventBridge rules and resource policies are invisible to moto, so these walks assert the AWS rules
themselves: the rule matches the state changes the notifier pages for, only this rule may invoke
the function through EventBridge, and only the notifier may touch the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_cdk.assertions import Template
from conftest import ENV, ROOT, Synth

from infra.alarm_state_rule import MAX_EVENT_AGE, RETRY_ATTEMPTS, alarm_prefix
from infra.notifications import NOTIFIER_HANDLER
from infra.notifier_state import QUERY_ACTIONS, TABLE_ACTIONS, TTL_ATTRIBUTE
from infra.paging import ACK_HANDLER
from vigil.alarm_meta import SELF_KIND, decode_description
from vigil.notifier.state import table_name

pytestmark = pytest.mark.slow

CATALOG_DIR = ROOT / "tests" / "fixtures" / "inhibition"


@pytest.fixture(scope="module")
def synth(synthesize: Callable[[Path], Synth]) -> Synth:
    return synthesize(CATALOG_DIR)


@pytest.fixture(scope="module")
def template(synth: Synth) -> Template:
    return Template.from_json(synth.template)


def _one(synth: Synth, cfn_type: str, where: Callable[[dict], bool] = lambda _: True) -> tuple[str, dict]:
    found = [(k, r) for k, r in synth.of_type(cfn_type).items() if where(r)]
    assert len(found) == 1, [k for k, _ in found]
    return found[0]


def _notifier(synth: Synth) -> tuple[str, dict]:
    return _one(synth, "AWS::Lambda::Function", lambda r: r["Properties"]["Handler"] == NOTIFIER_HANDLER)


def _table(synth: Synth) -> str:
    return _one(synth, "AWS::DynamoDB::Table")[0]


def _rule(synth: Synth) -> tuple[str, dict]:
    return _one(synth, "AWS::Events::Rule")


def _statements(policy: dict) -> list[dict]:
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


# --- the state table ------------------------------------------------------------------------------


def test_state_table_is_on_demand_encrypted_with_the_stacks_key_expiring_and_recoverable(
    synth: Synth, template: Template
) -> None:
    key_id = _one(synth, "AWS::KMS::Key")[0]
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "TableName": table_name(ENV),
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "BillingMode": "PAY_PER_REQUEST",
                "SSESpecification": {
                    "SSEEnabled": True,
                    "SSEType": "KMS",
                    "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
                },
                "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
            "DeletionPolicy": "Delete",
        },
    )


def test_the_notifier_knows_its_table_and_the_stacks_region(synth: Synth) -> None:
    _, notifier = _notifier(synth)
    variables = notifier["Properties"]["Environment"]["Variables"]
    assert variables["STATE_TABLE"] == {"Ref": _table(synth)}  # the table's name, once it exists
    assert variables["STACK_REGION"] == {"Ref": "AWS::Region"}  # the stack's region, not the event's


def test_only_the_notifier_and_the_ack_function_may_touch_the_table_and_only_as_they_need(synth: Synth) -> None:
    table = _table(synth)
    notifier_role = _notifier(synth)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    ack_role = _one(synth, "AWS::Lambda::Function", lambda r: r["Properties"]["Handler"] == ACK_HANDLER)[1]
    roles = {notifier_role: "notifier", ack_role["Properties"]["Role"]["Fn::GetAtt"][0]: "ack"}
    found = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        for statement in _statements(policy):
            actions = _as_list(statement["Action"])
            if not any(a.startswith("dynamodb:") for a in actions) and table not in json.dumps(statement):
                continue
            (role,) = policy["Properties"]["Roles"]
            assert role["Ref"] in roles, "only the notifier's and the ack function's roles"
            if any(a.startswith("dynamodb:") for a in actions):
                # No index, no other table.
                assert _as_list(statement["Resource"]) == [{"Fn::GetAtt": [table, "Arn"]}]
                found.append((roles[role["Ref"]], statement))
    by_action = {(who, *_as_list(s["Action"])): s for who, s in found}
    assert set(by_action) == {
        ("notifier", *TABLE_ACTIONS),
        ("notifier", *QUERY_ACTIONS),
        ("notifier", "dynamodb:GetItem"),  # the paging record (vigil.notifier.repeats)
        ("ack", "dynamodb:UpdateItem"),  # the acknowledgement on it
    }
    alarms_only = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["alarm#*"]}}
    assert by_action[("notifier", "dynamodb:GetItem")]["Condition"] == alarms_only
    assert by_action[("ack", "dynamodb:UpdateItem")]["Condition"] == alarms_only
    assert (tuple(TABLE_ACTIONS), tuple(QUERY_ACTIONS)) == (("dynamodb:UpdateItem",), ("dynamodb:Query",))
    by_action = {tuple(_as_list(s["Action"])): s for who, s in found if who == "notifier"}
    assert "Condition" not in by_action[("dynamodb:UpdateItem",)]
    # Reads: the silences partition only (IAM's dynamodb:LeadingKeys is the partition key).
    assert by_action[("dynamodb:Query",)]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["silences"]}
    }


def test_the_notifier_uses_the_key_for_the_table_only_through_dynamodb(synth: Synth) -> None:
    notifier_role = _notifier(synth)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [
        p for p in synth.of_type("AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [{"Ref": notifier_role}]
    ]
    via_dynamodb = [s for s in _statements(policy) if "kms:Encrypt" in _as_list(s["Action"])]
    assert len(via_dynamodb) == 1
    assert via_dynamodb[0]["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Join": ["", ["dynamodb.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}}
    }


# --- the EventBridge rule -------------------------------------------------------------------------


def test_the_rule_sends_this_environments_alarm_and_ok_changes_to_the_notifier(synth: Synth) -> None:
    notifier_id, _ = _notifier(synth)
    failures = next(k for k in synth.of_type("AWS::SQS::Queue") if "NotifierFailures" in k)
    _, rule = _rule(synth)
    props = rule["Properties"]
    assert props["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "account": [{"Ref": "AWS::AccountId"}],
        "detail": {"alarmName": [{"prefix": f"vigil-{ENV}-"}], "state": {"value": ["ALARM", "OK"]}},
    }
    assert props["State"] == "ENABLED"
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [notifier_id, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [failures, "Arn"]}}
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": MAX_EVENT_AGE.to_seconds(),
    }


def test_every_alarm_of_the_stack_is_seen_by_the_rule(synth: Synth) -> None:
    names = [
        a["Properties"]["AlarmName"]
        for cfn_type in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
        for a in synth.of_type(cfn_type).values()
    ]
    assert len(names) > 10
    assert all(name.startswith(alarm_prefix(ENV)) for name in names)


def test_vigils_own_alarms_carry_the_kind_the_notifier_leaves_alone(synth: Synth) -> None:
    # The rule sees them too; the notifier recognises them by this kind and does not page twice.
    kinds = {}
    for alarm in synth.of_type("AWS::CloudWatch::Alarm").values():
        _, meta = decode_description(alarm["Properties"]["AlarmDescription"])
        assert meta is not None
        kinds[alarm["Properties"]["AlarmName"]] = meta.kind
    own = {name for name, kind in kinds.items() if name.startswith(f"vigil-{ENV}-self-")}
    assert own and all(kinds[name] == SELF_KIND for name in own)
    assert all(kind != SELF_KIND for name, kind in kinds.items() if name not in own)


def test_only_this_rule_may_invoke_the_notifier_through_eventbridge(synth: Synth) -> None:
    notifier_id, _ = _notifier(synth)
    rule_id, _ = _rule(synth)
    by_events = [
        p["Properties"]
        for p in synth.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
    ]
    assert by_events == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [notifier_id, "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        }
    ]


def test_only_this_rule_may_put_dead_letters_in_the_notifiers_failure_queue(synth: Synth) -> None:
    rule_id, _ = _rule(synth)
    failures = next(k for k in synth.of_type("AWS::SQS::Queue") if "NotifierFailures" in k)
    _, policy = _one(synth, "AWS::SQS::QueuePolicy", lambda p: p["Properties"]["Queues"] == [{"Ref": failures}])
    by_events = [
        {k: v for k, v in s.items() if k != "Sid"}
        for s in _statements(policy)
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert by_events == [
        {
            "Action": "sqs:SendMessage",
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Resource": {"Fn::GetAtt": [failures, "Arn"]},
        }
    ]


def test_a_dead_letter_pages_through_self_monitoring(synth: Synth) -> None:
    failures = next(k for k in synth.of_type("AWS::SQS::Queue") if "NotifierFailures" in k)
    watching = [
        a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [failures, "QueueName"]}} in a["Properties"]["Dimensions"]
    ]
    assert len(watching) == 1
    assert watching[0]["AlarmName"].startswith(f"vigil-{ENV}-self-")


def test_no_finding_of_cdk_nag_is_left_unacknowledged(synth: Synth) -> None:
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []
