"""Bounded text and the alarm description trailer: never over CloudWatch's and SNS's limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigil.alarm_meta import DESCRIPTION_LIMIT, MARKER, AlarmMeta, decode_description, encode_description
from vigil.notifier.events import from_sns_message
from vigil.text import clip, one_line

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alarms"


@pytest.mark.parametrize(
    ("text", "limit", "expected"), [("abcdef", 6, "abcdef"), ("abcdef", 4, "abc…"), ("abc", 0, ""), ("abc", 1, "a")]
)
def test_clip_never_exceeds_the_limit(text, limit, expected):
    assert clip(text, limit) == expected


def test_one_line_flattens_whitespace():
    assert one_line("  a\n\tb   c ") == "a b c"


def _meta_leaving_room(room: int) -> AlarmMeta:
    """Metadata whose trailer leaves exactly `room` characters for the human text."""
    base = AlarmMeta(check="c", signal="s", service="svc", severity="critical", routes=["r"], summary="")
    bare = len(MARKER + json.dumps(base.model_dump(exclude_none=True), separators=(",", ":")))
    padding = DESCRIPTION_LIMIT - room - bare - len(',"runbook":""')
    return base.model_copy(update={"runbook": "x" * padding})


@pytest.mark.parametrize("room", [0, 1, 2, 50])
def test_description_fits_even_when_the_trailer_leaves_no_room(room):
    meta = _meta_leaving_room(room)
    description = encode_description("a human description longer than the room left", meta)
    assert len(description) <= DESCRIPTION_LIMIT
    assert decode_description(description)[1] == meta


def test_sns_statistic_names_become_cloudwatch_names():
    record = json.loads((FIXTURES / "sns_alarm.json").read_text())
    message = json.loads(record["Records"][0]["Sns"]["Message"])
    message["Trigger"]["Statistic"] = "SAMPLE_COUNT"
    assert from_sns_message(message).statistic == "SampleCount"
