"""The state table's pure parts: the key of a state change, and what a claim attempt means."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from test_notifier_delivery import eventbridge_twin, sns_event

from vigil.notifier.events import parse_alarm
from vigil.notifier.state import Claim, ClaimKind, Key, claim_of, delivery_key


def test_both_paths_name_one_state_change_with_one_key() -> None:
    by_action = parse_alarm(json.loads(sns_event("m-1")["Records"][0]["Sns"]["Message"]))
    by_rule = parse_alarm(eventbridge_twin("e-1"))
    assert by_action.source != by_rule.source
    expected = Key(
        "alarm#arn:aws:cloudwatch:eu-west-1:123456789012:alarm:vigil-prod-orders-queue-backlog",
        "sent#ALARM#2024-05-02T14:03:41.187Z",
    )
    assert delivery_key(by_action, "sns:m-1") == delivery_key(by_rule, "events:e-1") == expected


def test_the_key_is_the_same_instant_whatever_the_offset_it_was_written_with() -> None:
    event = parse_alarm(eventbridge_twin())
    assert event.state_time is not None
    shifted = event.model_copy(update={"state_time": event.state_time.astimezone(timezone(timedelta(hours=2)))})
    assert delivery_key(shifted, None) == delivery_key(event, None)


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        ({"state": "OK"}, True),
        ({"state_time": datetime(2024, 5, 2, 14, 3, 41, 188000, tzinfo=UTC)}, True),
        ({"alarm_arn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:other"}, True),
        ({"reason": "another reason", "source": "lambda"}, False),
    ],
)
def test_the_key_is_alarm_state_and_time_and_nothing_else(change: dict, differs: bool) -> None:
    event = parse_alarm(eventbridge_twin())
    if "state" in change:
        change = {**change, "state": type(event.state)(change["state"])}
    assert (delivery_key(event.model_copy(update=change), None) != delivery_key(event, None)) is differs


def test_without_a_time_the_transport_id_is_the_key_and_without_either_there_is_none() -> None:
    event = parse_alarm(eventbridge_twin()).model_copy(update={"state_time": None})
    assert delivery_key(event, "events:e-1") == Key("delivery#events:e-1", "sent")
    assert delivery_key(None, "sns:m-1") == Key("delivery#sns:m-1", "sent")
    assert delivery_key(event, None) is None


@pytest.mark.parametrize(
    ("old", "won", "claim"),
    [
        (None, True, Claim(ClaimKind.new)),
        ({"lease_until": {"N": "1"}}, True, Claim(ClaimKind.resumed)),
        ({"delivered": {"SS": ["a"]}, "lease_until": {"N": "1"}}, True, Claim(ClaimKind.resumed, frozenset({"a"}))),
        ({"done_at": {"N": "5"}, "delivered": {"SS": ["a"]}}, False, Claim(ClaimKind.done, frozenset({"a"}))),
        ({"lease_until": {"N": "9999999999"}}, False, Claim(ClaimKind.busy)),
        (None, False, Claim(ClaimKind.busy)),  # lost the race and the item is gone again: leave it
    ],
)
def test_what_a_claim_attempt_means(old: dict | None, won: bool, claim: Claim) -> None:
    assert claim_of(old, won) == claim
