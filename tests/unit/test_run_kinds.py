"""`python -m infra run` gives the deployed alarms' verdict on every checker kind: the same active
signals, series and rules the stack builds its alarms from (infra.signal_alarms), so a breaching
measurement exits 1 naming the signal, and a healthy one exits 0.

Targets are local: loopback servers (http, elasticsearch, a RabbitMQ management API), moto (sqs,
consistency, and heartbeat's table, written by the real ping endpoint), botocore's Stubber (Logs
Insights, which moto cannot compute). kind sql runs against the real PostgreSQL in
tests/integration/test_run_sql.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from moto import mock_aws

from infra.__main__ import main
from tests.support.heartbeat import CATALOG_DIR as HEARTBEAT_CATALOG
from tests.support.heartbeat import aws as hb_aws  # noqa: F401 (fixture)
from tests.support.heartbeat import check as heartbeat_check
from tests.support.heartbeat import ping
from tests.support.http_server import LoopbackServer, Reply, running_server
from tests.unit.test_catalog import SETTINGS
from vigil import secrets
from vigil.checkers import aws
from vigil.checkers import heartbeat as heartbeat_checker

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SECRETS = {"api-headers": "vigil/api/headers", "rabbit": "vigil/rabbit/monitoring", "search": "vigil/search"}


def catalog(tmp_path: Path, *checks: dict[str, Any]) -> str:
    (tmp_path / "_settings.yaml").write_text(yaml.safe_dump({**SETTINGS, "secrets": SECRETS}))
    (tmp_path / "svc.yaml").write_text(yaml.safe_dump({"service": "svc", "checks": list(checks)}))
    return str(tmp_path)


def run(tmp_path: Path, check: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", check["id"], "--catalog", catalog(tmp_path, check)])
    return code, capsys.readouterr().out


def alarm_line(out: str) -> str:
    return next((line for line in out.splitlines() if line.startswith("alarm: ")), "")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _no_cached_clients() -> Iterator[None]:
    secrets.clear_cache()
    aws.clear_cache()
    yield
    secrets.clear_cache()
    aws.clear_cache()


# -- http ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "code"), [("/down", 1), ("/health", 0)])
def test_http(tmp_path, server, capsys, path, code):
    check = {"id": "api", "kind": "http", "severity": "critical", "url": server.url(path), "allow_private": True}
    exit_code, out = run(tmp_path, {**check, "timeout": 2}, capsys)

    assert exit_code == code, out
    assert alarm_line(out) == ("alarm: down" if code else "")


# -- rabbitmq: a listed queue with messages and no consumer (the case) ---------------------

NODES = [{"name": "rabbit@a", "running": True, "mem_alarm": False, "disk_free_alarm": False}]


def broker(server: LoopbackServer, consumers: int) -> None:
    queue = {"name": "orders", "messages_ready": 25, "messages_unacknowledged": 0, "consumers": consumers}
    server.replies["/api/nodes"] = [Reply(200, json.dumps(NODES).encode())]
    server.replies["/api/queues/%2F"] = [
        Reply(200, json.dumps({"items": [queue], "page": 1, "page_count": 1}).encode())
    ]


RABBIT = {
    "id": "events",
    "kind": "rabbitmq",
    "severity": "critical",
    "credentials_secret": "rabbit",
    "vhost": "/",
    "queues": ["orders"],
    "alarms": {"backlog": {"threshold": 1000}},
}


@pytest.mark.parametrize(("consumers", "code"), [(0, 1), (3, 0)])
@pytest.mark.parametrize(
    ("queue", "signal"),
    [
        ("orders", "no_consumers"),  # no override: the check-level worst-of series
        ({"name": "orders", "alarms": {"no_consumers": {"threshold": 0}}}, "no_consumers@orders"),  # its own
    ],
)
def test_rabbitmq_listed_queue_without_consumers(tmp_path, server, capsys, monkeypatch, consumers, code, queue, signal):
    broker(server, consumers)
    monkeypatch.setenv("VIGIL_SECRET_RABBIT", json.dumps({"username": "monitor", "password": "n0t-printed"}))

    exit_code, out = run(tmp_path, {**RABBIT, "queues": [queue], "url": server.base_url}, capsys)

    assert exit_code == code, out
    assert alarm_line(out) == (f"alarm: {signal}" if code else "")
    assert "n0t-printed" not in out


# -- elasticsearch -------------------------------------------------------------------------------


@pytest.mark.parametrize(("threshold", "code"), [(1000, 1), (5000, 0)])
def test_elasticsearch(tmp_path, server, capsys, threshold, code):
    server.replies["/logs-*/_search"] = [Reply(200, (FIXTURES / "elasticsearch" / "search_ok.json").read_bytes())]
    check = {
        "id": "errors",
        "kind": "elasticsearch",
        "severity": "warning",
        "url": server.base_url,
        "index": "logs-*",
        "query": "log.level:ERROR",
        "alarms": {"count": {"threshold": threshold}},  # the recorded answer counts 1234
    }
    exit_code, out = run(tmp_path, check, capsys)

    assert exit_code == code, out
    assert alarm_line(out) == ("alarm: count" if code else "")


# -- sqs by name prefix (the checker) --------------------------------------------------------------


@pytest.mark.parametrize(("messages", "code"), [(3, 1), (1, 0)])
def test_sqs_prefix(tmp_path, capsys, messages, code):
    check = {
        "id": "fulfilment",
        "kind": "sqs",
        "severity": "warning",
        "queue_prefix": "orders-",
        "alarms": {"backlog": {"threshold": 2}},
    }
    with mock_aws():
        client = boto3.client("sqs")
        url = client.create_queue(QueueName="orders-eu")["QueueUrl"]
        client.create_queue(QueueName="orders-us")
        for i in range(messages):
            client.send_message(QueueUrl=url, MessageBody=str(i))
        exit_code, out = run(tmp_path, check, capsys)

    assert exit_code == code, out
    assert alarm_line(out) == ("alarm: backlog" if code else "")


# -- logs_query (Logs Insights through botocore's Stubber: moto cannot compute stats) --------------


@pytest.mark.parametrize(("errors", "code"), [("7", 1), ("0", 0)])
def test_logs_query(tmp_path, capsys, monkeypatch, errors, code):
    client = boto3.client("logs")
    monkeypatch.setattr(aws, "client", lambda service, role, **_: client)
    check = {
        "id": "api-errors",
        "kind": "logs_query",
        "severity": "warning",
        "log_groups": ["/ecs/api"],
        "query": "stats count(*) as errors",  # no filter: no sample query follows
        "alarms": {"value": {"threshold": 5}},
    }
    with Stubber(client) as stubber:
        stubber.add_response("start_query", {"queryId": "q-1"})
        stubber.add_response(
            "get_query_results", {"status": "Complete", "results": [[{"field": "errors", "value": errors}]]}
        )
        exit_code, out = run(tmp_path, check, capsys)
        stubber.assert_no_pending_responses()

    assert exit_code == code, out
    assert alarm_line(out) == ("alarm: value" if code else "")


# -- consistency (DynamoDB against an S3 export, on moto) ------------------------------------------


@pytest.mark.parametrize(("drop", "code"), [(True, 1), (False, 0)])
def test_consistency(tmp_path, capsys, drop, code):
    check = {
        "id": "results-copy",
        "kind": "consistency",
        "severity": "warning",
        "cadence": "1h",
        "source": {"type": "dynamodb", "table": "results"},
        "target": {"type": "s3", "bucket": "exports", "prefix": "results/", "format": "jsonl", "key": "result_id"},
        "key": {"column": "id", "type": "int"},
        "fields": {"spend": "int"},
        "buckets": 4,
        "mode": "in_lambda",
        "timeout": 60,
    }
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="results",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(1, 21):
            dynamodb.put_item(TableName="results", Item={"id": {"N": str(i)}, "spend": {"N": str(i)}})
        exported = [{"result_id": str(i), "spend": i} for i in range(1, 21) if not (drop and i == 7)]
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="exports")
        s3.put_object(
            Bucket="exports", Key="results/part-0.jsonl", Body="".join(json.dumps(r) + "\n" for r in exported)
        )
        exit_code, out = run(tmp_path, check, capsys)

    assert exit_code == code, out
    assert alarm_line(out) == ("alarm: drift" if code else "")


def test_heartbeat(hb_aws, monkeypatch, capsys):  # noqa: F811
    """The heartbeat checker reads the pings the endpoint wrote (moto's table): on time exits 0, a job
    that never started again exits 1 on the `missed` signal, as its deployed alarm would page."""
    job = heartbeat_check("hourly-sync")
    t0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

    def run_at(at: datetime) -> tuple[int, str]:
        monkeypatch.setattr(heartbeat_checker, "now", lambda: at)
        code = main(["run", job.id, "--catalog", str(HEARTBEAT_CATALOG)])
        return code, capsys.readouterr().out

    assert run_at(t0 - timedelta(hours=1))[0] == 0  # the first run registers the check
    db = boto3.client("dynamodb")
    assert ping(db, "/ping/hourly-sync/start", t0 - timedelta(seconds=50)).status == 200
    assert ping(db, "/ping/hourly-sync", t0 - timedelta(seconds=30)).status == 200
    assert run_at(t0)[0] == 0
    code, out = run_at(t0 + timedelta(hours=3))
    assert (code, alarm_line(out)) == (1, "alarm: missed")
    assert "did not start" in out
