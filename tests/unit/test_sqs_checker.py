"""Checker for kind `sqs` with `queue_prefix`: the worst matched queue per signal, unknown never healthy.

moto runs ListQueues and GetQueueAttributes for real; its CloudWatch has no SQS metrics, so ages
and delete rates come either from botocore's Stubber (checked against the real API model) or not
at all, and then the metric must be left out. Errors (AccessDenied) come from the Stubber too.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from tests.support.emf import assert_vigil_emf, metric_units, only_emf
from vigil.checkers import aws as aws_access
from vigil.checkers import sqs as checker
from vigil.checkers.sqs import QueueReading, rollup, samples
from vigil.spec.sqs import NEVER_DRAINS, SqsCheck

NOW = 1_700_000_000.0
REGION = "eu-west-1"


def spec(**fields: Any) -> SqsCheck:
    base = {"id": "fulfilment", "kind": "sqs", "service": "orders", "severity": "warning", "cadence": 60}
    return SqsCheck.model_validate({**base, "queue_prefix": "orders-", **fields})


def event(check: SqsCheck) -> dict[str, Any]:
    return {"check": check.model_dump(mode="json"), "secrets": {}}


# -- rollup (pure) -------------------------------------------------------------------------------


def test_the_worst_queue_per_signal_with_units_and_queue_names():
    check = spec(dlq_suffix="-dlq", alarms={"drain_time": {}, "dlq_age": {}})
    readings = [
        QueueReading("orders-eu", 1520, age=840.0, deleted_per_second=1.0),
        QueueReading("orders-us", 12, in_flight=3, age=30.0, deleted_per_second=4.0),
        QueueReading("orders-ap", 0),
        QueueReading("orders-eu-dlq", 3, dlq=True, age=7200.0),
        QueueReading("orders-us-dlq", 0, dlq=True),
    ]
    result = rollup(check, readings)
    assert result.values == {
        "Queues": 5,
        "Backlog": 1520,
        "OldestMessageAgeSeconds": 840,
        "DrainTimeSeconds": 1520,
        "DlqMessages": 3,
        "DlqOldestMessageAgeSeconds": 7200,
    }
    assert result.units["OldestMessageAgeSeconds"] == "Seconds" and result.units["Backlog"] == "Count"
    assert result.details["backlog_queue"] == "orders-eu" and result.details["dlq_queue"] == "orders-eu-dlq"
    assert (result.details["queues"], result.details["dlqs"]) == (3, 2)
    assert result.reason_code == "threshold"
    assert (
        result.reason
        == "backlog 1520 (> 1000) in orders-eu; age 14m (> 600) in orders-eu; drain_time 25m (> 900) in orders-eu; dlq 3 (> 0) in orders-eu-dlq"
    )
    assert result.samples == (
        "orders-eu-dlq (DLQ): 3 visible, oldest 2h",
        "orders-eu: 1520 visible, oldest 14m, drains in 25m",
        "orders-us: 12 visible, 3 in flight, oldest 30s, drains in 3s",
    )


def test_healthy_queues_give_values_and_no_reason():
    result = rollup(
        spec(), [QueueReading("orders-eu", 5, age=20.0, deleted_per_second=2.0), QueueReading("orders-us", 0)]
    )
    assert result.values == {"Queues": 2, "Backlog": 5, "OldestMessageAgeSeconds": 20}
    assert result.reason is None and result.reason_code is None


def test_an_unknown_age_is_left_out_never_reported_as_zero():
    check = spec(alarms={"drain_time": {}})
    result = rollup(check, [QueueReading("orders-eu", 40), QueueReading("orders-us", 0)])
    assert "OldestMessageAgeSeconds" not in result.values and "DrainTimeSeconds" not in result.values
    assert result.values["Backlog"] == 40
    assert result.details["age_unknown"] == "orders-eu" == result.details["drain_time_unknown"]
    assert result.samples == ("orders-eu: 40 visible, oldest unknown",)


def test_empty_queues_are_known_zero_and_nothing_deleted_never_drains():
    check = spec(alarms={"drain_time": {}})
    empty = rollup(check, [QueueReading("orders-eu", 0)])
    assert (empty.values["OldestMessageAgeSeconds"], empty.values["DrainTimeSeconds"]) == (0, 0)
    stuck = rollup(check, [QueueReading("orders-eu", 5, age=100.0, deleted_per_second=0.0)])
    assert stuck.values["DrainTimeSeconds"] == NEVER_DRAINS
    assert samples([QueueReading("orders-eu", 5, age=100.0, deleted_per_second=0.0)]) == (
        "orders-eu: 5 visible, oldest 100s, not draining",
    )


def test_without_a_suffix_every_match_is_a_queue_and_no_dlq_metric_is_emitted():
    result = rollup(spec(), [QueueReading("orders-eu-dlq", 7, age=50.0, deleted_per_second=1.0)])
    assert "DlqMessages" not in result.values and result.values["Backlog"] == 7


# -- against moto (SQS real, CloudWatch without SQS metrics) -------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        for name in ("orders-eu", "orders-us", "orders-eu-dlq", "billing-eu", "orders"):
            sqs.create_queue(QueueName=name)
        url = sqs.get_queue_url(QueueName="orders-eu")["QueueUrl"]
        for i in range(12):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order": i}))
        dlq = sqs.get_queue_url(QueueName="orders-eu-dlq")["QueueUrl"]
        sqs.send_message(QueueUrl=dlq, MessageBody="dead")
        yield sqs, boto3.client("cloudwatch", region_name=REGION)


@pytest.mark.usefixtures("aws")
def test_the_handler_lists_by_prefix_and_emits_backlog_without_unknown_ages(capsys):
    aws_access.clear_cache()
    result = checker.handler(event(spec(dlq_suffix="-dlq")))
    aws_access.clear_cache()
    assert result["status"] == "ok", result
    # billing-eu and orders (no dash) do not match; moto publishes no SQS metrics: no ages at all.
    assert result["values"] == {"Queues": 3, "Backlog": 12, "DlqMessages": 1}
    assert result["details"]["age_unknown"] == "orders-eu"
    assert result["samples"] == [
        "orders-eu-dlq (DLQ): 1 visible, oldest unknown",
        "orders-eu: 12 visible, oldest unknown",
    ]
    document = only_emf(capsys.readouterr().out)
    assert_vigil_emf(document, "fulfilment", {"MeasureFailed": 0, "Queues": 3, "Backlog": 12, "DlqMessages": 1})
    assert metric_units(document)["Backlog"] == "Count"


def test_ages_and_delete_rates_from_get_metric_data(aws):
    sqs, cloudwatch = aws
    listed = [url.rsplit("/", 1)[-1] for url in sqs.list_queues(QueueNamePrefix="orders-")["QueueUrls"]]
    eu, dlq = listed.index("orders-eu"), listed.index("orders-eu-dlq")
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": f"a{eu}", "Values": [900.0, 840.0], "StatusCode": "Complete"},
                    # Newest first: nothing deleted in the newest 5 minutes, 60 before them.
                    {"Id": f"d{eu}", "Values": [0.0, 0.0, 0.0, 0.0, 0.0, 60.0], "StatusCode": "Complete"},
                    {"Id": f"a{dlq}", "Values": [90000.0], "StatusCode": "Complete"},
                ]
            },
            {"MetricDataQueries": ANY, "StartTime": NOW - 920, "EndTime": NOW - 20, "ScanBy": "TimestampDescending"},
        )
        check = spec(dlq_suffix="-dlq", alarms={"drain_time": {}, "dlq_age": {}})
        result = checker.measure(check, lambda name: {}, sqs, cloudwatch, wall=lambda: NOW)
        stub.assert_no_pending_responses()
    assert result.values == {
        "Queues": 3,
        "Backlog": 12,
        "OldestMessageAgeSeconds": 900,
        "DrainTimeSeconds": NEVER_DRAINS,
        "DlqMessages": 1,
        "DlqOldestMessageAgeSeconds": 90000,
    }
    assert result.reason_code == "threshold"
    assert "drain_time 24h (> 900) in orders-eu" in (result.reason or "")


def test_a_prefix_matching_nothing_fails_the_run(aws, capsys):
    sqs, cloudwatch = aws
    result = checker.measure(spec(queue_prefix="nothing-"), lambda name: {}, sqs, cloudwatch)
    assert (result.status.value, result.reason_code) == ("failed", "no_queue")
    assert "no queue name starts with 'nothing-'" in (result.reason or "")


def test_access_denied_fails_the_run_and_emits_no_value(capsys):
    sqs = boto3.client("sqs", region_name=REGION)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    with Stubber(sqs) as stub:
        stub.add_client_error("list_queues", "AccessDenied", "not authorized to perform: sqs:ListQueues", 403)
        clients = {"sqs": sqs, "cloudwatch": cloudwatch}
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(aws_access, "client", lambda service, role, **_: clients[service])
            result = checker.handler(event(spec()))
    assert (result["status"], result["reason_code"]) == ("failed", "access_denied")
    assert "sqs:ListQueues" in result["reason"]
    assert_vigil_emf(only_emf(capsys.readouterr().out), "fulfilment", {"MeasureFailed": 1})


def test_a_metrics_error_fails_the_run_rather_than_dropping_ages(aws):
    sqs, cloudwatch = aws
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("get_metric_data", "Throttling", "Rate exceeded", 400)
        result = checker.measure(spec(), lambda name: {}, sqs, cloudwatch)
    assert (result.status.value, result.reason_code) == ("failed", "throttled")
    assert result.values == {}


def test_a_queue_deleted_after_listing_is_skipped(aws):
    sqs, cloudwatch = aws
    real = sqs.get_queue_attributes

    def gone(**kwargs: Any) -> Any:
        if kwargs["QueueUrl"].endswith("/orders-us"):
            sqs.delete_queue(QueueUrl=kwargs["QueueUrl"])
        return real(**kwargs)

    sqs.get_queue_attributes = gone
    result = checker.measure(spec(), lambda name: {}, sqs, cloudwatch)
    assert result.status.value == "ok" and result.values["Queues"] == 2
