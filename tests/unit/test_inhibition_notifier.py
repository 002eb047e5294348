"""The notifier and composite alarms (vigil builds none since the notifier holds inhibited pages back,
but an account may point its own at the notifier): a composite (SNS and EventBridge shapes, the
fixtures are a former `<signal>-page` one) is read and rendered as its check's signal, and the OK of
an inhibited signal's metric alarm is published."""

from __future__ import annotations

import json
from typing import Any

from test_notifier_handler import ROUTES, Routes, env, load, routes  # noqa: F401 (fixtures)

from vigil.alarm_meta import decode_description, encode_description
from vigil.notifier import handler as notifier
from vigil.notifier.events import AlarmEvent, AlarmState, parse_alarm, split_event
from vigil.notifier.render import LinkContext, render

LINKS = LinkContext(stack_region="eu-west-1", dashboard_name="vigil-prod")
CHILD = "vigil-prod-orders-queue-backlog"
INHIBITOR = "vigil-prod-order-worker-health-down"


def event_of(fixture: str) -> AlarmEvent:
    (payload,) = split_event(load(fixture))
    return parse_alarm(payload)


def test_sns_composite_notification_names_its_child_and_inhibitor() -> None:
    event = event_of("sns_composite_alarm.json")
    assert event.is_composite
    assert event.alarm_name == CHILD + "-page"
    assert event.alarm_rule == f'ALARM("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{CHILD}")'
    assert event.children == [CHILD]
    assert event.meta is not None and (event.meta.check, event.meta.signal) == ("orders-queue", "backlog")
    assert event.meta.inhibited_by == INHIBITOR
    # No Trigger and a reason without datapoints: nothing may pass for a measured value.
    assert (event.threshold, event.comparison, event.latest_value, event.metric_name) == (None, None, None, None)


def test_eventbridge_composite_event_carries_suppressor_and_suppression() -> None:
    event = event_of("eventbridge_composite_alarm.json")
    assert event.source == "eventbridge" and event.is_composite
    assert event.children == [CHILD]
    assert event.actions_suppressor == INHIBITOR
    assert event.actions_suppressed_by == "Alarm"
    assert event.previous_state == AlarmState.ok
    assert event.latest_value is None


def test_composite_email_points_at_the_metric_alarm_for_the_value() -> None:
    note = render(event_of("sns_composite_alarm.json"), LINKS)
    assert note.subject == "[ALARM][critical] orders-queue backlog - orders"
    assert f"see metric alarm {CHILD} (rule: > 500 messages for 3 of 3 minutes)" in note.email
    assert "no recent datapoints" not in note.email
    assert f"#alarmsV2:alarm/{CHILD}-page" in note.email
    assert (
        f"  Metric:    https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/{CHILD}\n"
        in (note.email)
    )
    assert f"Inhibited by: {INHIBITOR}, which was not in ALARM" in note.email
    assert note.sms == (
        "ALARM crit orders-queue backlog: > 500 messages since 14:05Z. runbook: https://wiki.example.com/runbooks/orders#queue"
    )


def test_an_eventbridge_event_says_its_actions_were_held_back() -> None:
    note = render(event_of("eventbridge_composite_alarm.json"), LINKS)
    assert f"Inhibited by: {INHIBITOR}; these actions were held back (Alarm)" in note.email


def _inhibited_ok() -> dict[str, Any]:
    """CloudWatch's OK notification of an inhibited signal's metric alarm: its trailer names the inhibitor."""
    event = load("sns_ok.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    human, meta = decode_description(message["AlarmDescription"])
    assert meta is not None
    message["AlarmDescription"] = encode_description(human, meta.model_copy(update={"inhibited_by": INHIBITOR}))
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return event


def test_the_ok_of_an_inhibited_signal_is_published_to_its_routes(routes: Routes) -> None:  # noqa: F811
    assert notifier.handler(_inhibited_ok(), None) == {"published": 1, "fallbacks": 0, "rerouted": 0, "skipped": 0}
    for route in ROUTES:
        delivered = routes.delivered(route)
        if route != "campaigns-critical":
            assert delivered == [], route
            continue
        (envelope,) = delivered
        assert envelope["Subject"] == "[OK][critical] orders-queue backlog recovered - orders"
        assert (
            f"Inhibited by: {INHIBITOR}; while it is in ALARM this signal's ALARM pages are held back"
            in (envelope["Message"])
        )


def test_the_composite_alarm_is_published_to_its_routes(routes: Routes) -> None:  # noqa: F811
    assert notifier.handler(load("sns_composite_alarm.json"), None) == {
        "published": 1,
        "fallbacks": 0,
        "rerouted": 0,
        "skipped": 0,
    }
    (envelope,) = routes.delivered("campaigns-critical")
    assert envelope["Subject"] == "[ALARM][critical] orders-queue backlog - orders"
