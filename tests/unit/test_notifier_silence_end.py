"""The page at an ad-hoc silence's end, against moto (CloudWatch, Scheduler, DynamoDB, SNS, Secrets Manager).

An ad-hoc silence holds the ALARM of orders-queue backlog (service orders, route campaigns-critical);
the notifier schedules a follow-up at the silence's end, and a test "fires" it by invoking the
notifier with the Input moto's Scheduler holds, `repeats.clock` moved to that time. moto stamps the
alarm's state changes with the real time, so the silence here is set around the real now.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from test_notifier_delivery import TABLE, sns_event, table  # noqa: F401
from test_notifier_grouping import RecordingSqs, _member, flush_record, sqs  # noqa: F401
from test_notifier_handler import REGION, Routes, env, routes, summary  # noqa: F401
from test_notifier_repeats import CONTEXT, DEAD_LETTERS, ROUTE, Clock, alarm_in_moto, paging, schedules  # noqa: F401

from infra.alarm_events import eventbridge_event
from vigil.alarm_meta import decode_description, encode_description
from vigil.notifier import handler as notifier
from vigil.notifier import repeats, silence_end
from vigil.notifier.events import AlarmEvent, from_sns_message
from vigil.notifier.group_render import render_group
from vigil.notifier.grouping import Member
from vigil.notifier.handler import PublishError
from vigil.notifier.silencing import WINDOWS_ENV
from vigil.silences.adhoc import AdhocSilence
from vigil.silences.windows import Window

ALARM_NAME = "vigil-prod-orders-queue-backlog"
INHIBITOR = "vigil-prod-order-worker-health-down"
INHIBIT_EXTENSION = 240
SUBJECT = "[ALARM][critical] orders-queue backlog - orders"


@pytest.fixture
def now(paging: Clock) -> Clock:  # noqa: F811
    """The repeats' clock at the real time, whole seconds (moto's alarm timestamps are real)."""
    paging.now = float(int(time.time()))
    return paging


def silence(table: Any, clock: Clock, minutes: int = 60, **changes: Any) -> AdhocSilence:  # noqa: F811
    """An ad-hoc silence of service orders from 5 minutes ago for `minutes` from the clock's now."""
    start = datetime.fromtimestamp(clock.now, UTC)
    made = AdhocSilence(
        id="3f9a2c",
        target="service",
        name="orders",
        reason="deploy",
        created_by="alice",
        start=start - timedelta(minutes=5),
        until=start + timedelta(minutes=minutes),
    ).model_copy(update=changes)
    table.put_item(TableName=TABLE, Item=made.to_item())
    return made


def silence_ends() -> list[dict[str, Any]]:
    """The silence-end schedules, earliest first."""
    found = [s for name, s in schedules().items() if name.startswith(f"{silence_end.KIND}-")]
    return sorted(found, key=lambda s: s["ScheduleExpression"])


def fire(schedule: dict[str, Any], clock: Clock) -> dict[str, int]:
    """Time moves to the schedule's at(), and Scheduler invokes the notifier with its Input."""
    clock.now = (
        datetime.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)").replace(tzinfo=UTC).timestamp()
    )
    return notifier.handler(json.loads(schedule["Target"]["Input"]), CONTEXT)


def first_email() -> str:
    return str(Routes.published(ROUTE)[0][1]["default"])


def clock_text(moment: datetime) -> str:
    """How the page words a silence's end: '3 Dec 04:00 UTC'."""
    return f"{moment.day} {moment:%b %H:%M} UTC"


def fixture_alarm() -> AlarmEvent:
    """The fixture's ALARM (14:03:41.187 on 2 May 2024), as the notifier reads it."""
    return from_sns_message(json.loads(sns_event()["Records"][0]["Sns"]["Message"]))


def set_state(state: str, name: str = ALARM_NAME) -> None:
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def test_a_held_alarm_still_in_alarm_pages_once_when_its_silence_ends(now: Clock, table: Any) -> None:  # noqa: F811
    held = silence(table, now)
    event = alarm_in_moto()
    assert notifier.handler(event, CONTEXT) == summary(skipped=1)
    assert notifier.handler(eventbridge_event(event, "eb-1"), CONTEXT) == summary(skipped=1)
    assert Routes.published(ROUTE) == []
    (schedule,) = silence_ends()  # both copies of the held change: one schedule
    assert schedule["ScheduleExpression"] == f"at({held.until:%Y-%m-%dT%H:%M:%S})"
    assert schedule["ActionAfterCompletion"] == "DELETE" and schedule["Target"]["Arn"] == CONTEXT.invoked_function_arn
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": DEAD_LETTERS}  # the only page: never dropped silently

    assert fire(schedule, now) == summary(published=1)
    ((subject, message),) = Routes.published(ROUTE)
    assert subject == f"SILENCE ENDED: {SUBJECT}"
    email = message["default"]
    assert email.startswith(f"Held by silence 3f9a2c (alice: deploy) until {clock_text(held.until)}; still in ALARM.\n")
    assert message["sms"].startswith("SILENCE ENDED: ALARM crit orders-queue backlog")
    # As a first page: the acknowledgement link, and the repeats and escalation begin.
    assert "Acknowledge (stops the repeats and escalation" in email
    assert {name.split("-", 1)[0] for name in schedules()} == {"silence", "repeat", "escalate"}

    # Scheduler delivers at least once; a copy of the held change arriving late pages nothing either.
    assert fire(schedule, now) == summary(skipped=1)
    assert notifier.handler(event, CONTEXT) == summary(skipped=1)
    assert len(Routes.published(ROUTE)) == 1


def test_its_recovery_pages_after_the_silence_end_page_even_during_a_new_silence(now: Clock, table: Any) -> None:  # noqa: F811
    silence(table, now)
    notifier.handler(alarm_in_moto(), CONTEXT)
    (schedule,) = silence_ends()
    fire(schedule, now)
    # A new silence from here on: the OK ends an ALARM on-call was paged about, so it is delivered.
    silence(table, now, id="77aa01", start=datetime.fromtimestamp(now.now, UTC))
    set_state("OK")
    ok = alarm_in_moto("OK")
    assert notifier.handler(ok, CONTEXT) == summary(published=1)
    assert Routes.published(ROUTE)[-1][0] == "[OK][critical] orders-queue backlog recovered - orders"


def test_an_alarm_that_recovered_during_the_silence_pages_nothing_at_its_end(now: Clock, table: Any) -> None:  # noqa: F811
    silence(table, now)
    notifier.handler(alarm_in_moto(), CONTEXT)
    set_state("OK")
    (schedule,) = silence_ends()
    assert fire(schedule, now) == summary(skipped=1)
    assert Routes.published(ROUTE) == []


def test_only_the_held_alarm_itself_pages_not_a_newer_one() -> None:
    held = "2024-05-02T14:03:41.187Z"
    assert repeats.episode_over(held, None) == "the alarm no longer exists"
    newer = fixture_alarm().model_copy(update={"state_time": datetime(2024, 5, 2, 14, 40, tzinfo=UTC)})
    assert "newer ALARM" in (repeats.episode_over(held, newer) or "")
    assert repeats.episode_over(held, fixture_alarm()) is None


def test_an_extended_silence_moves_the_follow_up_to_its_new_end(now: Clock, table: Any) -> None:  # noqa: F811
    held = silence(table, now)
    notifier.handler(alarm_in_moto(), CONTEXT)
    (first,) = silence_ends()
    extended = silence(table, now, until=held.until + timedelta(hours=2))  # the same id, a later end
    assert fire(first, now) == summary(skipped=1)
    assert Routes.published(ROUTE) == []
    later = silence_ends()[-1]
    assert later["ScheduleExpression"] == f"at({extended.until:%Y-%m-%dT%H:%M:%S})"
    assert fire(later, now) == summary(published=1)
    assert f"until {clock_text(extended.until)}; still in ALARM" in first_email()


def test_with_grouping_on_the_page_at_the_silences_end_joins_its_services_group(
    now: Clock,
    table: Any,  # noqa: F811
    sqs: RecordingSqs,  # noqa: F811
) -> None:
    silence(table, now)
    assert notifier.handler(alarm_in_moto(), CONTEXT) == summary(skipped=1)  # held before any group
    assert sqs.sent == []
    (schedule,) = silence_ends()
    assert fire(schedule, now) == {**summary(), "grouped": 1}
    (flush,) = sqs.sent
    assert notifier.handler(flush_record(flush), CONTEXT) == summary(published=1)
    ((subject, _),) = Routes.published(ROUTE)
    assert subject == f"SILENCE ENDED: {SUBJECT}"


def test_in_a_group_of_several_the_page_at_a_silences_end_keeps_its_mark_in_the_list() -> None:
    backlog, age = _member("backlog"), _member("age")
    held = silence_end.page_form(backlog.notification, "Held by silence 3f9a2c until 2 May 15:00 UTC; still in ALARM.")
    email = render_group([Member.of(backlog.event, held, backlog.routes), age]).email
    assert "orders-queue backlog (silence ended): " in email
    assert "orders-queue age: " in email and "orders-queue age (silence ended)" not in email
    assert "Held by silence 3f9a2c" in email  # its own e-mail, in full below the list


def test_a_window_open_at_the_silences_end_moves_the_follow_up_to_the_windows_end(
    now: Clock,
    table: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = silence(table, now)
    notifier.handler(alarm_in_moto(), CONTEXT)
    start = held.until - timedelta(minutes=10)
    window = Window(
        name="orders-patching",
        start=start.replace(tzinfo=None, second=0),
        end=(start + timedelta(hours=1)).replace(tzinfo=None, second=0),
        services=["orders"],
    )
    monkeypatch.setenv(WINDOWS_ENV, json.dumps([window.model_dump(mode="json")]))
    (first,) = silence_ends()
    assert fire(first, now) == summary(skipped=1)
    later = silence_ends()[-1]
    assert later["ScheduleExpression"] == f"at({window.end:%Y-%m-%dT%H:%M:%S})"
    assert json.loads(later["Target"]["Input"])["silence"] == "3f9a2c"  # the page still names the silence
    assert fire(later, now) == summary(published=1)


def test_a_silence_expired_early_pages_at_its_planned_end_and_says_who_ended_it(now: Clock, table: Any) -> None:  # noqa: F811
    held = silence(table, now)
    notifier.handler(alarm_in_moto(), CONTEXT)
    ended = datetime.fromtimestamp(now.now, UTC) + timedelta(minutes=10)
    silence(table, now, until=ended, expired_by="bob")  # what `silence expire` writes
    (schedule,) = silence_ends()
    assert schedule["ScheduleExpression"] == f"at({held.until:%Y-%m-%dT%H:%M:%S})"  # late, not lost
    assert fire(schedule, now) == summary(published=1)
    assert f"until {clock_text(ended)}, when bob ended it; still in ALARM." in first_email()


def test_a_route_without_repeats_still_gets_the_page_without_an_ack_link(
    now: Clock,
    table: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(repeats.PAGING_ENV)  # no route repeats or escalates: the stack still has the group
    silence(table, now)
    notifier.handler(alarm_in_moto(), CONTEXT)
    (schedule,) = silence_ends()
    assert fire(schedule, now) == summary(published=1)
    ((subject, message),) = Routes.published(ROUTE)
    assert subject == f"SILENCE ENDED: {SUBJECT}" and "Acknowledge" not in message["default"]
    assert [name for name in schedules() if not name.startswith("silence-end-")] == []


def test_a_follow_up_that_cannot_be_scheduled_fails_the_invocation_for_a_retry(
    now: Clock,
    table: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Refusing:
        def create_schedule(self, **request: Any) -> None:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "CreateSchedule")

    silence(table, now)
    monkeypatch.setitem(notifier._clients, "scheduler", Refusing())
    with pytest.raises(PublishError, match="orders-queue-backlog: the follow-up at its silence's end"):
        notifier.handler(alarm_in_moto(), CONTEXT)
    monkeypatch.delitem(notifier._clients, "scheduler")
    assert notifier.handler(alarm_in_moto(), CONTEXT) == summary(skipped=1)  # the retry: still held, arranged
    assert len(silence_ends()) == 1


def test_a_held_recovery_arranges_nothing(now: Clock, table: Any) -> None:  # noqa: F811
    silence(table, now)
    notifier.handler(alarm_in_moto(), CONTEXT)
    set_state("OK")
    assert notifier.handler(alarm_in_moto("OK"), CONTEXT) == summary(skipped=1)
    assert len(silence_ends()) == 1


def test_the_schedule_is_at_least_a_minute_ahead_and_named_within_scheduler_limits() -> None:
    event = fixture_alarm()
    now = datetime(2024, 5, 2, 15, 0, 30, tzinfo=UTC)
    ended = datetime(2024, 5, 2, 15, 0, tzinfo=UTC)  # a hold learned after the silence ended (a retry)
    planned = silence_end.plan(event, ended, ("3f9a2c", ended), now)
    assert planned is not None
    when, follow = planned
    assert when == now + silence_end.MIN_LEAD and follow.until == ended
    assert len(silence_end.schedule_name(follow, when)) <= 64
    ok = event.model_copy(update={"state": "OK"})
    assert silence_end.plan(ok, ended, ("3f9a2c", ended), now) is None


def test_an_unreadable_payload_is_logged_and_pages_nothing(now: Clock) -> None:
    assert notifier.handler({"vigil": "silence-end", "alarm_arn": ""}, CONTEXT) == summary(skipped=1)
    assert silence_ends() == []


# --- an inhibited signal's held ALARM ---------------------------------------------------------------


def inhibited_description() -> str:
    """The fixture alarm's description, its metadata naming INHIBITOR, as synth writes an inhibited signal's."""
    human, meta = decode_description(json.loads(sns_event()["Records"][0]["Sns"]["Message"])["AlarmDescription"])
    assert meta is not None
    update = {"inhibited_by": INHIBITOR, "inhibit_wait": 180, "inhibit_extension": INHIBIT_EXTENSION}
    return encode_description(human, meta.model_copy(update=update))


@pytest.fixture
def held_inhibited(now: Clock, table: Any, sqs: RecordingSqs, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:  # noqa: F811
    """An inhibited signal's ALARM held by an ad-hoc silence, its inhibitor OK (grouping off): the
    schedule at the silence's end."""
    monkeypatch.setenv("GROUP_WAIT_SECONDS", "0")
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName=INHIBITOR,
        Namespace="Vigil",
        MetricName="m",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=3,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    set_state("OK", INHIBITOR)
    silence(table, now)
    assert notifier.handler(alarm_in_moto(description=inhibited_description()), CONTEXT) == summary(skipped=1)
    assert sqs.sent == []  # held by the silence: its inhibitor is looked at when the silence ends
    (schedule,) = silence_ends()
    return schedule


def test_an_inhibited_held_alarm_waits_at_its_silences_end_while_its_inhibitor_is_in_alarm(
    now: Clock,
    sqs: RecordingSqs,  # noqa: F811
    held_inhibited: dict[str, Any],
) -> None:
    set_state("ALARM", INHIBITOR)
    assert fire(held_inhibited, now) == summary(skipped=1)
    assert Routes.published(ROUTE) == []
    # Held as any inhibited ALARM whose wait is over: looked at again after the signal's own periods.
    (held,) = sqs.sent
    assert held["DelaySeconds"] == INHIBIT_EXTENSION
    assert json.loads(held["MessageBody"])["vigil"] == "inhibit-check"
    set_state("OK", INHIBITOR)  # the inhibitor recovers, the signal does not: it pages then, once
    assert notifier.handler(flush_record(held), CONTEXT) == summary(published=1)
    assert fire(held_inhibited, now) == summary(skipped=1)  # Scheduler's second delivery
    assert len(Routes.published(ROUTE)) == 1


def test_an_inhibited_held_alarm_pages_at_its_silences_end_when_its_inhibitor_is_not_in_alarm(
    now: Clock,
    sqs: RecordingSqs,  # noqa: F811
    held_inhibited: dict[str, Any],
) -> None:
    assert fire(held_inhibited, now) == summary(published=1)
    assert sqs.sent == []
    ((subject, _),) = Routes.published(ROUTE)
    assert subject == f"SILENCE ENDED: {SUBJECT}"
