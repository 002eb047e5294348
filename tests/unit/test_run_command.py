"""`python -m infra run`: real targets on loopback (http) and moto (sqs); exit 0 ok, 1 alarm, 2 failed."""

from __future__ import annotations

import boto3
import pytest
import yaml
from moto import mock_aws

from infra.__main__ import main
from tests.support.http_server import closed_port, running_server
from tests.unit.test_catalog import SETTINGS


def _catalog(tmp_path, checks):
    (tmp_path / "_settings.yaml").write_text(yaml.safe_dump(SETTINGS))
    (tmp_path / "svc.yaml").write_text(yaml.safe_dump({"service": "svc", "checks": checks}))
    return str(tmp_path)


def _http(check_id, url):
    # The test servers listen on loopback, which a check may call only with allow_private.
    return {"id": check_id, "kind": "http", "severity": "critical", "url": url, "timeout": 2, "allow_private": True}


@pytest.fixture
def server():
    with running_server() as srv:
        yield srv


def test_healthy_endpoint_exits_0_and_prints_metrics(tmp_path, server, capsys):
    catalog = _catalog(tmp_path, [_http("up", server.base_url + "/health")])
    assert main(["run", "up", "--catalog", catalog]) == 0
    out = capsys.readouterr().out
    assert '"Namespace":"Vigil"' in out and "down" in out and "ok" in out


def test_failing_endpoint_exits_1_with_the_verdict(tmp_path, server, capsys):
    catalog = _catalog(tmp_path, [_http("down", server.base_url + "/down")])
    assert main(["run", "down", "--catalog", catalog]) == 1
    out = capsys.readouterr().out
    assert "BREACHING" in out and "503" in out


def test_refused_endpoint_is_a_measured_outage_not_a_failure(tmp_path, capsys):
    catalog = _catalog(tmp_path, [_http("gone", f"http://127.0.0.1:{closed_port()}/health")])
    assert main(["run", "gone", "--catalog", catalog]) == 1
    assert "connect" in capsys.readouterr().out


def test_secret_that_cannot_be_read_exits_2(tmp_path, server, capsys):
    check = {**_http("needs-secret", server.base_url + "/health"), "headers_secret": "api-headers"}
    catalog = _catalog(tmp_path, [check])
    with mock_aws():
        assert main(["run", "needs-secret", "--catalog", catalog]) == 2
    assert "could not measure" in capsys.readouterr().out


def test_unknown_check_exits_2(tmp_path, capsys):
    catalog = _catalog(tmp_path, [_http("up", "http://127.0.0.1:1/")])
    assert main(["run", "nope", "--catalog", catalog]) == 2
    assert "no check 'nope'" in capsys.readouterr().out


@mock_aws
def test_sqs_backlog_and_dlq_verdicts(tmp_path, capsys):
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="orders")["QueueUrl"]
    sqs.create_queue(QueueName="orders-dlq")
    check = {"id": "orders", "kind": "sqs", "severity": "warning", "queue": "orders", "dlq": "orders-dlq"}
    catalog = _catalog(tmp_path, [{**check, "alarms": {"backlog": {"threshold": 2}}}])
    assert main(["run", "orders", "--catalog", catalog]) == 0
    for i in range(3):
        sqs.send_message(QueueUrl=queue, MessageBody=str(i))
    assert main(["run", "orders", "--catalog", catalog]) == 1
    assert "backlog  3" in capsys.readouterr().out


def test_sqs_queue_that_does_not_exist_exits_2(tmp_path, capsys):
    catalog = _catalog(tmp_path, [{"id": "ghost", "kind": "sqs", "severity": "warning", "queue": "ghost"}])
    with mock_aws():
        assert main(["run", "ghost", "--catalog", catalog]) == 2


@mock_aws
def test_sqs_list_alarms_on_its_worst_queue(tmp_path, capsys):
    sqs = boto3.client("sqs", region_name="us-east-1")
    urls = [sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("emails", "sms")]
    for i in range(4):
        sqs.send_message(QueueUrl=urls[1], MessageBody=str(i))
    check = {"id": "sends", "kind": "sqs", "severity": "warning", "queues": ["emails", "sms"]}
    catalog = _catalog(tmp_path, [{**check, "alarms": {"backlog": {"threshold": 3}}}])

    assert main(["run", "sends", "--catalog", catalog]) == 1
    assert "backlog  4" in capsys.readouterr().out


def test_lambda_free_kind_says_there_is_nothing_to_run(tmp_path, capsys):
    check = {"id": "db", "kind": "rds", "severity": "warning", "instance": "campaign-sql"}
    catalog = _catalog(tmp_path, [check])

    assert main(["run", "db", "--catalog", catalog]) == 2
    assert "kind rds runs no checker" in capsys.readouterr().out
