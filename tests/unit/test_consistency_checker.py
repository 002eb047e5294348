"""The consistency checker end to end on moto: a DynamoDB source, an S3 JSON Lines target, the
reports bucket, and the Step Functions hand-off (plan → one call per bucket → gather) giving the
same answer as a run inside the Lambda; both read the stores in the access role the schedule names
(moto records every AssumeRole)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sts.models import sts_backends
from pydantic import ValidationError

from tests.support.emf import emf_lines, metric_values
from vigil.checkers import aws
from vigil.checkers import consistency as checker
from vigil.checkers.runner import ACCESS_ROLE, CannotMeasure, make_event
from vigil.consistency.model import KeyType
from vigil.spec.consistency import ConsistencyCheck

ROWS = 300
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/vigil-demo/consistency/VigilCampaignsAccess"


def spec(**overrides: Any) -> ConsistencyCheck:
    check = {
        "id": "results-copy",
        "kind": "consistency",
        "service": "campaigns",
        "severity": "warning",
        "cadence": 3600,
        "source": {"type": "dynamodb", "table": "results", "segments": 2},
        "target": {"type": "s3", "bucket": "exports", "prefix": "results/", "format": "jsonl", "key": "result_id"},
        "key": {"column": "id", "type": "int"},
        "fields": {"spend": "decimal(2)", "at": "timestamp(0)"},
        "buckets": 4,
        "row_threshold": 20,
        "mode": "in_lambda",
        "timeout": 60,
    }
    return ConsistencyCheck.model_validate(check | overrides)


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    """The checker keeps its AWS clients across runs (vigil.checkers.aws): none may outlive a mock."""
    aws.clear_cache()
    yield
    aws.clear_cache()


def _assumed() -> list[str]:
    return [role.role_arn for role in sts_backends[DEFAULT_ACCOUNT_ID]["aws"].assumed_roles]


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """(service, role) of every client the checker opens through vigil.checkers.aws."""
    opened: list[tuple[str, str | None]] = []
    real = aws.client

    def client(service: str, role: str | None, **kwargs: Any) -> Any:
        opened.append((service, role))
        return real(service, role, **kwargs)

    monkeypatch.setattr(aws, "client", client)
    return opened


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="results",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(1, ROWS + 1):
            dynamodb.put_item(
                TableName="results",
                Item={"id": {"N": str(i)}, "spend": {"N": f"{i}.5"}, "at": {"S": f"2024-05-01T10:{i % 60:02d}:00Z"}},
            )
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="exports")
        s3.create_bucket(Bucket="reports")
        lines = [
            {"result_id": str(i), "spend": i + 0.5, "at": f"2024-05-01T12:{i % 60:02d}:00+02:00"}
            for i in range(1, ROWS + 1)
            if i != 42
        ]
        lines[9]["spend"] = 0  # id 10 changed
        lines.append({"result_id": "9000", "spend": 1, "at": "2024-05-01T00:00:00Z"})  # extra
        body = "".join(json.dumps(line) + "\n" for line in lines)
        s3.put_object(Bucket="exports", Key="results/part-0.jsonl", Body=body.encode())
        monkeypatch.setenv(checker.REPORTS_BUCKET, "reports")
        yield s3


def test_in_lambda_run_reports_metrics_samples_and_the_report(stores: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result = checker.handler(make_event(spec(), {}), None)
    assert result["status"] == "ok", result
    assert result["reason_code"] == "drift"
    assert sorted(result["samples"]) == ["changed: 10", "extra: 9000", "missing: 42"]
    values = metric_values(emf_lines(capsys.readouterr().out)[-1])
    assert values["Missing"] == values["Extra"] == values["Changed"] == 1
    assert values["Differences"] == 3 and values["SourceRows"] == ROWS and values["MeasureFailed"] == 0
    report = result["details"]["report"]
    assert report.startswith("s3://reports/results-copy/")
    body = stores.get_object(Bucket="reports", Key=report.removeprefix("s3://reports/"))["Body"].read()
    assert sorted(json.loads(line)["key"] for line in body.splitlines()) == ["10", "42", "9000"]


def hand_off(check: ConsistencyCheck, monkeypatch: pytest.MonkeyPatch, role: str | None = None) -> dict[str, Any]:
    """The scheduled run hands off to a state machine; the execution's input, as Step Functions has it."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="scale-out",
        definition='{"StartAt":"x","States":{"x":{"Type":"Pass","End":true}}}',
        roleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/sfn",
    )
    monkeypatch.setenv(checker.STATE_MACHINE, machine["stateMachineArn"])
    handed = checker.handler(make_event(check, {}, access_role=role), None)
    assert handed["status"] == "ok" and handed["details"]["handed_off"] is True, handed
    return json.loads(sfn.describe_execution(executionArn=handed["details"]["execution"])["input"])


def bucket_events(state: dict[str, Any]) -> list[dict[str, Any]]:
    """What the Map state's ItemSelector (infra.checks.consistency.state_machine) builds for each
    bucket, through JSON as Step Functions passes it."""
    shared = {k: state[k] for k in ("check", "secrets", "cutoff", "run", ACCESS_ROLE)}
    return json.loads(
        json.dumps([{"phase": "bucket", "bucket": b, "index": n, **shared} for n, b in enumerate(state["buckets"])])
    )


def gather(state: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """The Gather state's payload, run."""
    return checker.handler(
        {"phase": "gather", **{k: state[k] for k in ("check", "secrets", "run", "plan")}, "results": results}, None
    )


def test_step_functions_hand_off_gives_the_same_answer(stores: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    state = hand_off(spec(mode="step_functions"), monkeypatch)
    assert state[ACCESS_ROLE] is None  # present, for the Map's path, and null: the caller's own
    results = [checker.handler(event, None) for event in bucket_events(state)]
    gathered = gather(state, results)
    assert gathered["values"]["Differences"] == 3 and sorted(gathered["samples"]) == [
        "changed: 10",
        "extra: 9000",
        "missing: 42",
    ]
    parts = stores.list_objects_v2(Bucket="reports", Prefix=f"results-copy/{state['run']}/")["Contents"]
    assert len(parts) == len([r for r in results if sum(r["counts"].values())])


def test_a_failed_bucket_makes_the_gather_report_could_not_measure(stores: Any) -> None:
    event = {"phase": "gather", "check": spec().model_dump(mode="json"), "secrets": {}, "run": "r", "plan": {}}
    result = checker.handler(event | {"error": {"Error": "States.TaskFailed", "Cause": "bucket 3 timed out"}}, None)
    assert result["status"] == "failed" and "bucket 3 timed out" in result["reason"]


def test_an_unreachable_store_is_a_failed_measurement_not_a_clean_result(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():  # no table, no bucket
        result = checker.handler(make_event(spec(), {}), None)
    assert result["status"] == "failed" and result["values"] == {}


# -- the access role: DynamoDB and S3 sides read in the role the schedule names -------------------


def test_the_stores_are_read_in_the_role_the_schedule_names(stores: Any, clients: list, capsys) -> None:
    result = checker.handler(make_event(spec(), {}, access_role=ROLE), None)
    assert result["status"] == "ok" and sorted(result["samples"]) == ["changed: 10", "extra: 9000", "missing: 42"]
    assert sorted(clients) == [("dynamodb", ROLE), ("s3", ROLE)]
    assert _assumed() == [ROLE]
    # The report is the function's own: uploaded with its credentials, into its reports bucket.
    assert stores.list_objects_v2(Bucket="reports")["KeyCount"] == 1


def test_without_a_role_the_stores_are_read_as_the_caller(stores: Any, clients: list) -> None:
    result = checker.handler(make_event(spec(), {}), None)
    assert result["status"] == "ok" and result["reason_code"] == "drift"
    assert sorted(clients) == [("dynamodb", None), ("s3", None)]
    assert _assumed() == []


def test_each_bucket_step_functions_drills_reads_in_the_same_role(
    stores: Any, clients: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = hand_off(spec(mode="step_functions"), monkeypatch, role=ROLE)
    assert state[ACCESS_ROLE] == ROLE
    events = bucket_events(state)
    assert events
    aws.clear_cache()  # each Map iteration may land on a new Lambda: its own AssumeRole
    clients.clear()
    results = [checker.handler(event, None) for event in events]
    assert set(clients) == {("dynamodb", ROLE), ("s3", ROLE)} and len(clients) == 2 * len(events)
    assert _assumed() == [ROLE, ROLE]  # the scheduled run's, then the buckets' (kept across them)
    assert gather(state, results)["values"]["Differences"] == 3


def _refuse_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    """STS refuses every access role; the function's own credentials still work."""
    own = aws._open

    def refuse(session: Any, role: str | None) -> Any:
        if role is None:
            return own(session, role)
        error = {"Code": "AccessDenied", "Message": f"not authorized to perform: sts:AssumeRole on resource: {role}"}
        raise ClientError({"Error": error}, "AssumeRole")

    monkeypatch.setattr(aws, "_open", refuse)


def test_a_role_that_cannot_be_assumed_cannot_measure(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _refuse_roles(monkeypatch)
    with mock_aws():
        result = checker.handler(make_event(spec(), {}, access_role=ROLE), None)
    assert (result["status"], result["reason_code"]) == ("failed", "access_denied")
    assert ROLE in result["reason"] and result["values"] == {}
    values = metric_values(emf_lines(capsys.readouterr().out)[-1])
    assert values == {"MeasureFailed": 1}


def test_a_bucket_whose_role_cannot_be_assumed_fails_the_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """Raised, so the Map fails and GatherFailure reports could not measure
    (test_a_failed_bucket_makes_the_gather_report_could_not_measure)."""
    _refuse_roles(monkeypatch)
    event = {
        "phase": "bucket",
        "bucket": [None, None, 1, "1", 1, "2"],
        "index": 0,
        "check": spec(mode="step_functions").model_dump(mode="json"),
        "secrets": {},
        "cutoff": "2024-05-01T00:00:00+00:00",
        "run": "r",
        ACCESS_ROLE: ROLE,
    }
    with mock_aws(), pytest.raises(CannotMeasure, match="sts:AssumeRole") as refused:
        checker.handler(event, None)
    assert refused.value.code == "access_denied"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fields": {"spend": "float"}}, "use int, text, bool, decimal"),
        ({"source": {"type": "sql", "engine": "postgresql", "table": "t"}}, "source_secret: a sql source needs"),
        ({"target_secret": "x"}, "a s3 target is read with the checker's role"),
        (
            {"source": {"type": "sql", "engine": "mssql", "table": "t", "query": "SELECT 1"}},
            "exactly one of table or query",
        ),
        (
            {
                "target": {
                    "type": "s3",
                    "bucket": "exports",
                    "prefix": "r/",
                    "format": "jsonl",
                    "columns": {"nope": "x"},
                }
            },
            "nope not in fields",
        ),
        ({"timeout": 3600}, "less than or equal to 890"),
        # The query gets kind sql's shape check (vigil.spec.sql.query_problem).
        (
            {"source": {"type": "sql", "engine": "postgresql", "query": "DELETE FROM results"}, "source_secret": "db"},
            "query: must start with SELECT or WITH, found 'DELETE'",
        ),
        (
            {
                "source": {"type": "sql", "engine": "mssql", "query": "SELECT id FROM t; DROP TABLE t"},
                "source_secret": "db",
            },
            "query: must be a single statement",
        ),
        # The prefix bounds the checker's s3:GetObject and s3:ListBucket grant.
        ({"target": {"type": "s3", "bucket": "exports", "format": "jsonl"}}, "prefix: required"),
        ({"target": {"type": "s3", "bucket": "exports", "prefix": "", "format": "csv"}}, "whole bucket"),
        ({"target": {"type": "s3", "bucket": "exports", "prefix": "r/*", "format": "csv"}}, "prefix: no \\* or \\?"),
        # lag reads updated_at, on both sides.
        ({"lag": "1h"}, "lag 1h: needs updated_at"),
        (
            {"source": {"type": "dynamodb", "table": "results", "updated_at": "changed"}},
            "target.updated_at: the other side has an updated-at column",
        ),
    ],
)
def test_spec_errors_name_the_field_and_what_is_allowed(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(**change)


def test_lag_defaults_to_15m_with_updated_at_and_to_nothing_without() -> None:
    assert spec().lag is None and spec().lag_seconds() == 0
    assert spec(updated_at="at").lag_seconds() == 900
    assert spec(updated_at="at", lag="30h").lag_seconds() == 30 * 3600
    both = {"type": "dynamodb", "table": "results", "updated_at": "changed"}
    target = {"type": "s3", "bucket": "exports", "prefix": "r/", "format": "jsonl", "updated_at": "changed_at"}
    assert spec(source=both, target=target, lag="5m").lag_seconds() == 300


def test_the_event_round_trip_keeps_an_unset_lag_valid() -> None:
    # The schedule carries the dumped spec and the checker validates it again.
    check = spec()
    assert ConsistencyCheck.model_validate(make_event(check, {})["check"]) == check


def test_drift_keeps_its_state_while_runs_cannot_measure() -> None:
    from vigil.spec.common import MissingData

    assert spec().rule("drift").missing_data is MissingData.ignore


# -- composite and uuid keys: a DynamoDB table keyed by partition and sort key ---------------------

ORDERS = [(tenant, str(uuid.uuid5(uuid.NAMESPACE_OID, f"{tenant}/{n}"))) for tenant in (1, 2, 3) for n in range(80)]


def composite_spec(**overrides: Any) -> ConsistencyCheck:
    check = {
        "source": {"type": "dynamodb", "table": "orders", "segments": 2},
        "target": {"type": "s3", "bucket": "exports", "prefix": "orders/", "format": "jsonl", "key": ["tenant", "id"]},
        "key": {"column": ["tenant", "order_id"], "type": ["int", "uuid"]},
        "fields": {"spend": "decimal(2)"},
    }
    return spec(**(check | overrides))


@pytest.fixture
def orders(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="orders",
            KeySchema=[
                {"AttributeName": "tenant", "KeyType": "HASH"},
                {"AttributeName": "order_id", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "tenant", "AttributeType": "N"},
                {"AttributeName": "order_id", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for n, (tenant, order) in enumerate(ORDERS):
            item = {"tenant": {"N": str(tenant)}, "order_id": {"S": order}, "spend": {"N": f"{n}.25"}}
            dynamodb.put_item(TableName="orders", Item=item)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="exports")
        s3.create_bucket(Bucket="reports")
        # The export writes the tenant as text and the uuids in capitals; one order is missing, one changed.
        lines = [
            {"tenant": str(tenant), "id": order.upper(), "spend": 0 if n == 7 else n + 0.25}
            for n, (tenant, order) in enumerate(ORDERS)
            if n != 100
        ]
        body = "".join(json.dumps(line) + "\n" for line in lines)
        s3.put_object(Bucket="exports", Key="orders/part-0.jsonl", Body=body.encode())
        monkeypatch.setenv(checker.REPORTS_BUCKET, "reports")
        yield s3


def run_handed_off(check: ConsistencyCheck, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The scheduled run hands off; each bucket then the gather run as the state machine would."""
    state = hand_off(check, monkeypatch)
    results = [checker.handler(event, None) for event in bucket_events(state)]
    assert any(isinstance(b[0], list) for b in state["buckets"])  # composite bounds travel as lists
    return gather(state, results)


def test_composite_keys_from_dynamodb_partition_and_sort_keys(orders: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    want = [f"changed: (1, '{ORDERS[7][1]}')", f"missing: (2, '{ORDERS[100][1]}')"]
    in_lambda = checker.handler(make_event(composite_spec(), {}), None)
    assert sorted(in_lambda["samples"]) == want, in_lambda
    handed = run_handed_off(composite_spec(mode="step_functions"), monkeypatch)
    assert sorted(handed["samples"]) == want and handed["values"]["Differences"] == 2


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ({"column": ["a", "b"], "type": ["int"]}, "type: 1 types for 2 key columns"),
        ({"column": ["a", "a"]}, "column: a, a names a column twice"),
        ({"column": ["a"]}, "at least 2 items"),
        ({"column": "id", "type": "float"}, "'int', 'str' or 'uuid'"),
    ],
)
def test_key_errors_name_the_field(key: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(key=key)


def test_a_side_renaming_a_composite_key_names_every_part() -> None:
    with pytest.raises(ValidationError, match=r"target.key: 'id' must name 2 column\(s\)"):
        composite_spec(target={"type": "s3", "bucket": "exports", "prefix": "o/", "format": "jsonl", "key": "id"})
    assert composite_spec().key.types() == (KeyType.int, KeyType.uuid)
    assert composite_spec(key={"column": ["a", "b"], "type": "str"}).key.types() == (KeyType.str, KeyType.str)


def test_why_keys_are_compared_without_an_index_reaches_the_result_through_step_functions() -> None:
    from vigil.consistency.compare import Tally

    plan = Tally(key_order=["key 1: the source sorts it by postgresql:en-US-x-icu, ..."])
    gathered = Tally.from_json(json.loads(json.dumps(plan.to_json())))
    gathered.merge(Tally.from_json(plan.to_json()))  # a bucket's tally carries it too: said once
    result = checker.result(spec(), gathered, None)
    assert result.details["key_order"] == plan.key_order
    assert "key_order" not in checker.result(spec(), Tally(), None).details
