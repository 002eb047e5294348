"""What pages at all: suppressed actions, CloudWatch's other events, and the EventBridge path
paging exactly where the alarm's own actions would (infra/alarms.py decides those actions).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from test_notifier_delivery import eventbridge_twin, sns_event, table  # noqa: F401
from test_notifier_handler import Routes, env, load, routes, summary  # noqa: F401

from vigil.alarm_meta import SELF_KIND, decode_description, encode_description
from vigil.notifier import handler as notifier
from vigil.notifier.events import AlarmState, parse_alarm
from vigil.notifier.paging import why_silent

INHIBITOR = "vigil-prod-order-worker-health-down"


def with_meta(event: dict[str, Any], **update: Any) -> dict[str, Any]:
    """An EventBridge event whose alarm's vigil metadata is changed by `update`."""
    config = event["detail"]["configuration"]
    text, meta = decode_description(config["description"])
    assert meta is not None
    config["description"] = encode_description(text, meta.model_copy(update=update))
    return event


def logged(capture: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capture.getvalue().splitlines()]


@pytest.fixture
def log(routes: Routes) -> io.StringIO:  # noqa: F811
    stream = io.StringIO()
    notifier.logger.registered_handler.stream = stream
    return stream


# --- actionsSuppressedBy --------------------------------------------------------------------------


def test_a_suppressed_alarm_does_not_page(log: io.StringIO) -> None:
    event = load("eventbridge_composite_alarm.json")  # state.actionsSuppressedBy: Alarm
    assert notifier.handler(event, None) == summary(skipped=1)
    assert Routes.published("campaigns-critical") == []
    (entry,) = logged(log)
    assert entry["reason"] == "actions suppressed by Alarm"
    assert entry["alarm"] == "vigil-prod-orders-queue-backlog-page"


@pytest.mark.parametrize("by", ["WaitPeriod", "ExtensionPeriod"])
def test_a_suppressed_alarm_of_an_alarm_action_does_not_page_either(routes: Routes, by: str) -> None:  # noqa: F811
    event = load("eventbridge_alarm.json")
    action = {"source": "aws.cloudwatch", "alarmArn": event["resources"][0], "region": "eu-west-1"}
    action["alarmData"] = {**event["detail"], "state": {**event["detail"]["state"], "actionsSuppressedBy": by}}
    assert notifier.handler(action, None) == summary(skipped=1)


def test_a_suppressed_ok_is_still_delivered(routes: Routes) -> None:  # noqa: F811
    event = load("eventbridge_ok.json")
    event["detail"]["state"]["actionsSuppressedBy"] = "Alarm"
    assert notifier.handler(event, None) == summary(published=2)


def test_a_suppressed_event_leaves_the_state_change_to_the_action_that_does_fire(table: Any) -> None:  # noqa: F811
    # Held back on EventBridge (wait period), paged later by the alarm action once it runs: the
    # suppressed copy must not have claimed the state change, nor made the page look stale.
    held = eventbridge_twin("e-1")
    held["detail"]["state"]["actionsSuppressedBy"] = "WaitPeriod"
    assert notifier.handler(held, None) == summary(skipped=1)
    assert notifier.handler(sns_event("m-1"), None) == summary(published=1)


# --- CloudWatch's other events --------------------------------------------------------------------


def test_a_configuration_change_does_not_page(log: io.StringIO) -> None:
    # The user guide's example ("Alarm events and EventBridge"): a composite alarm created.
    assert notifier.handler(load("eventbridge_configuration_change.json"), None) == summary(skipped=1)
    for route in ("campaigns-critical", "platform-critical", "ops-fallback"):
        assert Routes.published(route) == []
    (entry,) = logged(log)
    assert entry["level"] == "INFO"
    assert entry["reason"] == "not a state change"
    assert (entry["detail_type"], entry["alarm"]) == ("CloudWatch Alarm Configuration Change", "ServiceAggregatedAlarm")


def test_a_configuration_change_of_a_vigil_alarm_does_not_page_either(routes: Routes) -> None:  # noqa: F811
    event = load("eventbridge_alarm.json")
    event["detail-type"] = "CloudWatch Alarm Configuration Change"
    event["detail"]["operation"] = "update"
    assert notifier.handler(event, None) == summary(skipped=1)
    assert Routes.published("campaigns-critical") == []


def test_an_unknown_event_from_elsewhere_still_gets_the_plain_fallback(routes: Routes) -> None:  # noqa: F811
    # Not CloudWatch's: something is wired wrongly, and someone should hear of it.
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert notifier.handler(event, None) == summary(published=1, fallbacks=1)


# --- the EventBridge path mirrors the alarm's actions ---------------------------------------------


def test_vigils_own_alarm_on_eventbridge_does_not_page_twice(routes: Routes) -> None:  # noqa: F811
    event = with_meta(load("eventbridge_alarm.json"), kind=SELF_KIND, check="self", routes=["ops-fallback"])
    assert notifier.handler(event, None) == summary(skipped=1)
    assert Routes.published("ops-fallback") == []


def test_with_nothing_to_hold_it_with_an_inhibited_signal_pages_alarm_and_ok_at_once(routes: Routes) -> None:  # noqa: F811
    # No deferred queue (and no state table): the notifier cannot wait, so it never stays quiet.
    alarm = with_meta(load("eventbridge_alarm.json"), inhibited_by=INHIBITOR, inhibit_wait=180)
    ok = with_meta(load("eventbridge_ok.json"), inhibited_by=INHIBITOR, inhibit_wait=180)
    assert notifier.handler(alarm, None) == summary(published=2)
    assert notifier.handler(ok, None) == summary(published=2)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("sns_alarm.json", None),
        ("sns_composite_alarm.json", None),
        ("eventbridge_alarm.json", None),
        ("eventbridge_ok.json", None),
        ("eventbridge_composite_alarm.json", "actions suppressed by Alarm"),
    ],
)
def test_why_silent_on_the_fixtures(fixture: str, expected: str | None) -> None:
    raw = load(fixture)
    payload = raw["Records"][0]["Sns"]["Message"] if "Records" in raw else raw
    assert why_silent(parse_alarm(payload)) == expected


def test_an_alarm_action_pages_whatever_its_metadata_says() -> None:
    # The SNS path is the action itself: an inhibited metric alarm's OK action, vigil's own alarm.
    message = json.loads(load("sns_ok.json")["Records"][0]["Sns"]["Message"])
    text, meta = decode_description(message["AlarmDescription"])
    assert meta is not None
    for update in ({"inhibited_by": INHIBITOR}, {"kind": SELF_KIND}):
        message["AlarmDescription"] = encode_description(text, meta.model_copy(update=update))
        event = parse_alarm(message)
        assert event.state == AlarmState.ok and why_silent(event) is None
