"""Rendering: pure functions from AlarmEvent to subject, email body and SMS text. No AWS, no mocks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from vigil.alarm_meta import AlarmMeta, encode_description
from vigil.notifier import sms as gsm
from vigil.notifier.events import AlarmEvent, AlarmState, parse_alarm, split_event
from vigil.notifier.render import (
    SUBJECT_LIMIT,
    LinkContext,
    alarm_url,
    duration,
    number,
    render,
    render_fallback,
    render_sms,
    render_subject,
    shorten,
    sms_url,
    sns_message,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alarms"
LINKS = LinkContext(stack_region="eu-west-1", dashboard_name="vigil-prod")
GSM_UNSAFE = set("[]{}|^~\\`")  # GSM-7 extension characters (two septets) and ` (not in GSM-7)


def event_from(name: str) -> AlarmEvent:
    (payload,) = split_event(json.loads((FIXTURES / name).read_text()))
    return parse_alarm(payload)


def assert_sms_ok(sms: str, encoding: gsm.Encoding = gsm.Encoding.gsm7) -> None:
    """One segment, in the encoding the text needs, one clean line."""
    size = gsm.size(sms)
    assert (size.segments, size.encoding) == (1, encoding), (size, sms)
    assert size.units <= gsm.SINGLE[encoding]
    assert not GSM_UNSAFE & set(sms), sms
    assert sms.isprintable(), sms
    assert sms == sms.strip()


# --- subjects -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "subject"),
    [
        ("eventbridge_alarm.json", "[ALARM][critical] campaign-api-health down - campaign-api"),
        ("eventbridge_ok.json", "[OK][critical] campaign-api-health down recovered - campaign-api"),
        ("eventbridge_insufficient_data.json", "[NO DATA][critical] campaign-api-health down - campaign-api"),
        ("sns_alarm.json", "[ALARM][critical] orders-queue backlog - orders"),
        ("sns_ok.json", "[OK][critical] orders-queue backlog recovered - orders"),
        ("sns_insufficient_data.json", "[NO DATA][critical] orders-queue backlog - orders"),
    ],
)
def test_subject(fixture: str, subject: str) -> None:
    assert render_subject(event_from(fixture)) == subject


def test_subject_of_foreign_alarm_is_its_name() -> None:
    event = event_from("sns_alarm.json").model_copy(update={"meta": None, "alarm_name": "ServerCpuTooHigh"})
    assert render_subject(event) == "[ALARM] ServerCpuTooHigh"


@pytest.mark.parametrize("check_len", [1, 30, 64])
@pytest.mark.parametrize("service_len", [1, 40, 64])
@pytest.mark.parametrize("state", ["ALARM", "OK", "INSUFFICIENT_DATA"])
def test_subject_fits_sns_limit(check_len: int, service_len: int, state: str) -> None:
    check = ("c" * check_len)[:64]
    meta = AlarmMeta(
        check=check, signal="backlog", service="s" * service_len, severity="critical", routes=["r"], summary="—"
    )
    event = event_from("sns_alarm.json").model_copy(update={"meta": meta, "state": AlarmState(state)})
    subject = render_subject(event)
    assert len(subject) <= SUBJECT_LIMIT
    assert subject.isascii()
    assert subject.isprintable()
    assert re.match(r"\[(ALARM|OK|NO DATA)\]\[critical\] " + check[:20], subject)  # the name survives


def test_subject_of_a_255_character_foreign_alarm_name() -> None:
    event = event_from("sns_alarm.json").model_copy(update={"meta": None, "alarm_name": "Ü" + "x" * 254})
    subject = render_subject(event)
    assert len(subject) <= SUBJECT_LIMIT
    assert subject.startswith("[ALARM] Üxxx")  # the name is kept as it is written
    assert subject.endswith("...")


# --- email ----------------------------------------------------------------------------------------


def test_email_alarm_sns() -> None:
    body = render(event_from("sns_alarm.json"), LINKS).email
    assert body.startswith("ALARM: orders-queue backlog\n")
    for expected in [
        "Check:        orders-queue",
        "Signal:       backlog",
        "Service:      orders",
        "Kind:         sqs",
        "Severity:     critical",
        "State:        OK -> ALARM",
        "Signal means: messages waiting in the queue",
        "latest value 1520 messages (rule: > 500 messages for 3 of 3 minutes)",
        "Since:        2024-05-02T14:03:41Z (14:03 UTC, Thu 2 May 2024)",
        "Orders waiting for the order-worker; a backlog means the worker is down or slow.",
        "Runbook: https://wiki.example.com/runbooks/orders#queue",
        "Reason from CloudWatch:\n  Threshold Crossed: 3 out of the last 3 datapoints [1520.0",
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#alarmsV2:alarm/vigil-prod-orders-queue-backlog",
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/vigil-prod",
        "Metric AWS/SQS/ApproximateNumberOfMessagesVisible Maximum over 1m",
    ]:
        assert expected in body, expected
    assert "--vigil--" not in body  # the machine trailer stays out of human text
    assert "Before that" not in body  # SNS notifications carry no previous-state time


def test_email_ok_eventbridge_says_how_long_it_was_in_alarm() -> None:
    body = render(event_from("eventbridge_ok.json"), LINKS).email
    assert body.startswith("RECOVERED: campaign-api-health down is OK again\n")
    assert "State:        ALARM -> OK" in body
    assert "Recovered at: 2024-05-02T15:15:40Z (15:15 UTC, Thu 2 May 2024)" in body
    assert "Before that:  in alarm for 1h 12m" in body
    assert "latest value 1 (rule: < 1 for 2 of 2 minutes)" in body


def test_email_insufficient_data_says_no_data() -> None:
    body = render(event_from("eventbridge_insufficient_data.json"), LINKS).email
    assert body.startswith("NO DATA: campaign-api-health down has no data to evaluate\n")
    assert "no recent datapoints (rule: < 1 for 2 of 2 minutes)" in body
    assert "Insufficient Data: 2 datapoints were unknown." in body


def test_email_of_foreign_alarm_uses_cloudwatch_rule() -> None:
    event = event_from("sns_alarm.json").model_copy(update={"meta": None})
    body = render(event, LINKS).email
    assert "latest value 1520 (rule: > 500 for 3 of 3 periods)" in body
    assert "Check:" not in body
    assert "Runbook" not in body


def test_links_use_event_region_then_context_and_encode_the_name() -> None:
    event = event_from("sns_alarm.json").model_copy(update={"region": None, "alarm_name": "my alarm/with:odd#chars"})
    body = render(event, LinkContext(stack_region="us-east-2", dashboard_name="ops board")).email
    assert (
        "https://us-east-2.console.aws.amazon.com/cloudwatch/home?region=us-east-2#alarmsV2:alarm/my%20alarm%2Fwith%3Aodd%23chars"
        in body
    )
    assert "#dashboards/dashboard/ops%20board" in body


def test_no_region_anywhere_means_no_links() -> None:
    event = event_from("sns_alarm.json").model_copy(update={"region": None})
    body = render(event, LinkContext()).email
    assert "Links:" not in body
    assert alarm_url(None, "x") is None


# --- SMS ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "sms"),
    [
        (
            "eventbridge_alarm.json",
            "ALARM crit campaign-api-health down: 0 <1 since 14:03Z. "
            "runbook: https://wiki.example.com/runbooks/campaign-api#health",
        ),
        ("eventbridge_ok.json", "OK crit campaign-api-health down recovered 15:15Z after 1h12m in alarm, now 1."),
        (
            "eventbridge_insufficient_data.json",
            "NODATA crit campaign-api-health down: no data since 16:20Z. "
            "runbook: https://wiki.example.com/runbooks/campaign-api#health",
        ),
        (
            "sns_alarm.json",
            "ALARM crit orders-queue backlog: 1520 >500 since 14:03Z. runbook: https://wiki.example.com/runbooks/orders#queue",
        ),
        ("sns_ok.json", "OK crit orders-queue backlog recovered 15:15Z, now 120."),
    ],
)
def test_sms_text(fixture: str, sms: str) -> None:
    assert render_sms(event_from(fixture)) == sms


LONG_ID = "a" * 30 + "-" + "b" * 33  # 64 characters, the slug maximum
NAMES = [
    ("x", "down"),
    (LONG_ID, "down"),
    (LONG_ID, "measure"),
    ("campaign-api-deep-health-check-for-the-public-entry-point-of-the", "backlog"),
]
RUNBOOKS = [
    None,
    "https://wiki.example.com/r",
    "https://wiki.example.com/runbooks/" + "very-long-section/" * 15,
    "https://wiki.example.com/ünïcode—runbook",
]
VALUES = [0.0, 1520.0, 99.50160229693434, -3.5e-9, 1.7e308, 123456789012345.0]


@pytest.mark.parametrize("state", ["ALARM", "OK", "INSUFFICIENT_DATA"])
@pytest.mark.parametrize(("check", "signal"), NAMES)
@pytest.mark.parametrize("runbook", RUNBOOKS)
@pytest.mark.parametrize("value", VALUES)
def test_sms_always_fits_one_segment(state: str, check: str, signal: str, runbook: str | None, value: float) -> None:
    meta = AlarmMeta(
        check=check,
        signal=signal,
        service="s" * 64,
        severity="critical",
        routes=["r"],
        summary="Ω" * 300,
        rule="> 1 for 3 of 3 minutes",
        runbook=runbook,
    )
    event = event_from("eventbridge_alarm.json").model_copy(
        update={
            "meta": meta,
            "state": AlarmState(state),
            "reason_data": None,
            "reason": f"[{value} (x)]",
            "threshold": value,
        }
    )
    sms = render_sms(event)
    assert_sms_ok(sms)
    assert sms.startswith({"ALARM": "ALARM crit ", "OK": "OK crit ", "INSUFFICIENT_DATA": "NODATA crit "}[state])
    name = f"{check} {signal}"
    # The name is there whole, or cut at a boundary and marked, never chopped into garbage.
    if name not in sms:
        shown = sms.split(" ", 2)[2].split("...")[0]
        assert name.startswith(shown)
        assert "..." in sms
    # A runbook URL is whole or absent: half a link is worse than none.
    if runbook and "runbook:" in sms:
        assert sms.endswith(" runbook: " + sms_url(runbook))
        assert unquote(sms_url(runbook)) == runbook  # encoded, not altered
    if state == "ALARM" and len(name) <= 64 + 8:
        assert "since 14:03Z" in sms


@pytest.mark.parametrize("length", [64, 100, 200, 255])
@pytest.mark.parametrize("state", ["ALARM", "OK", "INSUFFICIENT_DATA"])
def test_sms_of_long_foreign_alarm_names(length: int, state: str) -> None:
    name = ("Prod-EU-" + "ServiceCpuTooHigh-" * 20)[:length]
    event = event_from("sns_alarm.json").model_copy(
        update={"meta": None, "alarm_name": name, "state": AlarmState(state)}
    )
    sms = render_sms(event)
    assert_sms_ok(sms)
    # What happened and when survives however long the name is.
    assert ("14:03Z" in sms) or state == "OK"
    assert sms.endswith(".")


def test_sms_folds_non_gsm_characters() -> None:
    meta = AlarmMeta(check="naïve—check", signal="down", service="s", severity="warning", routes=["r"])
    event = event_from("eventbridge_alarm.json").model_copy(update={"meta": meta})
    sms = render_sms(event)
    assert_sms_ok(sms)
    assert sms.startswith("ALARM warn naive-check down: 0 <1 since 14:03Z.")


# --- helpers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(1520.0, "1520"), (0.0, "0"), (99.50160229693434, "99.5016"), (0.5, "0.5"), (-2.0, "-2"), (1e-7, "1.000e-07")],
)
def test_number(value: float, text: str) -> None:
    assert number(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (45, "45s"), (725, "12m 5s"), (4320, "1h 12m"), (273600, "3d 4h"), (-5, "0s")]
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_shorten_cuts_at_a_boundary() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("orders-queue-backlog-alarm", 20) == "orders-queue..."
    assert shorten("abcdefghijklmnopqrstuvwxyz", 10) == "abcdefg..."
    assert len(shorten("x" * 500, 160)) == 160


# --- fallback -------------------------------------------------------------------------------------


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


@pytest.mark.parametrize(
    "raw",
    [None, 42, 1.5, "garbage", b"\xff\xfe", [], {}, {"Records": [{"Sns": {"Message": "{"}}]}, object(), [[[[[]]]]]],
)
def test_fallback_for_unreadable_input(raw: Any) -> None:
    note = render_fallback(raw, ValueError("bad input"))
    assert note.subject == "[vigil] unparseable alarm event"
    assert "unparseable alarm event" in note.email
    assert "ValueError: bad input" in note.email
    assert_sms_ok(note.sms)


@pytest.mark.parametrize("error", [None, "plain text", _Unprintable(), KeyError("AlarmName"), ValueError("x\n" * 500)])
def test_fallback_never_raises_on_odd_errors(error: Any) -> None:
    note = render_fallback({"AlarmName": "a", "NewStateValue": "ALARM"}, error)
    assert note.alarm_name == "a"
    assert note.email
    assert_sms_ok(note.sms)


def test_fallback_names_alarm_state_and_route_info() -> None:
    raw = json.loads((FIXTURES / "eventbridge_alarm.json").read_text())
    raw["detail"]["state"]["value"] = "PANIC"
    note = render_fallback(raw, ValueError("unknown alarm state 'PANIC'"), LINKS)
    assert note.alarm_name == "vigil-prod-campaign-api-health-down"
    assert note.subject == "[PANIC][fallback] vigil-prod-campaign-api-health-down"
    assert "alarm vigil-prod-campaign-api-health-down is PANIC" in note.email
    assert "Runbook: https://wiki.example.com/runbooks/campaign-api#health" in note.email
    assert "#alarmsV2:alarm/vigil-prod-campaign-api-health-down" in note.email
    assert note.sms.startswith("vigil notifier: alarm vigil-prod-campaign-api-health-down is PANIC.")
    assert_sms_ok(note.sms)


def test_fallback_with_a_huge_alarm_name_stays_within_limits() -> None:
    note = render_fallback({"AlarmName": "n" * 255, "NewStateValue": "ALARM"}, "x")
    assert len(note.subject) <= SUBJECT_LIMIT
    assert_sms_ok(note.sms)


# --- SNS message structure ------------------------------------------------------------------------


def test_sns_message_structure() -> None:
    note = render(event_from("sns_alarm.json"), LINKS)
    subject, message = sns_message(note)
    assert subject == note.subject
    body = json.loads(message)
    # The body once: e-mail subscribers get "default" (SNS API reference, Publish, MessageStructure).
    assert set(body) == {"default", "sms"}
    assert body["default"] == note.email
    assert body["sms"] == note.sms


def test_description_with_non_ascii_survives_in_email() -> None:
    meta = AlarmMeta(check="c", signal="down", service="s", severity="critical", routes=["r"])
    event = event_from("sns_alarm.json").model_copy(update={"meta": meta, "description": "Größe — très élevée"})
    note = render(event, LINKS)
    assert "Größe — très élevée" in note.email
    assert "Größe — très élevée" in json.loads(sns_message(note)[1])["default"]
    assert re.fullmatch(r"\[ALARM\]\[critical\] c down - s", note.subject)


def test_encoded_description_round_trip_through_render() -> None:
    meta = AlarmMeta(check="c", signal="down", service="s", severity="warning", routes=["r"], runbook="https://x/y")
    description = encode_description("human words " * 200, meta)
    message = {"AlarmName": "vigil-prod-c-down", "NewStateValue": "ALARM", "AlarmDescription": description}
    note = render(parse_alarm(message), LINKS)
    assert "Runbook: https://x/y" in note.email
    assert note.subject == "[ALARM][warning] c down - s"
    assert_sms_ok(note.sms)
