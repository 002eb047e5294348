"""Text that reaches people: names in any script kept, SMS in one segment of the right encoding,
control characters gone, the e-mail bounded. Pure functions, no AWS.

SMS rules from AWS End User Messaging, "SMS character limits": 160 GSM 03.38 characters or 70
others in one message; 153 or 67 per part when split. Subject rule from the SNS API reference
(Publish, Subject): UTF-8, no line breaks or control characters, under 100 characters.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vigil.alarm_meta import AlarmMeta
from vigil.notifier import sms as gsm
from vigil.notifier.events import AlarmEvent, AlarmState, parse_alarm, split_event
from vigil.notifier.evidence import Evidence
from vigil.notifier.render import (
    EMAIL_BYTES_LIMIT,
    EMAIL_REASON_LIMIT,
    SUBJECT_LIMIT,
    LinkContext,
    render,
    render_sms,
    render_subject,
    sns_message,
)
from vigil.notifier.sanitize import multi_line, single_line

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alarms"
LINKS = LinkContext(stack_region="eu-west-1", dashboard_name="vigil-prod")
ARABIC = "تنبيه-الطلبات-المتأخرة"  # "late orders alert"
EMOJI = "orders 🔥 backlog"


def event_from(name: str, **update: object) -> AlarmEvent:
    (payload,) = split_event(json.loads((FIXTURES / name).read_text()))
    return parse_alarm(payload).model_copy(update=update)


def foreign(name: str, state: str = "ALARM") -> AlarmEvent:
    """An alarm without vigil's metadata: its name is all the title there is."""
    return event_from("sns_alarm.json", meta=None, alarm_name=name, state=AlarmState(state))


# --- the GSM-7 alphabet and segments --------------------------------------------------------------


def test_gsm_alphabet_is_the_3gpp_default_alphabet() -> None:
    # 128 code points, one of them the escape to the extension table.
    assert len(gsm.GSM_BASIC) == 127
    assert len(gsm.GSM_EXTENSION) == 10
    assert not gsm.GSM_BASIC & gsm.GSM_EXTENSION


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("x" * 160, "gsm7", 160, 1),
        ("x" * 161, "gsm7", 161, 2),
        ("x" * 306, "gsm7", 306, 2),  # 153 per part
        ("x" * 307, "gsm7", 307, 3),
        ("é" * 160, "gsm7", 160, 1),  # in the basic alphabet
        ("{" * 80, "gsm7", 160, 1),  # an extension character takes two septets
        ("{" * 81, "gsm7", 162, 2),
        ("ش" * 70, "ucs2", 70, 1),
        ("ش" * 71, "ucs2", 71, 2),
        ("ش" * 134, "ucs2", 134, 2),  # 67 per part
        ("ش" * 135, "ucs2", 135, 3),
        ("x" * 69 + "ï", "ucs2", 70, 1),  # one character outside GSM-7 changes the whole message
        ("🔥" * 35, "ucs2", 70, 1),  # outside the BMP: two UTF-16 units each
        ("🔥" * 36, "ucs2", 72, 2),
    ],
)
def test_size_counts_units_and_segments(text: str, encoding: str, units: int, segments: int) -> None:
    assert gsm.size(text) == gsm.SmsSize(encoding=gsm.Encoding(encoding), units=units, segments=segments)


def test_fold_keeps_gsm_and_unfoldable_characters_and_folds_the_rest() -> None:
    assert gsm.fold("naïve — Größe [x] café") == "naive - Größe (x) café"
    assert gsm.fold(ARABIC) == ARABIC
    assert gsm.fold(EMOJI) == EMOJI


# --- names outside ASCII --------------------------------------------------------------------------


@pytest.mark.parametrize("name", [ARABIC, EMOJI, "警报-订单积压"])
@pytest.mark.parametrize("state", ["ALARM", "OK", "INSUFFICIENT_DATA"])
def test_a_name_outside_ascii_is_kept_in_subject_and_sms(name: str, state: str) -> None:
    event = foreign(name, state)
    assert name in render_subject(event)
    sms = render_sms(event)
    assert name in sms, sms
    size = gsm.size(sms)
    assert (size.encoding, size.segments) == (gsm.Encoding.ucs2, 1), (size, sms)


def test_an_arabic_sms_reads_as_the_latin_one_does() -> None:
    assert render_sms(foreign(ARABIC)) == f"ALARM {ARABIC}: 1520 >500 since 14:03Z."


@pytest.mark.parametrize("name", [ARABIC * 6, "🔥" * 100, "x" * 40 + ARABIC * 4])
def test_a_long_name_outside_ascii_is_shortened_into_one_segment(name: str) -> None:
    sms = render_sms(foreign(name))
    # Room is counted as UCS-2 (70); a cut that leaves only Latin letters then travels as GSM-7.
    size = gsm.size(sms)
    assert size.segments == 1 and size.units <= 70, (size, sms)
    assert sms.startswith("ALARM ")
    assert sms.endswith(": 1520 >500 since 14:03Z.")  # what happened and when survive
    assert "..." in sms


def test_a_cut_never_splits_an_emoji_sequence() -> None:
    family = "👩\u200d👩\u200d👧"  # one picture, five code points
    sms = render_sms(foreign(family * 20))
    body = sms.removeprefix("ALARM ").split("...")[0]
    assert body and body.replace(family, "") == "", sms


def test_a_latin_vigil_check_stays_gsm_with_its_runbook() -> None:
    sms = render_sms(event_from("sns_alarm.json"))
    assert gsm.size(sms) == gsm.SmsSize(gsm.Encoding.gsm7, len(sms), 1)
    assert sms.endswith("runbook: https://wiki.example.com/runbooks/orders#queue")


def test_a_subject_with_emoji_stays_under_sns_limit_in_utf16_units() -> None:
    subject = render_subject(foreign("🔥" * 120))
    assert gsm.utf16_units(subject) <= SUBJECT_LIMIT
    assert subject.startswith("[ALARM] 🔥")


# --- control characters ---------------------------------------------------------------------------

HOSTILE = "db\x1b[31m-down\r\nRunbook: https://evil.example\u202eoc.exe\x00\x07"


def test_single_and_multi_line_cleaning() -> None:
    assert single_line("a\x00b\r\n c\u2028d\te\u202e") == "ab c d e"
    assert multi_line("a\r\nb\rc\u2028d\x1b[0m\te\u202e\x85f") == "a\nb\nc\nd[0m e\nf"
    assert single_line(f"{ARABIC}\u200f 🔥\u200d") == f"{ARABIC}\u200f 🔥\u200d"  # marks and joiners stay


def test_control_characters_never_reach_subject_sms_or_email() -> None:
    meta = AlarmMeta(
        check="db-errors",
        signal="down",
        service=HOSTILE,
        severity="critical",
        routes=["r"],
        runbook="https://ok.example",
    )
    event = event_from(
        "sns_alarm.json",
        meta=meta,
        reason=f"Threshold crossed\x00\x1b[2J{HOSTILE}",
        description=f"line one\r\nline two\x1b]0;title\x07{HOSTILE}",
    )
    evidence = Evidence(at=datetime(2024, 5, 2, tzinfo=UTC), status="ok", reason=HOSTILE, samples=(HOSTILE,))
    note = render(event, LINKS, evidence)
    for text in (note.subject, note.sms):
        assert text.isprintable(), repr(text)
    assert all(ch.isprintable() for ch in note.email.replace("\n", "")), repr(note.email)
    assert "\u202e" not in note.email + note.subject + note.sms
    # A newline hidden in a field cannot start a line of its own.
    assert not [line for line in note.email.splitlines() if line.startswith("Runbook: https://evil")]
    # The description's own line breaks are layout, and stay.
    assert "  line one\n  line two" in note.email


# --- bounds ---------------------------------------------------------------------------------------


def test_the_reason_is_bounded_in_the_email() -> None:
    reason = "Threshold Crossed: " + "1520.0 (02/05/24 14:02:00), " * 5000
    body = render(event_from("sns_alarm.json", reason=reason), LINKS).email
    quoted = body.split("Reason from CloudWatch:\n", 1)[1].split("\n\n", 1)[0]
    assert len(quoted.strip()) <= EMAIL_REASON_LIMIT
    assert quoted.rstrip().endswith("…")


def test_the_whole_publish_stays_far_below_sns_256_kb() -> None:
    huge = "ш" * 200_000  # two bytes each in UTF-8
    event = event_from(
        "eventbridge_composite_alarm.json",
        description=huge,
        reason=huge,
        alarm_rule=huge,
        children=[f"child-{i}-{huge[:200]}" for i in range(500)],
    )
    evidence = Evidence(at=datetime(2024, 5, 2, tzinfo=UTC), status="failed", reason=huge, samples=(huge,) * 10)
    note = render(event, LINKS, evidence)
    _, message = sns_message(note)
    assert len(note.email.encode()) <= EMAIL_BYTES_LIMIT
    assert len(message.encode("utf-8")) < 256 * 1024 // 2
    assert "and 490 more" in json.loads(message)["default"]


# --- links ----------------------------------------------------------------------------------------


def test_the_dashboard_is_in_the_stacks_region_and_the_alarm_in_its_own() -> None:
    event = event_from("eventbridge_alarm.json", region="us-east-1")
    body = render(event, LinkContext(stack_region="eu-central-1", dashboard_name="vigil-prod")).email
    assert (
        "Dashboard: https://eu-central-1.console.aws.amazon.com/cloudwatch/home?region=eu-central-1"
        "#dashboards/dashboard/vigil-prod" in body
    )
    assert "Alarm:     https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:" in body
