"""Repeats, escalation and acknowledgement, against moto (CloudWatch, Scheduler, DynamoDB, SNS, Secrets
Manager), with time simulated: `repeats.clock` and `ack.clock` say when "now" is, and a schedule
"fires" when the test invokes the notifier with the Input moto's Scheduler holds for it.

The alarm is orders-queue backlog (critical, route campaigns-critical) from the fixtures, created in
moto CloudWatch with the same description, so the follow-ups' DescribeAlarms sees what the pages said.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlparse

import boto3
import pytest
from test_notifier_delivery import ALARM_ARN, TABLE, sns_event, table  # noqa: F401
from test_notifier_handler import REGION, Routes, env, routes, summary  # noqa: F401
from test_notifier_outputs import instance, servicenow  # noqa: F401

from infra.alarm_events import eventbridge_event
from infra.fake_servicenow import FakeServiceNow
from vigil import secrets
from vigil.notifier import ack, repeats
from vigil.notifier import handler as notifier
from vigil.notifier.ack_token import AckRequest, signature
from vigil.notifier.events import from_sns_message

ROUTE, ESCALATION = "campaigns-critical", "platform-critical"
GROUP = "vigil-prod-paging"
ROLE = "arn:aws:iam::123456789012:role/vigil-prod-scheduler"
DEAD_LETTERS = "arn:aws:sqs:eu-west-1:123456789012:vigil-prod-notifier-failures"
FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:vigil-prod-notifier"
ACK_URL = "https://abc123.lambda-url.eu-west-1.on.aws/"
CONTEXT = SimpleNamespace(invoked_function_arn=FUNCTION, aws_request_id="r-1")
HALF_HOUR = 1800


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def paging(table: Any, monkeypatch: pytest.MonkeyPatch) -> Clock:  # noqa: F811
    """Repeats every 30 min (at most 6), escalation to platform-critical after 15 min, the ack key in moto."""
    policy = {
        "max_repeats": 6,
        "routes": {ROUTE: {"repeat_every": {"critical": HALF_HOUR}, "escalate_to": ESCALATION, "escalate_after": 900}},
    }
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="vigil-prod-ack", SecretString=json.dumps({"key": "k" * 64})
    )
    boto3.client("scheduler", region_name=REGION).create_schedule_group(Name=GROUP)
    for name, value in {
        repeats.PAGING_ENV: json.dumps(policy),
        repeats.SCHEDULE_GROUP_ENV: GROUP,
        repeats.SCHEDULER_ROLE_ENV: ROLE,
        repeats.DEAD_LETTER_ENV: DEAD_LETTERS,
        repeats.ACK_URL_ENV: ACK_URL,
        repeats.ACK_SECRET_ENV: secret["ARN"],
    }.items():
        monkeypatch.setenv(name, value)
    secrets.clear_cache()
    monkeypatch.setattr(ack, "_clients", {})
    clock = Clock(datetime(2024, 5, 2, 14, 5, tzinfo=UTC).timestamp())
    monkeypatch.setattr(repeats, "clock", clock)
    monkeypatch.setattr(ack, "clock", clock)
    return clock


def alarm_in_moto(state: str = "ALARM", description: str | None = None) -> dict[str, Any]:
    """The fixture's alarm in moto CloudWatch, put in `state` (created with `description` when given);
    its SNS notification of that change."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    described = {"AlarmDescription": description} if description else {}
    message = json.loads(sns_event(**described)["Records"][0]["Sns"]["Message"])
    if not cloudwatch.describe_alarms(AlarmNames=[message["AlarmName"]])["MetricAlarms"]:
        cloudwatch.put_metric_alarm(
            AlarmName=message["AlarmName"],
            AlarmDescription=message["AlarmDescription"],
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=3,
            Threshold=500,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(AlarmName=message["AlarmName"], StateValue=state, StateReason="test")
    (found,) = cloudwatch.describe_alarms(AlarmNames=[message["AlarmName"]])["MetricAlarms"]
    at: datetime = found["StateUpdatedTimestamp"]
    changed = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
    return sns_event(
        message_id=f"{state}-{changed}",
        NewStateValue=state,
        OldStateValue="OK" if state == "ALARM" else "ALARM",
        StateChangeTime=changed,
        **described,
    )


def schedules() -> dict[str, dict[str, Any]]:
    """Every schedule in the group, by name, as GetSchedule answers."""
    client = boto3.client("scheduler", region_name=REGION)
    names = [s["Name"] for s in client.list_schedules(GroupName=GROUP)["Schedules"]]
    return {name: client.get_schedule(GroupName=GROUP, Name=name) for name in names}


def fire(kind: str, count: int, clock: Clock, at: float) -> dict[str, int]:
    """Time moves to `at`, and the schedule of that follow-up invokes the notifier with its Input."""
    (found,) = [s for s in schedules().values() if s["Name"].startswith(f"{kind}-") and s["Name"].endswith(f"-{count}")]
    clock.now = at
    return notifier.handler(json.loads(found["Target"]["Input"]), CONTEXT)


def subjects(route: str = ROUTE) -> list[str | None]:
    return [subject for subject, _ in Routes.published(route)]


def ack_link(route: str = ROUTE) -> str:
    """The acknowledgement link of the route's first ALARM e-mail."""
    email = Routes.published(route)[0][1]["default"]
    return next(line for line in email.splitlines() if line.startswith(ACK_URL))


def url_event(link: str, method: str = "POST", body: str = "") -> dict[str, Any]:
    """What a Lambda function URL hands the function (payload format 2.0)."""
    query = dict(parse_qsl(urlparse(link).query))
    return {
        "version": "2.0",
        "rawQueryString": urlparse(link).query,
        "queryStringParameters": query,
        "requestContext": {"http": {"method": method, "path": "/"}},
        "body": body,
        "isBase64Encoded": False,
    }


def paging_record(client: Any) -> dict[str, Any]:
    key = {"pk": {"S": f"alarm#{ALARM_ARN}"}, "sk": {"S": "paging"}}
    return client.get_item(TableName=TABLE, Key=key).get("Item", {})


def test_a_repeat_fires_twice_then_stops_on_acknowledgement(paging: Clock) -> None:
    start = paging.now
    assert notifier.handler(alarm_in_moto(), CONTEXT) == summary(published=1)
    assert fire("repeat", 2, paging, start + HALF_HOUR) == summary(published=1)
    assert fire("repeat", 3, paging, start + 2 * HALF_HOUR) == summary(published=1)
    answer = ack.handler(url_event(ack_link(), body="by=alice"), None)
    assert answer["statusCode"] == 200 and "acknowledged" in answer["body"]
    assert fire("repeat", 4, paging, start + 3 * HALF_HOUR) == summary(skipped=1)
    assert subjects() == [
        "[ALARM][critical] orders-queue backlog - orders",
        "REPEAT 2: [ALARM][critical] orders-queue backlog - orders",
        "REPEAT 3: [ALARM][critical] orders-queue backlog - orders",
    ]
    assert not [name for name in schedules() if name.endswith("-5")]  # the chain ended with the ack


def test_the_page_after_an_acknowledgement_says_who_acknowledged(paging: Clock, table: Any) -> None:  # noqa: F811
    notifier.handler(alarm_in_moto(), CONTEXT)
    ack.handler(url_event(ack_link(), body="by=alice"), None)
    assert paging_record(table)["acked_by"]["S"] == "alice"
    notifier.handler(alarm_in_moto("OK"), CONTEXT)
    ok_email = Routes.published(ROUTE)[1][1]["default"]
    assert "Acknowledged by alice at 2024-05-02T14:05:00Z" in ok_email


def test_repeats_stop_when_the_alarm_is_ok(paging: Clock) -> None:
    notifier.handler(alarm_in_moto(), CONTEXT)
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
        AlarmName="vigil-prod-orders-queue-backlog", StateValue="OK", StateReason="recovered"
    )
    assert fire("repeat", 2, paging, paging.now + HALF_HOUR) == summary(skipped=1)
    assert subjects() == ["[ALARM][critical] orders-queue backlog - orders"]


def test_repeats_stop_at_a_newer_alarm_which_has_its_own_and_not_at_a_rounder_timestamp() -> None:
    follow = repeats.FollowUp(
        vigil="repeat", alarm_arn=ALARM_ARN, at="2024-05-02T14:03:41.187Z", count=2, routes=[ROUTE]
    )
    paged = from_sns_message(json.loads(sns_event()["Records"][0]["Sns"]["Message"]))  # ALARM at 14:03:41.187
    later = paged.model_copy(update={"state_time": datetime(2024, 5, 2, 14, 20, tzinfo=UTC)})
    assert "newer ALARM at 2024-05-02T14:20:00.000Z" in (repeats.why_stop(follow, later, None) or "")
    # The API to the millisecond, an SNS notification to the second: the same ALARM.
    rounder = paged.model_copy(update={"state_time": datetime(2024, 5, 2, 14, 3, 42, tzinfo=UTC)})
    assert repeats.why_stop(follow, rounder, None) is None


def test_escalation_pages_the_next_route_only_without_acknowledgement(paging: Clock) -> None:
    notifier.handler(alarm_in_moto(), CONTEXT)
    assert fire("escalate", 1, paging, paging.now + 900) == summary(published=1)
    (subject,) = subjects(ESCALATION)
    assert subject == "ESCALATED: [ALARM][critical] orders-queue backlog - orders"
    assert "not acknowledged within 15 minutes" in Routes.published(ESCALATION)[0][1]["default"]


def test_an_acknowledged_alarm_is_not_escalated(paging: Clock) -> None:
    notifier.handler(alarm_in_moto(), CONTEXT)
    ack.handler(url_event(ack_link(), body="by=bob"), None)
    assert fire("escalate", 1, paging, paging.now + 900) == summary(skipped=1)
    assert subjects(ESCALATION) == []


def test_a_redelivered_follow_up_pages_once(paging: Clock) -> None:
    notifier.handler(alarm_in_moto(), CONTEXT)
    assert fire("repeat", 2, paging, paging.now + HALF_HOUR) == summary(published=1)
    assert fire("repeat", 2, paging, paging.now) == summary(skipped=1)  # Scheduler delivers at least once


def test_the_schedules_are_one_shot_at_expressions_that_invoke_the_notifier(paging: Clock) -> None:
    event = alarm_in_moto()
    notifier.handler(event, CONTEXT)
    notifier.handler(eventbridge_event(event, "eb-1"), CONTEXT)  # the EventBridge twin: no second schedule
    found = schedules()
    assert len(found) == 2
    repeat = next(s for name, s in found.items() if name.startswith("repeat-"))
    assert repeat["ScheduleExpression"] == "at(2024-05-02T14:35:00)"
    assert repeat["ScheduleExpressionTimezone"] == "UTC"
    assert repeat["ActionAfterCompletion"] == "DELETE"
    assert repeat["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert repeat["Target"]["Arn"] == FUNCTION and repeat["Target"]["RoleArn"] == ROLE
    # What Scheduler could not deliver goes to the notifier's failure queue, whose alarm pages.
    assert all(s["Target"]["DeadLetterConfig"] == {"Arn": DEAD_LETTERS} for s in found.values())
    payload = json.loads(repeat["Target"]["Input"])
    assert payload["vigil"] == "repeat" and payload["count"] == 2 and payload["routes"] == [ROUTE]
    assert payload["alarm_arn"] == ALARM_ARN
    escalate = next(s for name, s in found.items() if name.startswith("escalate-"))
    assert escalate["ScheduleExpression"] == "at(2024-05-02T14:20:00)"
    assert json.loads(escalate["Target"]["Input"])["routes"] == [ESCALATION]
    assert all(len(name) <= 64 for name in found)


def test_repeats_end_after_max_repeats(paging: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = {"max_repeats": 1, "routes": {ROUTE: {"repeat_every": {"critical": HALF_HOUR}}}}
    monkeypatch.setenv(repeats.PAGING_ENV, json.dumps(policy))
    notifier.handler(alarm_in_moto(), CONTEXT)
    assert fire("repeat", 2, paging, paging.now + HALF_HOUR) == summary(published=1)
    assert sorted(name.rsplit("-", 1)[1] for name in schedules()) == ["2"]


def test_a_warning_does_not_repeat(paging: Clock) -> None:
    policy = {"routes": {ROUTE: {"repeat_every": {"warning": HALF_HOUR}}}}  # the alarm is critical
    event = from_sns_message(json.loads(alarm_in_moto()["Records"][0]["Sns"]["Message"]))
    assert repeats.first_followups(repeats.policy(json.dumps(policy)), event, datetime.now(UTC)) == []


def test_a_repeat_adds_a_work_note_to_the_servicenow_incident(paging: Clock, servicenow: FakeServiceNow) -> None:  # noqa: F811
    notifier.handler(alarm_in_moto(), CONTEXT)
    fire("repeat", 2, paging, paging.now + HALF_HOUR)
    (incident,) = servicenow.incidents.values()
    (note,) = incident["journal"]
    assert note.startswith("vigil: Still in ALARM (repeat notification)")
    assert servicenow.problems == []


# --- the acknowledgement function: the token is the only auth ---------------------------------------


@pytest.mark.parametrize("tamper", ["signature", "alarm", "expiry", "expired"])
def test_a_bad_or_expired_token_gets_403_and_writes_nothing(paging: Clock, table: Any, tamper: str) -> None:  # noqa: F811
    notifier.handler(alarm_in_moto(), CONTEXT)
    event = url_event(ack_link(), body="by=mallory")
    query = event["queryStringParameters"]
    if tamper == "signature":
        query["s"] = query["s"][:-2] + ("AA" if not query["s"].endswith("AA") else "BB")
    elif tamper == "alarm":
        query["a"] = query["a"].replace("orders-queue-backlog", "campaign-api-health-down")
    elif tamper == "expiry":
        query["e"] = str(int(query["e"]) + 86400)
    else:
        paging.now += 86400 + 1
    before = paging_record(table)
    answer = ack.handler(event, None)
    assert answer["statusCode"] == 403
    assert paging_record(table) == before and "acked_by" not in before


def test_opening_the_link_only_asks_to_confirm(paging: Clock, table: Any) -> None:  # noqa: F811
    notifier.handler(alarm_in_moto(), CONTEXT)
    answer = ack.handler(url_event(ack_link(), method="GET"), None)
    assert answer["statusCode"] == 200 and '<form method="post">' in answer["body"]
    assert "acked_by" not in paging_record(table)  # a mail scanner's GET acknowledges nothing


def test_an_acknowledgement_of_a_past_alarm_changes_nothing(paging: Clock, table: Any) -> None:  # noqa: F811
    notifier.handler(alarm_in_moto(), CONTEXT)
    old_link = ack_link()
    notifier.handler(alarm_in_moto("OK"), CONTEXT)
    paging.now += 60
    notifier.handler(alarm_in_moto("ALARM"), CONTEXT)
    answer = ack.handler(url_event(old_link, body="by=alice"), None)
    assert answer["statusCode"] == 409
    assert "acked_by" not in paging_record(table)


def test_the_signature_covers_alarm_timestamp_and_expiry() -> None:
    key = b"k" * 32
    base = signature(key, ALARM_ARN, "2024-05-02T14:03:41.187Z", 1714700000)
    assert base != signature(key, ALARM_ARN + "x", "2024-05-02T14:03:41.187Z", 1714700000)
    assert base != signature(key, ALARM_ARN, "2024-05-02T14:03:41.188Z", 1714700000)
    assert base != signature(key, ALARM_ARN, "2024-05-02T14:03:41.187Z", 1714700001)
    assert base != signature(b"j" * 32, ALARM_ARN, "2024-05-02T14:03:41.187Z", 1714700000)
    request = AckRequest.model_validate({"a": ALARM_ARN, "t": "x", "e": 1, "s": base})
    assert request.by == ""
