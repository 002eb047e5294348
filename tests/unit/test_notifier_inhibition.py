"""Inhibition in the notifier, against moto (SNS, SQS, DynamoDB, CloudWatch): an inhibited signal's
ALARM waits for its inhibitor, and pages only if the inhibitor is not in ALARM and the signal still is.

Simulated time: the deferred message the notifier sends is recorded, and the test hands it back to
the notifier when the wait is over, after setting both alarms' states in moto CloudWatch as
CloudWatch would have them by then.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from test_notifier_delivery import table  # noqa: F401
from test_notifier_grouping import RecordingSqs, change, flush_record, published, sqs  # noqa: F401
from test_notifier_handler import REGION, env, routes  # noqa: F401

from vigil.alarm_meta import decode_description, encode_description
from vigil.notifier import handler as notifier
from vigil.notifier.events import parse_alarm
from vigil.notifier.inhibition import Seen, Verdict, verdict

INHIBITOR = "vigil-prod-order-worker-health-down"
SIGNAL = "vigil-prod-orders-queue-backlog"
WAIT, EXTENSION = 180, 240


def inhibited(state: str = "ALARM", at: str = "2024-05-02T14:03:41.187+0000") -> dict[str, Any]:
    """The backlog alarm's action, its metadata naming the inhibitor and the waits, as synth writes them."""
    event = change("backlog", state=state, at=at)
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    human, meta = decode_description(message["AlarmDescription"])
    assert meta is not None
    update = {"inhibited_by": INHIBITOR, "inhibit_wait": WAIT, "inhibit_extension": EXTENSION}
    message["AlarmDescription"] = encode_description(human, meta.model_copy(update=update))
    sns["Message"] = json.dumps(message)
    return event


@pytest.fixture
def cloudwatch(sqs: RecordingSqs, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """Both alarms in moto CloudWatch; grouping off, so a page shows at once."""
    monkeypatch.setenv("GROUP_WAIT_SECONDS", "0")
    client = boto3.client("cloudwatch", region_name=REGION)
    for name in (INHIBITOR, SIGNAL):
        client.put_metric_alarm(
            AlarmName=name,
            MetricName="m",
            Namespace="Vigil",
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=3,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    return client


def set_state(client: Any, name: str, state: str) -> None:
    client.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def test_an_inhibited_alarm_is_held_back_for_its_inhibitors_wait(cloudwatch: Any, sqs: RecordingSqs) -> None:  # noqa: F811
    assert notifier.handler(inhibited(), None)["published"] == 0
    [held] = sqs.sent
    assert held["DelaySeconds"] == WAIT
    assert json.loads(held["MessageBody"])["vigil"] == "inhibit-check"
    assert published() == []


def test_held_while_the_inhibitor_is_in_alarm_nothing_pages(cloudwatch: Any, sqs: RecordingSqs) -> None:  # noqa: F811
    notifier.handler(inhibited(), None)
    set_state(cloudwatch, INHIBITOR, "ALARM")
    set_state(cloudwatch, SIGNAL, "ALARM")
    assert notifier.handler(flush_record(sqs.sent[0]), None)["published"] == 0
    # Looked at again after the signal's own N periods: it may outlast its inhibitor.
    assert [m["DelaySeconds"] for m in sqs.sent] == [WAIT, EXTENSION]
    # The inhibitor's outage ends and so does the signal's: its OK pages no one, as its ALARM never did.
    set_state(cloudwatch, SIGNAL, "OK")
    assert notifier.handler(inhibited("OK", at="2024-05-02T14:20:00.000+0000"), None)["published"] == 0
    assert notifier.handler(flush_record(sqs.sent[1]), None)["published"] == 0
    assert published() == []


def test_with_the_inhibitor_ok_the_alarm_pages_after_the_wait_and_so_does_its_recovery(
    cloudwatch: Any,
    sqs: RecordingSqs,  # noqa: F811
) -> None:
    notifier.handler(inhibited(), None)
    set_state(cloudwatch, SIGNAL, "ALARM")
    assert notifier.handler(flush_record(sqs.sent[0]), None)["published"] == 1
    assert notifier.handler(flush_record(sqs.sent[0]), None)["published"] == 0  # SQS brought it twice
    assert notifier.handler(inhibited("OK", at="2024-05-02T14:20:00.000+0000"), None)["published"] == 1
    assert [subject for subject, _ in published()] == [
        "[ALARM][critical] orders-queue backlog - orders",
        "[OK][critical] orders-queue backlog recovered - orders",
    ]


def test_an_ok_before_the_wait_ends_sends_nothing(cloudwatch: Any, sqs: RecordingSqs) -> None:  # noqa: F811
    notifier.handler(inhibited(), None)
    set_state(cloudwatch, SIGNAL, "OK")
    ok = inhibited("OK", at="2024-05-02T14:04:41.000+0000")
    assert notifier.handler(ok, None)["published"] == 0
    assert notifier.handler(ok, None)["published"] == 0  # its other copy
    assert notifier.handler(flush_record(sqs.sent[0]), None)["published"] == 0
    assert published() == []


def test_when_it_cannot_be_held_the_alarm_pages_at_once(cloudwatch: Any, sqs: RecordingSqs) -> None:  # noqa: F811
    sqs.refuse = True
    assert notifier.handler(inhibited(), None)["published"] == 1


def test_when_cloudwatch_cannot_say_the_held_alarm_pages(
    cloudwatch: Any,
    sqs: RecordingSqs,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notifier.handler(inhibited(), None)
    monkeypatch.setitem(notifier._clients, "cloudwatch", object())  # no describe_alarms: any failure
    assert notifier.handler(flush_record(sqs.sent[0]), None)["published"] == 1


def _event() -> Any:
    return parse_alarm(inhibited()["Records"][0]["Sns"]["Message"])


@pytest.mark.parametrize(
    ("signal", "suppressor", "expected"),
    [
        (Seen("ALARM"), Seen("OK"), Verdict.page),
        (Seen("ALARM"), Seen("INSUFFICIENT_DATA"), Verdict.page),
        (Seen("ALARM"), Seen("ALARM"), Verdict.hold),
        (Seen("OK"), Seen("ALARM"), Verdict.drop),
        (Seen("OK"), Seen("OK"), Verdict.drop),
        (None, None, Verdict.page),  # an alarm CloudWatch no longer knows holds nothing back
        (Seen("ALARM"), None, Verdict.page),
    ],
)
def test_verdict(signal: Seen | None, suppressor: Seen | None, expected: Verdict) -> None:
    assert verdict(_event(), signal, suppressor) is expected


def test_a_signal_in_alarm_again_since_is_left_to_that_changes_own_wait() -> None:
    event = _event()
    assert event.state_time is not None
    later = event.state_time.replace(hour=event.state_time.hour + 1)
    assert verdict(event, Seen("ALARM", later), Seen("OK")) is Verdict.drop
    assert verdict(event, Seen("ALARM", event.state_time), Seen("OK")) is Verdict.page


def test_a_released_alarm_begins_its_repeats_and_acknowledgement_like_any_page(
    cloudwatch: Any,
    sqs: RecordingSqs,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    begun: list[str] = []
    real = notifier.begin_paging

    def spy(outgoing: Any, event: Any, run: Any) -> Any:
        begun.append(event.alarm_name)
        return real(outgoing, event, run)

    monkeypatch.setattr(notifier, "begin_paging", spy)
    notifier.handler(inhibited(), None)
    assert begun == [], "held: nothing paged, nothing to repeat yet"
    set_state(cloudwatch, SIGNAL, "ALARM")
    assert notifier.handler(flush_record(sqs.sent[0]), None)["published"] == 1
    assert begun == [SIGNAL]
    notifier.handler(flush_record(sqs.sent[0]), None)  # SQS brought it twice: repeats begin once
    assert begun == [SIGNAL]
