"""Kind heartbeat in a synthesized stack (fixture catalog tests/fixtures/heartbeat): the public function URL,
the table and its key, least-privilege roles, the alarms and where their evidence is logged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Synth, actions, role_statements, schedule_event

from infra.jitter import schedule_expression
from tests.support.function_urls import permissions_of, public_url_permissions
from vigil.alarm_meta import alarm_name, decode_description

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "tests" / "fixtures" / "heartbeat"
ENV = "demo"


@pytest.fixture(scope="module")
def stack(synthesize: Callable[[Path], Synth]) -> Synth:
    return synthesize(CATALOG)


def one(resources: dict[str, dict]) -> tuple[str, dict]:
    assert len(resources) == 1, list(resources)
    return next(iter(resources.items()))


def pings_table(stack: Synth) -> tuple[str, dict]:
    """The heartbeat's table: the stack's other one is the notifier's state table."""
    tables = stack.of_type("AWS::DynamoDB::Table")
    assert any(lid.startswith("NotificationsStateTable") for lid in tables), list(tables)
    return one({lid: t for lid, t in tables.items() if "heartbeat" in lid})


def functions_by_handler(stack: Synth) -> dict[str, tuple[str, dict]]:
    return {f["Properties"]["Handler"]: (k, f) for k, f in stack.of_type("AWS::Lambda::Function").items()}


def statements_of(stack: Synth, function_id: str) -> list[dict]:
    return role_statements(stack, stack.resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0])


def test_one_endpoint_behind_a_public_function_url_for_every_heartbeat(stack):
    endpoint_id, _ = functions_by_handler(stack)["vigil.heartbeat.endpoint.handler"]
    # The other function URL is the acknowledgement link's (infra/paging.py, tests/stack/test_paging_stack.py).
    target = {"Fn::GetAtt": [endpoint_id, "Arn"]}
    _, url = one(
        {k: u for k, u in stack.of_type("AWS::Lambda::Url").items() if u["Properties"]["TargetFunctionArn"] == target}
    )
    assert url["Properties"] == {"AuthType": "NONE", "TargetFunctionArn": target}
    # "Control access to Lambda function URLs": with AuthType NONE the resource policy must grant public access,
    # and new function URLs need both lambda:InvokeFunctionUrl and lambda:InvokeFunction (the latter only via the URL).
    assert permissions_of(stack.resources, endpoint_id) == public_url_permissions(endpoint_id)
    (output,) = [o for o in stack.template["Outputs"].values() if "heartbeat ping endpoint" in o["Description"]]
    assert output["Value"]["Fn::GetAtt"][1] == "FunctionUrl"


def test_the_table_is_encrypted_with_the_stack_key_and_expires_rows(stack):
    _, table = pings_table(stack)
    props = table["Properties"]
    (key_id,) = stack.of_type("AWS::KMS::Key")
    assert props["SSESpecification"] == {
        "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
        "SSEEnabled": True,
        "SSEType": "KMS",
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert props["KeySchema"] == [{"AttributeName": "check", "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_the_endpoint_reads_only_heartbeat_tokens_and_only_its_table(stack):
    endpoint_id, endpoint = functions_by_handler(stack)["vigil.heartbeat.endpoint.handler"]
    table_id, _ = pings_table(stack)
    (key_id,) = stack.of_type("AWS::KMS::Key")
    statements = statements_of(stack, endpoint_id)

    by_service = {a.split(":")[0] for s in statements for a in actions(s)}
    assert by_service == {"logs", "xray", "sqs", "dynamodb", "kms", "secretsmanager"}
    (secrets,) = [s for s in statements if actions(s) == ["secretsmanager:GetSecretValue"]]
    parts = secrets["Resource"]["Fn::Join"][1]
    assert "".join(p if isinstance(p, str) else "<>" for p in parts).endswith(":secret:vigil/heartbeat/*")
    (table,) = [s for s in statements if any(a.startswith("dynamodb:") for a in actions(s))]
    assert (sorted(actions(table)), table["Resource"]) == (
        ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        {"Fn::GetAtt": [table_id, "Arn"]},
    )
    (key,) = [s for s in statements if any(a.startswith("kms:") for a in actions(s))]
    assert key["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert "dynamodb." in json.dumps(key["Condition"]["StringEquals"]["kms:ViaService"])
    env = endpoint["Properties"]["Environment"]["Variables"]
    assert env["VIGIL_HEARTBEAT_TABLE"] == {"Ref": table_id}


def test_the_checker_reads_and_registers_in_the_table_and_reads_no_secret(stack):
    checker_id, checker = functions_by_handler(stack)["vigil.checkers.heartbeat.handler"]
    statements = statements_of(stack, checker_id)
    assert not [s for s in statements if any(a.startswith("secretsmanager:") for a in actions(s))]
    (table,) = [s for s in statements if any(a.startswith("dynamodb:") for a in actions(s))]
    assert sorted(actions(table)) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert "VIGIL_HEARTBEAT_TABLE" in checker["Properties"]["Environment"]["Variables"]


def test_each_heartbeat_has_a_schedule_at_its_cadence(stack):
    schedules = {
        schedule_event(s["Properties"])["check"]["id"]: s["Properties"]["ScheduleExpression"]
        for s in stack.of_type("AWS::Scheduler::Schedule").values()
    }
    assert schedules["nightly-export"] == schedule_expression("nightly-export", 300)  # every 5 minutes
    assert schedules["hourly-sync"] == "rate(1 minute)"


def test_missed_failed_and_measure_alarms_with_their_evidence_log_group(stack):
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in stack.of_type("AWS::CloudWatch::Alarm").values()}
    (log_group,) = [
        g["Properties"]["LogGroupName"]
        for g in stack.of_type("AWS::Logs::LogGroup").values()
        if g["Properties"].get("LogGroupName", "").endswith("/checkers/heartbeat")
    ]
    for signal, metric, missing in (
        ("missed", "HeartbeatMissed", "ignore"),
        ("failed", "HeartbeatFailed", "ignore"),
        ("measure", "MeasureFailed", "breaching"),
    ):
        props = alarms[alarm_name(ENV, "nightly-export", signal)]
        assert (props["Namespace"], props["MetricName"]) == ("Vigil", metric)
        assert props["Dimensions"] == [{"Name": "Check", "Value": "nightly-export"}]
        assert (props["Period"], props["TreatMissingData"]) == (300, missing)
        _, meta = decode_description(props["AlarmDescription"])
        assert meta is not None and meta.kind == "heartbeat" and meta.logs == log_group
    missed = alarms[alarm_name(ENV, "nightly-export", "missed")]
    assert (missed["Threshold"], missed["EvaluationPeriods"], missed["DatapointsToAlarm"]) == (1, 1, 1)


def test_the_endpoints_errors_page_vigils_own_route(stack):
    alarms = {a["Properties"]["AlarmName"] for a in stack.of_type("AWS::CloudWatch::Alarm").values()}
    assert {f"vigil-{ENV}-self-heartbeat-endpoint-errors", f"vigil-{ENV}-self-heartbeat-endpoint-throttles"} <= alarms
    assert f"vigil-{ENV}-self-checker-heartbeat-errors" in alarms


def test_the_lambda_asset_carries_its_own_time_zone_database(asset_dir: Path) -> None:
    """The heartbeat's functions read Europe/London with no system database (PYTHONTZPATH empty), as
    on a python3.12 runtime without /usr/share/zoneinfo: from the asset's tzdata, and only from it."""
    probe = (
        "import sys, zoneinfo; sys.path.insert(0, sys.argv[1]); import tzdata; "
        "assert tzdata.__file__.startswith(sys.argv[1]), tzdata.__file__; "
        "print(zoneinfo.ZoneInfo('Europe/London').utcoffset(__import__('datetime').datetime(2026, 7, 1)))"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONTZPATH": ""}
    # -S: no site-packages (the venv has tzdata too); the environment holds no PYTHON* variable but this one.
    run = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(asset_dir)], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1:00:00"  # British Summer Time
