"""Grouping (group_wait) against moto SNS, SQS and DynamoDB: a service's burst becomes one page per
route after the wait, and no change is ever lost on the way.

The deferred queue's delay is simulated: the flush message the notifier sends is recorded (and also
sent to a moto queue, to check the call), and the test invokes the notifier with it when the
simulated wait is over, as the event source mapping would.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from test_notifier_delivery import TABLE, eventbridge_twin, table  # noqa: F401
from test_notifier_handler import ACCOUNT, REGION, Routes, env, load, routes  # noqa: F401
from test_notifier_outputs import instance, servicenow  # noqa: F401

from infra.fake_servicenow import FakeServiceNow
from vigil.notifier import grouping
from vigil.notifier import handler as notifier
from vigil.notifier import sms as gsm
from vigil.notifier.events import AlarmState, parse_alarm
from vigil.notifier.group_render import render_group
from vigil.notifier.grouping import Member
from vigil.notifier.render import LinkContext, render

ROUTE = "campaigns-critical"
SIGNALS = ("backlog", "age", "dlq", "consumers")


class RecordingSqs:
    """The moto client, keeping each message sent; `refuse` makes SendMessage fail instead."""

    def __init__(self) -> None:
        self.real = boto3.client("sqs", region_name=REGION)
        self.sent: list[dict[str, Any]] = []
        self.refuse = False

    def send_message(self, **request: Any) -> Any:
        if self.refuse:
            raise ConnectionError("simulated: SQS unreachable")
        self.sent.append(request)
        return self.real.send_message(**request)


@pytest.fixture
def sqs(table: Any, monkeypatch: pytest.MonkeyPatch) -> RecordingSqs:  # noqa: F811
    recorder = RecordingSqs()
    url = recorder.real.create_queue(QueueName="vigil-prod-deferred")["QueueUrl"]
    monkeypatch.setenv("DEFERRED_QUEUE_URL", url)
    monkeypatch.setenv("GROUP_WAIT_SECONDS", "30")
    notifier._clients["sqs"] = recorder
    return recorder


def change(signal: str, state: str = "ALARM", at: str = "2024-05-02T14:03:41.187+0000", **more: Any) -> dict[str, Any]:
    """An SNS alarm action of signal `signal` of check orders-queue (service orders)."""
    event = load("sns_alarm.json")
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    name = f"vigil-prod-orders-queue-{signal}"
    message["AlarmDescription"] = message["AlarmDescription"].replace('"signal":"backlog"', f'"signal":"{signal}"')
    message["AlarmName"] = name
    message["AlarmArn"] = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
    message["NewStateValue"] = state
    message["OldStateValue"] = "OK" if state == "ALARM" else "ALARM"
    message["StateChangeTime"] = at
    message.update(more)
    sns["Message"] = json.dumps(message)
    sns["MessageId"] = f"{signal}-{state}-{at}"
    return event


def flush_record(request: dict[str, Any]) -> dict[str, Any]:
    """What the event source mapping hands the notifier once the message's delay is over."""
    return {"Records": [{"messageId": "q-1", "eventSource": "aws:sqs", "body": request["MessageBody"]}]}


def published(route: str = ROUTE) -> list[tuple[str | None, dict[str, str]]]:
    return Routes.published(route)


def test_a_burst_of_four_alarms_of_one_service_becomes_one_page(sqs: RecordingSqs) -> None:
    for signal in SIGNALS:
        result = notifier.handler(change(signal), None)
        assert result["grouped"] == 1 and result["published"] == 0
    assert published() == []
    assert len(sqs.sent) == 1, "only the first change opens the group and sends its flush"
    assert sqs.sent[0]["DelaySeconds"] == 30

    assert notifier.handler(flush_record(sqs.sent[0]), None)["published"] == 1
    [(subject, message)] = published()
    assert subject == "[ALARM][critical] 4 alarms - orders"
    assert message["sms"].startswith(
        "ALARM crit 4 alarms: orders-queue backlog, orders-queue age, orders-queue dlq, orders-queue consumers"
    )
    email = message["default"]
    for number, signal in enumerate(SIGNALS, 1):
        assert f"===== {number} of 4: orders-queue {signal} =====" in email
        assert f"ALARM  orders-queue {signal}: latest value 1520 messages (rule: > 500 messages" in email
    assert email.count("Runbook: https://wiki.example.com/runbooks/orders#queue") == 4


def test_a_lone_change_pages_as_it_was_rendered_once_the_wait_is_over(sqs: RecordingSqs) -> None:
    notifier.handler(change("backlog"), None)
    notifier.handler(flush_record(sqs.sent[0]), None)
    [(subject, message)] = published()
    assert subject == "[ALARM][critical] orders-queue backlog - orders"
    assert message["sms"].startswith("ALARM crit orders-queue backlog: 1520 >500 since 14:03Z.")


def test_a_flush_delivered_twice_pages_once(sqs: RecordingSqs) -> None:
    for signal in SIGNALS[:2]:
        notifier.handler(change(signal), None)
    notifier.handler(flush_record(sqs.sent[0]), None)
    assert notifier.handler(flush_record(sqs.sent[0]), None) == {
        "published": 0,
        "fallbacks": 0,
        "rerouted": 0,
        "skipped": 1,
    }
    assert len(published()) == 1


def test_both_copies_of_one_change_join_the_group_once(sqs: RecordingSqs) -> None:
    notifier.handler(change("backlog"), None)
    notifier.handler(eventbridge_twin(**json.loads(change("backlog")["Records"][0]["Sns"]["Message"])), None)
    notifier.handler(change("age"), None)
    notifier.handler(flush_record(sqs.sent[0]), None)
    [(subject, _)] = published()
    assert subject == "[ALARM][critical] 2 alarms - orders"


def test_a_change_after_the_flush_opens_a_new_group(sqs: RecordingSqs) -> None:
    notifier.handler(change("backlog"), None)
    # Even before the deadline (SQS may bring a delayed message a little early).
    notifier.handler(flush_record(sqs.sent[0]), None)
    notifier.handler(change("age", at="2024-05-02T14:10:00.000+0000"), None)
    assert len(sqs.sent) == 2
    notifier.handler(flush_record(sqs.sent[1]), None)
    assert [subject for subject, _ in published()] == [
        "[ALARM][critical] orders-queue backlog - orders",
        "[ALARM][critical] orders-queue age - orders",
    ]


def test_recoveries_group_the_same_way(sqs: RecordingSqs) -> None:
    for signal in SIGNALS[:3]:
        notifier.handler(change(signal, state="OK"), None)
    notifier.handler(flush_record(sqs.sent[0]), None)
    [(subject, message)] = published()
    assert subject == "[OK][critical] 3 alarms recovered - orders"
    assert message["sms"].startswith("OK crit 3 alarms recovered: orders-queue backlog, orders-queue age")


def test_an_alarm_that_recovers_within_the_wait_is_left_out(sqs: RecordingSqs) -> None:
    notifier.handler(change("backlog"), None)
    notifier.handler(change("backlog", state="OK", at="2024-05-02T14:03:55.000+0000"), None)
    notifier.handler(change("age"), None)
    notifier.handler(flush_record(sqs.sent[0]), None)
    [(subject, _)] = published()
    assert subject == "[ALARM][critical] orders-queue age - orders"


def test_a_recovery_of_an_alarm_paged_before_the_group_is_sent_even_if_it_flapped_within(sqs: RecordingSqs) -> None:
    notifier.handler(change("backlog", at="2024-05-02T14:00:00.000+0000"), None)
    notifier.handler(flush_record(sqs.sent[0]), None)
    [(paged, _)] = published()
    assert paged is not None and paged.startswith("[ALARM]")
    # The next group: it recovers, breaches again and recovers again within one wait.
    notifier.handler(change("backlog", state="OK", at="2024-05-02T14:10:00.000+0000"), None)
    notifier.handler(change("backlog", at="2024-05-02T14:10:05.000+0000"), None)
    notifier.handler(change("backlog", state="OK", at="2024-05-02T14:10:10.000+0000"), None)
    assert len(sqs.sent) == 2
    notifier.handler(flush_record(sqs.sent[1]), None)
    subjects = [subject for subject, _ in published()]
    assert len(subjects) == 2 and subjects[1] is not None and subjects[1].startswith("[OK]"), subjects


def test_a_change_that_finds_its_group_flushed_pages_at_once(sqs: RecordingSqs, table: Any) -> None:  # noqa: F811
    notifier.handler(change("backlog"), None)
    group = grouping.partition("prod", "orders")
    [pointer] = table.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND sk = :open",
        ExpressionAttributeValues={":pk": {"S": group}, ":open": {"S": grouping.OPEN}},
    )["Items"]
    # The flush closes the group between this change's read of `open` and its write to the group.
    notifier.handler(flush_record(sqs.sent[0]), None)
    table.update_item(
        TableName=TABLE,
        Key={"pk": {"S": group}, "sk": {"S": grouping.OPEN}},
        UpdateExpression="SET deadline = :deadline",
        ExpressionAttributeValues={":deadline": pointer["deadline"]},
    )
    assert notifier.handler(change("age"), None)["published"] == 1
    assert len(sqs.sent) == 1


def test_when_the_flush_cannot_be_sent_the_group_pages_at_once(sqs: RecordingSqs) -> None:
    sqs.refuse = True
    assert notifier.handler(change("backlog"), None)["published"] == 1
    [(subject, _)] = published()
    assert subject == "[ALARM][critical] orders-queue backlog - orders"
    # That group is closed; the next change opens another, whose flush cannot be sent either.
    assert notifier.handler(change("age"), None)["published"] == 1


def test_when_the_group_cannot_be_written_the_change_pages_at_once(
    sqs: RecordingSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_TABLE", "no-such-table")
    assert notifier.handler(change("backlog"), None)["published"] == 1
    assert sqs.sent == []


def test_with_group_wait_zero_every_change_pages_at_once(sqs: RecordingSqs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUP_WAIT_SECONDS", "0")
    for signal in SIGNALS[:2]:
        assert notifier.handler(change(signal), None)["published"] == 1
    assert sqs.sent == []


def test_the_flush_message_is_sent_with_the_wait_as_its_delay(sqs: RecordingSqs) -> None:
    notifier.handler(change("backlog"), None)
    queue = sqs.sent[0]["QueueUrl"]
    # Delayed: not visible before the wait is over.
    assert sqs.real.receive_message(QueueUrl=queue).get("Messages", []) == []
    assert json.loads(sqs.sent[0]["MessageBody"])["vigil"] == "group-flush"


# --- a first deploy: INSUFFICIENT_DATA -> OK --------------------------------------------------------


def test_a_new_alarms_first_ok_pages_no_one_by_either_path(table: Any) -> None:  # noqa: F811
    first = change("backlog", state="OK", OldStateValue="INSUFFICIENT_DATA")
    assert notifier.handler(first, None)["published"] == 0
    twin = eventbridge_twin(**json.loads(first["Records"][0]["Sns"]["Message"]))
    assert notifier.handler(twin, None)["published"] == 0
    assert published() == []


def test_an_ok_after_a_change_on_record_pages(table: Any) -> None:  # noqa: F811
    notifier.handler(change("backlog", state="INSUFFICIENT_DATA", OldStateValue="ALARM"), None)
    later = change("backlog", state="OK", at="2024-05-02T15:00:00.000+0000", OldStateValue="INSUFFICIENT_DATA")
    assert notifier.handler(later, None)["published"] == 1


def test_without_its_table_the_notifier_cannot_tell_and_pages_the_ok(routes: Routes) -> None:  # noqa: F811
    first = change("backlog", state="OK", OldStateValue="INSUFFICIENT_DATA")
    assert notifier.handler(first, None)["published"] == 1


# --- the grouped text -------------------------------------------------------------------------------


def _member(signal: str, check: str = "orders-queue") -> Member:
    payload = change(signal)["Records"][0]["Sns"]["Message"].replace('"check":"orders-queue"', f'"check":"{check}"')
    event = parse_alarm(payload)
    return Member.of(event, render(event, LinkContext()), (ROUTE,))


@pytest.mark.parametrize("check", ["orders-queue-with-a-rather-long-check-name", "заказы-очередь"])
def test_the_grouped_sms_stays_one_segment(check: str) -> None:
    text = render_group([_member(signal, check) for signal in SIGNALS]).sms
    encoding, limit = gsm.room(text)
    assert gsm.units(text, encoding) <= limit
    assert text.startswith("ALARM crit 4 alarms: ")


def test_a_mixed_group_says_which_ones_recovered() -> None:
    ok = _member("age").event.model_copy(update={"state": AlarmState.ok})
    members = [_member("backlog"), Member.of(ok, render(ok, LinkContext()), (ROUTE,))]
    notification = render_group(members)
    assert notification.subject == "[ALARM][critical] 2 alarm changes - orders"
    assert "orders-queue backlog, orders-queue age OK" in notification.sms


# --- outputs: one per alarm, at once --------------------------------------------------------------


def test_outputs_get_each_alarm_at_once_while_the_page_waits_for_the_group(
    sqs: RecordingSqs,
    servicenow: FakeServiceNow,  # noqa: F811
) -> None:
    for signal in SIGNALS[:2]:
        notifier.handler(change(signal), None)
    assert published() == []
    assert sorted(i["correlation_id"] for i in servicenow.incidents.values()) == [
        "vigil/prod/orders-queue/age",
        "vigil/prod/orders-queue/backlog",
    ]
    notifier.handler(flush_record(sqs.sent[0]), None)
    assert len(servicenow.incidents) == 2, "the group's page opens no incident of its own"
    assert len(published()) == 1
