"""Parsing alarm state changes from SNS notifications and EventBridge events into AlarmEvent."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from vigil.notifier.events import (
    AlarmEventError,
    AlarmState,
    Delivery,
    NotAStateChange,
    deliveries,
    parse_alarm,
    salvage,
    split_event,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alarms"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def sns_message(name: str) -> dict[str, Any]:
    return json.loads(load(name)["Records"][0]["Sns"]["Message"])


# The single-metric example of the CloudWatch user guide ("Alarm events and EventBridge"), verbatim.
AWS_DOC_EVENT = {
    "version": "0",
    "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": "123456789012",
    "time": "2019-10-02T17:04:40Z",
    "region": "us-east-1",
    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"],
    "detail": {
        "alarmName": "ServerCpuTooHigh",
        "configuration": {
            "description": "Goes into alarm when server CPU utilization is too high!",
            "metrics": [
                {
                    "id": "30b6c6b2-a864-43a2-4877-c09a1afc3b87",
                    "metricStat": {
                        "metric": {
                            "dimensions": {"InstanceId": "i-12345678901234567"},
                            "name": "CPUUtilization",
                            "namespace": "AWS/EC2",
                        },
                        "period": 300,
                        "stat": "Average",
                    },
                    "returnData": True,
                }
            ],
        },
        "previousState": {
            "reason": "Threshold Crossed: 1 out of the last 1 datapoints [0.0666851903306472 (01/10/19 13:46:00)] was not greater than the threshold (50.0) (minimum 1 datapoint for ALARM -> OK transition).",
            "reasonData": '{"version":"1.0","queryDate":"2019-10-01T13:56:40.985+0000","startDate":"2019-10-01T13:46:00.000+0000","statistic":"Average","period":300,"recentDatapoints":[0.0666851903306472],"threshold":50.0}',
            "timestamp": "2019-10-01T13:56:40.987+0000",
            "value": "OK",
        },
        "state": {
            "reason": "Threshold Crossed: 1 out of the last 1 datapoints [99.50160229693434 (02/10/19 16:59:00)] was greater than the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition).",
            "reasonData": '{"version":"1.0","queryDate":"2019-10-02T17:04:40.985+0000","startDate":"2019-10-02T16:59:00.000+0000","statistic":"Average","period":300,"recentDatapoints":[99.50160229693434],"threshold":50.0}',
            "timestamp": "2019-10-02T17:04:40.989+0000",
            "value": "ALARM",
        },
    },
}

# The SNS notification an alarm action sends, in its older spelling (no ARN, padded TreatMissingData).
OLD_SNS_MESSAGE = {
    "AlarmName": "LambdaErrorAlarm",
    "AlarmDescription": None,
    "AWSAccountId": "123456789012",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 datapoint [1.0 (26/09/18 02:58:00)] was greater than the threshold (0.0).",
    "StateChangeTime": "2018-09-26T02:59:41.187+0000",
    "Region": "Asia Pacific (Singapore)",
    "OldStateValue": "OK",
    "Trigger": {
        "MetricName": "Errors",
        "Namespace": "AWS/Lambda",
        "StatisticType": "Statistic",
        "Statistic": "SUM",
        "Unit": "Count",
        "Dimensions": [{"name": "FunctionName", "value": "my-function"}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0.0,
        "TreatMissingData": "- TreatMissingData:                    NonBreaching",
        "EvaluateLowSampleCountPercentile": "",
    },
}


# --- SNS shape ------------------------------------------------------------------------------------


def test_sns_alarm_reads_every_field() -> None:
    event = parse_alarm(load("sns_alarm.json")["Records"][0]["Sns"]["Message"])
    assert event.source == "sns"
    assert event.alarm_name == "vigil-prod-orders-queue-backlog"
    assert event.alarm_arn == "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:vigil-prod-orders-queue-backlog"
    # SNS "Region" is a display name ("EU (Ireland)"): the code must come from the ARN.
    assert event.region == "eu-west-1"
    assert event.account == "123456789012"
    assert event.state is AlarmState.alarm
    assert event.previous_state is AlarmState.ok
    assert event.state_time == datetime(2024, 5, 2, 14, 3, 41, 187000, tzinfo=UTC)
    assert event.previous_state_time is None
    assert event.threshold == 500.0
    assert event.comparison == "GreaterThanThreshold"
    assert event.comparison_symbol == ">"
    assert event.statistic == "Maximum"
    assert event.period == 60
    assert event.evaluation_periods == 3
    assert event.datapoints_to_alarm == 3
    assert event.treat_missing_data == "missing"
    assert event.metric_name == "ApproximateNumberOfMessagesVisible"
    assert event.namespace == "AWS/SQS"
    # No reason data in SNS notifications: the newest datapoint is read from the reason text.
    assert event.reason_data is None
    assert event.latest_value == 1520.0
    assert event.description.startswith("Orders waiting for the order-worker")
    assert "--vigil--" not in event.description
    assert event.meta is not None
    assert event.meta.check == "orders-queue"
    assert event.meta.routes == ["campaigns-critical"]


@pytest.mark.parametrize(
    ("fixture", "state", "previous", "latest"),
    [
        ("sns_alarm.json", AlarmState.alarm, AlarmState.ok, 1520.0),
        ("sns_ok.json", AlarmState.ok, AlarmState.alarm, 120.0),
        ("sns_insufficient_data.json", AlarmState.insufficient_data, AlarmState.ok, None),
        ("eventbridge_alarm.json", AlarmState.alarm, AlarmState.ok, 0.0),
        ("eventbridge_ok.json", AlarmState.ok, AlarmState.alarm, 1.0),
        ("eventbridge_insufficient_data.json", AlarmState.insufficient_data, AlarmState.ok, None),
    ],
)
def test_fixture_states(fixture: str, state: AlarmState, previous: AlarmState, latest: float | None) -> None:
    (payload,) = split_event(load(fixture))
    event = parse_alarm(payload)
    assert event.state is state
    assert event.previous_state is previous
    assert event.latest_value == latest
    assert event.meta is not None
    assert event.region == "eu-west-1"


def test_old_sns_message_without_arn() -> None:
    event = parse_alarm(json.dumps(OLD_SNS_MESSAGE))
    assert event.alarm_arn is None
    assert event.region is None  # "Asia Pacific (Singapore)" is not a region code
    assert event.account == "123456789012"
    assert event.treat_missing_data == "NonBreaching"
    assert event.statistic == "Sum"
    assert event.meta is None
    assert event.description == ""
    assert event.latest_value == 1.0


def test_sns_message_may_arrive_as_dict() -> None:
    assert parse_alarm(OLD_SNS_MESSAGE).alarm_name == "LambdaErrorAlarm"


def test_minimal_sns_message_tolerates_missing_optional_fields() -> None:
    event = parse_alarm('{"AlarmName": "bare", "NewStateValue": "OK"}')
    assert event.state is AlarmState.ok
    assert event.previous_state is None
    assert event.state_time is None
    assert event.threshold is None
    assert event.latest_value is None


def test_sns_odd_old_state_and_trigger_do_not_fail() -> None:
    message = dict(OLD_SNS_MESSAGE, OldStateValue="SOMETHING_NEW", Trigger="metric math")
    event = parse_alarm(message)
    assert event.previous_state is None
    # The trigger is gone, but the reason still says what was crossed.
    assert event.threshold == 0.0
    assert event.comparison == "GreaterThanThreshold"


# --- EventBridge shape ----------------------------------------------------------------------------


def test_eventbridge_documented_example() -> None:
    event = parse_alarm(AWS_DOC_EVENT)
    assert event.source == "eventbridge"
    assert event.alarm_name == "ServerCpuTooHigh"
    assert event.alarm_arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"
    assert event.region == "us-east-1"
    assert event.state is AlarmState.alarm
    assert event.previous_state is AlarmState.ok
    assert event.state_time == datetime(2019, 10, 2, 17, 4, 40, 989000, tzinfo=UTC)
    assert event.previous_state_time == datetime(2019, 10, 1, 13, 56, 40, 987000, tzinfo=UTC)
    assert event.threshold == 50.0
    # EventBridge carries no comparison operator: it is read from the reason's words.
    assert event.comparison == "GreaterThanThreshold"
    assert event.latest_value == pytest.approx(99.50160229693434)
    assert event.reason_data is not None
    assert event.reason_data.recent_datapoints == [pytest.approx(99.50160229693434)]
    assert event.metric_name == "CPUUtilization"
    assert event.namespace == "AWS/EC2"
    assert event.statistic == "Average"
    assert event.period == 300
    assert event.meta is None
    assert event.description == "Goes into alarm when server CPU utilization is too high!"


def test_eventbridge_fixture_reason_data() -> None:
    event = parse_alarm(load("eventbridge_alarm.json"))
    assert event.reason_data is not None
    assert event.reason_data.threshold == 1.0
    assert [p.value for p in event.reason_data.evaluated_datapoints] == [0.0, 0.0]
    assert event.comparison == "LessThanThreshold"
    assert event.meta is not None
    assert event.meta.routes == ["campaigns-critical", "platform-critical"]


def test_latest_value_is_the_newest_evaluated_datapoint_not_the_first_listed() -> None:
    raw = load("eventbridge_alarm.json")
    raw["detail"]["state"]["reasonData"] = json.dumps(
        {
            "recentDatapoints": [5.0, 7.0, 9.0],
            "threshold": 1.0,
            "evaluatedDatapoints": [
                {"timestamp": "2024-05-02T14:04:00.000+0000"},  # missing datapoint: no value
                {"timestamp": "2024-05-02T14:02:00.000+0000", "value": 7.0},
                {"timestamp": "2024-05-02T14:03:00.000+0000", "value": 9.0},
                {"timestamp": "2024-05-02T14:01:00.000+0000", "value": 5.0},
            ],
        }
    )
    assert parse_alarm(raw).latest_value == 9.0


@pytest.mark.parametrize(
    ("reason", "comparison"),
    [
        ("... [3.0 (x)] was greater than or equal to the threshold (1.0).", "GreaterThanOrEqualToThreshold"),
        ("... [3.0 (x)] were not less than the threshold (1.0) ...", "LessThanThreshold"),
        ("... [3.0 (x)] was less than or equal to the threshold (1.0).", "LessThanOrEqualToThreshold"),
        ("Insufficient Data: 1 datapoint was unknown.", None),
    ],
)
def test_comparison_from_reason(reason: str, comparison: str | None) -> None:
    raw = copy.deepcopy(AWS_DOC_EVENT)
    raw["detail"]["state"]["reason"] = reason
    assert parse_alarm(raw).comparison == comparison


def test_metric_math_alarm_has_no_single_metric() -> None:
    raw = copy.deepcopy(AWS_DOC_EVENT)
    raw["detail"]["configuration"]["metrics"] = [
        {"id": "e1", "expression": "m1 + m2", "label": "Total", "returnData": True},
        {"id": "m1", "metricStat": {"metric": {"name": "NetworkIn", "namespace": "AWS/EC2"}, "stat": "Maximum"}},
        {"id": "m2", "metricStat": {"metric": {"name": "NetworkOut", "namespace": "AWS/EC2"}, "stat": "Maximum"}},
    ]
    event = parse_alarm(raw)
    assert event.metric_name is None
    assert event.statistic == "Average"  # from reason data


def test_eventbridge_minimal_and_damaged_reason_data() -> None:
    raw = {
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": "x", "state": {"value": "ALARM", "reasonData": "{not json"}},
    }
    event = parse_alarm(raw)
    assert event.reason_data is None
    assert event.alarm_arn is None
    assert event.previous_state is None
    assert event.meta is None


def test_eventbridge_delivered_through_sns() -> None:
    """An EventBridge rule may target an SNS topic; the Message is then the EventBridge event."""
    wrapped = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(AWS_DOC_EVENT)}}]}
    (payload,) = split_event(wrapped)
    assert parse_alarm(payload).alarm_name == "ServerCpuTooHigh"


# --- what is refused ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "{this is not json",
        "",
        "[]",
        "42",
        None,
        42,
        ["AlarmName"],
        {},
        {"AlarmName": "x"},  # no state
        {"AlarmName": "", "NewStateValue": "ALARM"},
        {"AlarmName": "x", "NewStateValue": "PANIC"},
        {"detail": {"alarmName": "x"}},
        {"detail": {"alarmName": "x", "state": {"value": "PANIC"}}},
        {
            "detail-type": "CloudWatch Alarm Configuration Change",
            "detail": {"alarmName": "x", "state": {"value": "OK"}},
        },
        {"source": "aws.s3", "detail": "nope"},
    ],
)
def test_unreadable_payloads_raise_alarm_event_error(payload: Any) -> None:
    with pytest.raises(AlarmEventError):
        parse_alarm(payload)


def test_damaged_trailer_gives_no_meta() -> None:
    message = sns_message("sns_alarm.json")
    message["AlarmDescription"] = message["AlarmDescription"][:-20]
    event = parse_alarm(message)
    assert event.meta is None
    assert event.description.startswith("Orders waiting")


# --- splitting and salvage ------------------------------------------------------------------------


def test_split_event_batches() -> None:
    record = load("sns_alarm.json")["Records"][0]
    batch = {"Records": [record, record, {"EventSource": "aws:sqs", "body": "x"}]}
    payloads = split_event(batch)
    assert len(payloads) == 3
    assert isinstance(payloads[0], str)
    assert payloads[2] == {"EventSource": "aws:sqs", "body": "x"}
    assert split_event(AWS_DOC_EVENT) == [AWS_DOC_EVENT]
    assert split_event({"Records": []}) == [{"Records": []}]
    assert split_event("junk") == ["junk"]


def test_deliveries_carry_the_transport_id_a_redelivery_repeats() -> None:
    sns = load("sns_alarm.json")
    (delivery,) = deliveries(sns)
    assert delivery == Delivery(sns["Records"][0]["Sns"]["Message"], "sns:95df01b4-ee98-5cb9-9903-4c221d41eb5e")
    assert deliveries(AWS_DOC_EVENT) == [Delivery(AWS_DOC_EVENT, "events:c4c1c1c9-6542-e61b-6ef0-8c4d36933a92")]
    assert deliveries("junk") == [Delivery("junk", None)]


# --- the alarm's Lambda action and CloudWatch's other events ---------------------------------------


def test_alarm_action_event_of_the_user_guide() -> None:
    # The metric alarm example of "Invoke a Lambda function from an alarm" (CloudWatch user guide),
    # recorded as awslabs/aws-lambda-rust-runtime keeps it from that page (its
    # example-cloudwatch-alarm-metric.json): spaces inside its times and a broken reasonData
    # included, neither of which may sink the event.
    event = parse_alarm(load("lambda_action_metric_alarm.json"))
    assert event.source == "lambda"
    assert (event.alarm_name, event.state, event.previous_state) == (
        "lambda-demo-metric-alarm",
        AlarmState.alarm,
        AlarmState.insufficient_data,
    )
    assert (event.region, event.account, event.reason) == ("us-east-1", "444455556666", "test")
    assert event.description == "Metric Alarm to test Lambda actions" and event.meta is None
    assert (event.namespace, event.metric_name, event.statistic, event.period) == (
        "AWS/Logs",
        "CallCount",
        "Average",
        60,
    )
    assert event.state_time is None  # "2023-08-04T12: 36: 15.490+0000" is not a time


def test_alarm_action_event_reads_as_the_eventbridge_event_it_mirrors() -> None:
    eb = load("eventbridge_alarm.json")
    action = {
        "source": "aws.cloudwatch",
        "alarmArn": eb["resources"][0],
        "accountId": eb["account"],
        "time": eb["detail"]["state"]["timestamp"],
        "region": eb["region"],
        "alarmData": eb["detail"],
    }
    assert parse_alarm(action) == parse_alarm(eb).model_copy(update={"source": "lambda"})


def test_a_configuration_change_is_not_a_state_change() -> None:
    with pytest.raises(NotAStateChange) as raised:
        parse_alarm(load("eventbridge_configuration_change.json"))
    assert raised.value.detail_type == "CloudWatch Alarm Configuration Change"
    assert raised.value.alarm_name == "ServiceAggregatedAlarm"


def test_salvage_from_truncated_sns_message() -> None:
    message = load("sns_alarm.json")["Records"][0]["Sns"]["Message"]
    found = salvage({"Records": [{"Sns": {"Message": message[:400]}}]})
    assert found.name == "vigil-prod-orders-queue-backlog"
    assert found.meta is None  # the description was cut off


def test_salvage_from_eventbridge_with_bad_state_keeps_meta_and_region() -> None:
    raw = load("eventbridge_alarm.json")
    raw["detail"]["state"]["value"] = "PANIC"
    found = salvage(raw)
    assert found.name == "vigil-prod-campaign-api-health-down"
    assert found.state == "PANIC"
    assert found.region == "eu-west-1"
    assert found.meta is not None
    assert found.meta.routes == ["campaigns-critical", "platform-critical"]


@pytest.mark.parametrize("raw", [None, 42, "garbage", b"\xff\xfe", [], {"a": {"b": [1, 2, {"c": None}]}}, object()])
def test_salvage_finds_nothing_quietly(raw: Any) -> None:
    found = salvage(raw)
    assert found.name is None
    assert found.meta is None


def test_salvage_bounds_deep_nesting() -> None:
    deep: Any = {"AlarmName": "too-deep"}
    for _ in range(500):
        deep = {"x": deep}
    assert salvage(deep).name is None
