"""Kind `consistency` in the sample catalog's stack: the checker's grants (a DynamoDB or S3 side's
in its service's access role), the reports bucket, the Step Functions scale-out, and the drift alarm."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from aws_cdk.assertions import Match, Template
from conftest import ENV, SAMPLE, Synth, actions, role_statements, schedule_event

from infra import packaging
from infra.checks.consistency import PARQUET_TMP_MB
from vigil.alarm_meta import alarm_name, decode_description
from vigil.checkers.consistency import REPORTS_BUCKET, STATE_MACHINE
from vigil.checkers.runner import ACCESS_ROLE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def template(sample: Synth) -> Template:
    return Template.from_json(sample.template)


def _checker(sample: Synth) -> dict:
    found = [
        f["Properties"]
        for f in sample.of_type("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "vigil.checkers.consistency.handler"
    ]
    assert len(found) == 1  # both sample checks share one placement, so one function
    return found[0]


def test_checker_knows_its_reports_bucket_and_state_machine(sample: Synth) -> None:
    assert _checker(sample)["MemorySize"] == 1769
    env = _checker(sample)["Environment"]["Variables"]
    assert "Ref" in env[REPORTS_BUCKET]
    arn = json.dumps(env[STATE_MACHINE])
    assert f"stateMachine:vigil-{ENV}-consistency-vpc-" in arn and "Ref" not in arn.replace('"Ref": "AWS::', "")


def test_reports_bucket_is_kms_encrypted_ssl_only_and_expires(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like({"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})})
                ]
            },
            "LifecycleConfiguration": {"Rules": [Match.object_like({"ExpirationInDays": 90, "Status": "Enabled"})]},
            "PublicAccessBlockConfiguration": Match.object_like({"BlockPublicPolicy": True}),
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def _schedules(sample: Synth) -> dict[str, dict]:
    """Each consistency check's schedule input, by check id."""
    events = [schedule_event(s["Properties"]) for s in sample.of_type("AWS::Scheduler::Schedule").values()]
    return {e["check"]["id"]: e for e in events if e["check"]["kind"] == "consistency"}


def test_the_access_role_may_read_only_the_named_table_and_prefix(sample: Synth) -> None:
    events = _schedules(sample)
    # Both sample checks are one service's, with one checker: one access role, named by both.
    roles = {events[c][ACCESS_ROLE] for c in ("campaign-results-dynamodb", "campaign-results-export")}
    assert len(roles) == 1
    role_id = roles.pop().strip("<>").removesuffix(".Arn")
    assert sample.resources[role_id]["Properties"]["Path"] == f"/vigil-{ENV}/consistency/"
    statements = role_statements(sample, role_id)
    scan = [s for s in statements if s["Action"] == ["dynamodb:Scan", "dynamodb:DescribeTable"]]
    assert len(scan) == 1 and "table/campaign-results" in json.dumps(scan[0]["Resource"])
    get = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert len(get) == 1 and ":s3:::campaign-exports/results/latest/*" in json.dumps(get[0]["Resource"])
    listing = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert len(listing) == 1 and ':s3:::campaign-exports"' in json.dumps(listing[0]["Resource"])
    assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": ["results/latest/*"]}}
    assert len(statements) == 3  # nothing else: the reports bucket and Step Functions are the function's


def test_the_function_role_keeps_only_what_every_check_shares(sample: Synth) -> None:
    function_role = _checker(sample)["Role"]["Fn::GetAtt"][0]
    granted = {a for s in role_statements(sample, function_role) for a in actions(s)}
    assert {"states:StartExecution", "s3:PutObject", "sts:AssumeRole"} <= granted
    assert not granted & {"dynamodb:Scan", "dynamodb:DescribeTable", "s3:GetObject", "s3:ListBucket"}


def test_state_machine_maps_buckets_then_gathers(sample: Synth) -> None:
    machines = sample.of_type("AWS::StepFunctions::StateMachine")
    assert len(machines) == 1
    props = next(iter(machines.values()))["Properties"]
    assert props["TracingConfiguration"] == {"Enabled": True}
    definition = json.loads(
        "".join(p if isinstance(p, str) else "ARN" for p in props["DefinitionString"]["Fn::Join"][1])
    )
    buckets = definition["States"]["Buckets"]
    assert definition["StartAt"] == "Buckets" and buckets["Type"] == "Map" and buckets["ItemsPath"] == "$.buckets"
    assert buckets["MaxConcurrency"] == 10 and buckets["ItemSelector"]["phase"] == "bucket"
    # Each bucket reads in the access role the scheduled run passes on (null without one).
    assert buckets["ItemSelector"][f"{ACCESS_ROLE}.$"] == f"$.{ACCESS_ROLE}"
    assert buckets["Next"] == "Gather" and buckets["Catch"][0]["Next"] == "GatherFailure"
    assert definition["States"]["Gather"]["Catch"][0]["Next"] == "GatherFailure"
    # A backstop: a stuck execution ends as ExecutionsTimedOut, which the scale-out alarm counts.
    assert definition["TimeoutSeconds"] == (103 + 2) * _checker(sample)["Timeout"]
    # payload_response_only: the direct Lambda integration, whose Parameters are the payload itself.
    assert definition["States"]["Gather"]["Parameters"]["phase"] == "gather"
    assert definition["States"]["GatherFailure"]["Parameters"]["error.$"] == "$.error"


def test_drift_alarm_reads_the_differences_total(sample: Synth) -> None:
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in sample.of_type("AWS::CloudWatch::Alarm").values()}
    drift = alarms[alarm_name(ENV, "campaign-results-dynamodb", "drift")]
    assert drift["MetricName"] == "Differences" and drift["Threshold"] == 0
    assert drift["ComparisonOperator"] == "GreaterThanThreshold" and drift["Period"] == 3600


def test_failed_timed_out_or_aborted_executions_page_vigils_own_route(sample: Synth) -> None:
    """What no Catch reports (States.DataLimitExceeded, the execution's timeout, an abort) would
    leave the handed-off run with MeasureFailed=0 and nothing else: this alarm pages for it."""
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in sample.of_type("AWS::CloudWatch::Alarm").values()}
    found = [
        p
        for name, p in alarms.items()
        if name.startswith(f"vigil-{ENV}-self-checker-consistency-") and name.endswith("-scale-out")
    ]
    assert len(found) == 1  # one state machine: both sample checks share one checker function
    alarm = found[0]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["EvaluationPeriods"] == 1 and alarm["TreatMissingData"] == "notBreaching"
    expression = next(m for m in alarm["Metrics"] if "Expression" in m)
    assert expression["ReturnData"] is True
    assert expression["Expression"] == "FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0)"
    counted = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {k: (v["Metric"]["Namespace"], v["Metric"]["MetricName"], v["Stat"]) for k, v in counted.items()} == {
        "failed": ("AWS/States", "ExecutionsFailed", "Sum"),
        "timed_out": ("AWS/States", "ExecutionsTimedOut", "Sum"),
        "aborted": ("AWS/States", "ExecutionsAborted", "Sum"),
    }
    machine = next(iter(sample.of_type("AWS::StepFunctions::StateMachine")))
    assert all(
        v["Metric"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}] for v in counted.values()
    )
    meta = decode_description(alarm["AlarmDescription"])[1]
    assert meta is not None and meta.kind == "self"
    assert alarm["AlarmActions"] and alarm["OKActions"]


def test_drift_keeps_its_state_when_a_run_cannot_measure(sample: Synth) -> None:
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in sample.of_type("AWS::CloudWatch::Alarm").values()}
    for check in ("campaign-results-dynamodb", "campaign-results-export"):
        assert alarms[alarm_name(ENV, check, "drift")]["TreatMissingData"] == "ignore"


# -- SQL sides only: read through secrets, so no access role ------------------------------------

SQL_ONLY = {
    "id": "results-replica",
    "kind": "consistency",
    "severity": "warning",
    "cadence": "1h",
    "source": {"type": "sql", "engine": "postgresql", "table": "results"},
    "source_secret": "campaign-db-readonly",
    "target": {"type": "sql", "engine": "postgresql", "table": "results_replica"},
    "target_secret": "campaign-db-readonly",
    "key": {"column": "id", "type": "int"},
    "fields": {"spend": "decimal(2)"},
    "mode": "step_functions",
}


@pytest.fixture(scope="module")
def sql_only(synthesize: Callable[[Path], Synth], tmp_path_factory: pytest.TempPathFactory) -> Synth:
    root = tmp_path_factory.mktemp("catalog") / "catalog"
    root.mkdir()
    shutil.copy(SAMPLE / "_settings.yaml", root)
    service = {"service": "campaign-replica", "team": "campaigns", "checks": [SQL_ONLY]}
    (root / "replica.yaml").write_text(yaml.safe_dump(service))
    return synthesize(root)


def test_a_check_with_only_sql_sides_has_no_access_role(sql_only: Synth) -> None:
    event = _schedules(sql_only)["results-replica"]
    assert ACCESS_ROLE not in event
    paths = [r["Properties"].get("Path") for r in sql_only.of_type("AWS::IAM::Role").values()]
    assert f"/vigil-{ENV}/consistency/" not in paths
    # Nothing to assume, so the function's role may assume nothing.
    function_role = _checker(sql_only)["Role"]["Fn::GetAtt"][0]
    assert not any("sts:AssumeRole" in actions(s) for s in role_statements(sql_only, function_role))


# -- Parquet: the consistency checker's own asset (+ pyarrow), /tmp sized for downloads ----------


def _function(synth: Synth, handler: str) -> dict:
    found = [
        f["Properties"]
        for f in synth.of_type("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == handler
    ]
    assert len(found) == 1
    return found[0]


@pytest.fixture(scope="module")
def parquet(synthesize: Callable[[Path], Synth], tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The sample catalog with its S3 export read as Parquet."""
    root = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(SAMPLE, root)
    path = root / "campaign-consistency.yaml"
    text = path.read_text()
    assert text.count("format: jsonl") == 1
    path.write_text(text.replace("format: jsonl", "format: parquet"))
    return synthesize(root)


def test_only_the_consistency_checker_ships_pyarrow(sample: Synth) -> None:
    consistency = _function(sample, "vigil.checkers.consistency.handler")["Code"]
    http = _function(sample, "vigil.checkers.http.handler")["Code"]
    notifier = [
        f["Properties"]["Code"]
        for f in sample.of_type("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler", "").startswith("vigil.notifier")
    ]
    assert consistency["S3Key"] != http["S3Key"]
    # Every other function keeps the one shared asset.
    others = [
        f["Properties"]["Code"]["S3Key"]
        for f in sample.of_type("AWS::Lambda::Function").values()
        if "Handler" in f["Properties"] and f["Properties"]["Handler"] != "vigil.checkers.consistency.handler"
    ]
    assert notifier and set(others) == {http["S3Key"]}


def test_the_assets_differ_by_pyarrow_and_fit_in_lambda(asset_dir: Path) -> None:
    own = packaging.build(packaging.requirements_for("consistency"))
    assert packaging.requirements_for("http") == packaging.REQUIREMENTS
    assert (own / "pyarrow" / "parquet").is_dir() and not (asset_dir / "pyarrow").exists()
    unzipped = sum(p.stat().st_size for p in own.rglob("*") if p.is_file())
    assert unzipped < 250 * 10**6  # Lambda's limit on a function's unzipped code is 250 MB


def test_a_parquet_side_gets_tmp_for_its_downloads(sample: Synth, parquet: Synth) -> None:
    assert "EphemeralStorage" not in _checker(sample)  # JSON Lines streams: the default 512 MB
    assert _checker(parquet)["EphemeralStorage"] == {"Size": PARQUET_TMP_MB}
