"""Every alarm shape of kinds `sqs` and `amazonmq`, as synthesized: names, metrics or expressions,
dimensions, statistics and rules (aws_cdk.assertions on a catalog that uses every signal)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from aws_cdk.assertions import Match, Template
from conftest import ENV, SAMPLE, Synth

from vigil.alarm_meta import alarm_name, decode_description

pytestmark = pytest.mark.slow

CHECKS = [
    {
        "id": "one-queue",
        "kind": "sqs",
        "severity": "critical",
        "queue": "arn:aws:sqs:eu-west-1:123456789012:orders",
        "dlq": "orders-dlq",
        "alarms": {"drain_time": {"threshold": 600}, "dlq_age": {}},
    },
    {
        "id": "many-queues",
        "kind": "sqs",
        "severity": "critical",
        "queues": ["pay", "ship"],
        "dlqs": ["pay-dlq", "ship-dlq"],
        "alarms": {"drain_time": {}, "dlq_age": {}, "age": {"statistic": "Average"}},
    },
    {
        "id": "broker",
        "kind": "amazonmq",
        "severity": "critical",
        "broker": "notify",
        "queues": [{"name": "email"}, {"name": "sms", "vhost": "campaigns"}],
        "alarms": {"memory": {"threshold": 6}},
    },
    # No memory threshold: no memory alarm (RabbitMQMemLimit depends on the instance type).
    {"id": "small-broker", "kind": "amazonmq", "severity": "warning", "broker": "small"},
]


@pytest.fixture(scope="module")
def synth(synthesize: Callable[[Path], Synth], tmp_path_factory: pytest.TempPathFactory) -> Synth:
    root = tmp_path_factory.mktemp("catalog") / "catalog"
    root.mkdir()
    shutil.copy(SAMPLE / "_settings.yaml", root)
    (root / "queues.yaml").write_text(yaml.safe_dump({"service": "orders", "team": "campaigns", "checks": CHECKS}))
    return synthesize(root)


@pytest.fixture(scope="module")
def template(synth: Synth) -> Template:
    return Template.from_json(synth.template)


def alarm(synth: Synth, check: str, signal: str) -> dict:
    name = alarm_name(ENV, check, signal)
    (props,) = [
        a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == name
    ]
    _, meta = decode_description(props["AlarmDescription"])
    assert meta is not None and (meta.check, meta.signal) == (check, signal)
    return props


def stat(id_: str, namespace: str, name: str, dims: dict[str, str], statistic: str) -> dict:
    return {
        "Id": id_,
        "ReturnData": False,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())],
            },
            "Period": 60,
            "Stat": statistic,
        },
    }


def expr(id_: str, expression: str, returned: bool = False, period: int | None = None) -> dict:
    entry: dict = {"Id": id_, "Expression": expression, "ReturnData": returned}
    if period is not None:
        entry["Period"] = period
    return entry


def sqs(id_: str, name: str, queue: str, statistic: str) -> dict:
    return stat(id_, "AWS/SQS", name, {"QueueName": queue}, statistic)


def drain(suffix: str, queue: str, returned: bool) -> list[dict]:
    v, d = f"visible{suffix}", f"deleted{suffix}"
    return [
        expr(
            f"drain_time{suffix}" if not returned else "expr_1",
            f"IF({v} > 0, IF({d} > 0, {v} / ({d} / PERIOD({d})), 86400), 0)",
            returned,
        ),
        sqs(v, "ApproximateNumberOfMessagesVisible", queue, "Maximum"),
        sqs(d, "NumberOfMessagesDeleted", queue, "Sum"),
    ]


def test_one_queue_alarms_are_plain_metric_alarms(synth: Synth) -> None:
    for signal, metric, queue, threshold in [
        ("backlog", "ApproximateNumberOfMessagesVisible", "orders", 1000),
        ("age", "ApproximateAgeOfOldestMessage", "orders", 600),
        ("dlq", "ApproximateNumberOfMessagesVisible", "orders-dlq", 0),
        ("dlq_age", "ApproximateAgeOfOldestMessage", "orders-dlq", 86400),
    ]:
        props = alarm(synth, "one-queue", signal)
        assert props["Namespace"] == "AWS/SQS" and props["MetricName"] == metric, signal
        assert props["Dimensions"] == [{"Name": "QueueName", "Value": queue}], signal
        assert (props["Statistic"], props["Period"], props["Threshold"]) == ("Maximum", 60, threshold), signal
        assert props["ComparisonOperator"] == "GreaterThanThreshold"
        assert props["TreatMissingData"] == "notBreaching"


def test_one_queue_drain_time_is_visible_over_delete_rate(synth: Synth) -> None:
    props = alarm(synth, "one-queue", "drain_time")
    assert "MetricName" not in props and "Statistic" not in props
    assert props["Metrics"] == drain("0", "orders", returned=True)
    assert (props["Threshold"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (600, 5, 5)


def test_a_list_alarms_once_per_signal_on_the_worst_queue(synth: Synth) -> None:
    for signal, metric, queues, statistic in [
        ("backlog", "ApproximateNumberOfMessagesVisible", ["pay", "ship"], "Maximum"),
        ("age", "ApproximateAgeOfOldestMessage", ["pay", "ship"], "Average"),
        ("dlq", "ApproximateNumberOfMessagesVisible", ["pay-dlq", "ship-dlq"], "Maximum"),
        ("dlq_age", "ApproximateAgeOfOldestMessage", ["pay-dlq", "ship-dlq"], "Maximum"),
    ]:
        props = alarm(synth, "many-queues", signal)
        assert props["Metrics"] == [
            expr("expr_1", f"MAX([{signal}0, {signal}1])", returned=True),
            *(sqs(f"{signal}{i}", metric, q, statistic) for i, q in enumerate(queues)),
        ], signal
    props = alarm(synth, "many-queues", "drain_time")
    assert props["Metrics"] == [
        expr("expr_1", "MAX([drain_time0, drain_time1])", returned=True),
        *drain("0", "pay", False),
        *drain("1", "ship", False),
    ]


def test_broker_alarms(synth: Synth) -> None:
    broker = {"Broker": "notify"}
    backlog = alarm(synth, "broker", "backlog")
    assert (backlog["Namespace"], backlog["MetricName"], backlog["Statistic"]) == (
        "AWS/AmazonMQ",
        "MessageCount",
        "Maximum",
    )
    assert backlog["Dimensions"] == [{"Name": "Broker", "Value": "notify"}]
    assert backlog["Threshold"] == 10000

    none = alarm(synth, "broker", "no_consumers")
    assert none["Metrics"] == [
        expr("expr_1", "IF(messages > 0 AND consumers < 1, 1, 0)", returned=True),
        stat("messages", "AWS/AmazonMQ", "MessageCount", broker, "Maximum"),
        stat("consumers", "AWS/AmazonMQ", "ConsumerCount", broker, "Minimum"),
    ]
    assert (none["Threshold"], none["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")

    def query(function: str, metric: str) -> str:
        return f"SELECT {function}({metric}) FROM SCHEMA(\"AWS/AmazonMQ\", Broker, Node) WHERE Broker = 'notify'"

    # One Metrics Insights query per alarm (the most GetMetricData allows), in bytes, scaled to GiB.
    memory = alarm(synth, "broker", "memory")
    assert memory["Metrics"] == [
        expr("expr_1", "mem_used / 1073741824", returned=True),
        expr("mem_used", query("MAX", "RabbitMQMemUsed"), period=60),
    ]
    assert (memory["Threshold"], memory["ComparisonOperator"]) == (6, "GreaterThanThreshold")
    assert memory["TreatMissingData"] == "breaching"
    disk = alarm(synth, "broker", "disk")
    assert disk["Metrics"] == [
        expr("expr_1", "disk_free / 1073741824", returned=True),
        expr("disk_free", query("MIN", "RabbitMQDiskFree"), period=60),
    ]
    assert (disk["Threshold"], disk["ComparisonOperator"]) == (5, "LessThanThreshold")
    assert disk["TreatMissingData"] == "breaching"


def test_no_alarm_holds_more_than_one_metrics_insights_query(synth: Synth) -> None:
    """GetMetricData, which an alarm evaluates, accepts one Metrics Insights query per request."""
    queries = {
        a["Properties"]["AlarmName"]: sum(
            1
            for m in a["Properties"].get("Metrics", [])
            if m.get("Expression", "").lstrip().upper().startswith("SELECT")
        )
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
    }
    assert {name: n for name, n in queries.items() if n > 1} == {}
    assert {name for name, n in queries.items() if n == 1} == {
        alarm_name(ENV, "broker", "memory"),
        alarm_name(ENV, "broker", "disk"),
        alarm_name(ENV, "small-broker", "disk"),
    }


def test_broker_queue_alarms_use_vhost_and_queue(synth: Synth) -> None:
    email = {"Broker": "notify", "VirtualHost": "/", "Queue": "email"}
    sms = {"Broker": "notify", "VirtualHost": "campaigns", "Queue": "sms"}
    backlog = alarm(synth, "broker", "queue_backlog")
    assert backlog["Metrics"] == [
        expr("expr_1", "MAX([queue_backlog0, queue_backlog1])", returned=True),
        stat("queue_backlog0", "AWS/AmazonMQ", "MessageCount", email, "Maximum"),
        stat("queue_backlog1", "AWS/AmazonMQ", "MessageCount", sms, "Maximum"),
    ]
    none = alarm(synth, "broker", "queue_no_consumers")
    assert none["Metrics"] == [
        expr("expr_1", "MAX([queue_no_consumers0, queue_no_consumers1])", returned=True),
        expr("queue_no_consumers0", "IF(messages0 > 0 AND consumers0 < 1, 1, 0)"),
        stat("messages0", "AWS/AmazonMQ", "MessageCount", email, "Maximum"),
        stat("consumers0", "AWS/AmazonMQ", "ConsumerCount", email, "Minimum"),
        expr("queue_no_consumers1", "IF(messages1 > 0 AND consumers1 < 1, 1, 0)"),
        stat("messages1", "AWS/AmazonMQ", "MessageCount", sms, "Maximum"),
        stat("consumers1", "AWS/AmazonMQ", "ConsumerCount", sms, "Minimum"),
    ]


def test_every_signal_has_exactly_its_alarm_with_actions(synth: Synth, template: Template) -> None:
    names = {a["Properties"]["AlarmName"] for a in synth.of_type("AWS::CloudWatch::Alarm").values()}
    expected = {
        "one-queue": ["backlog", "age", "drain_time", "dlq", "dlq_age"],
        "many-queues": ["backlog", "age", "drain_time", "dlq", "dlq_age"],
        "broker": ["backlog", "no_consumers", "memory", "disk", "queue_backlog", "queue_no_consumers"],
        "small-broker": ["backlog", "no_consumers", "disk"],
    }
    checks = {alarm_name(ENV, c, s) for c, signals in expected.items() for s in signals}
    assert checks == {n for n in names if not n.startswith(f"vigil-{ENV}-self-")}
    template.all_resources_properties(
        "AWS::CloudWatch::Alarm", {"AlarmActions": Match.any_value(), "OKActions": Match.any_value()}
    )
