"""Delivery against moto SNS and DynamoDB: refused routes reroute, retries skip delivered routes,
duplicates page once, stale events are dropped, and the state table failing never costs a page.

SNS Publish error codes are those of the SNS API reference (Publish, Errors); errors moto cannot
raise (KMS, throttling) come from a wrapper around the moto client.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from test_notifier_handler import ACCOUNT, PREFIX, REGION, Routes, env, load, routes, summary  # noqa: F401

from infra.alarm_events import eventbridge_event
from tests.support.state_table import create_state_table
from vigil.notifier import handler as notifier
from vigil.notifier.aws_errors import Failure, classify
from vigil.notifier.render import Notification

TABLE = "vigil-prod-notifier-state"
ALARM_ARN = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:vigil-prod-orders-queue-backlog"


@pytest.fixture
def table(routes: Routes, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """The notifier's state table as the stack defines it: pk and sk strings, on demand."""
    client = boto3.client("dynamodb", region_name=REGION)
    create_state_table(client, TABLE)
    monkeypatch.setenv("STATE_TABLE", TABLE)
    return client


class FlakySns:
    """The moto client, except that chosen routes first fail with chosen error codes."""

    def __init__(self, failures: dict[str, list[str]]) -> None:
        self.real = boto3.client("sns", region_name=REGION)
        self.failures = failures

    def publish(self, **request: Any) -> Any:
        codes = self.failures.get(request["TopicArn"].removeprefix(PREFIX))
        if codes:
            code = codes.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": f"simulated {code}"}}, "Publish")
        return self.real.publish(**request)


@pytest.fixture
def flaky(routes: Routes) -> Iterator[dict[str, list[str]]]:  # noqa: F811
    failures: dict[str, list[str]] = {}
    notifier._clients["sns"] = FlakySns(failures)
    yield failures


def sns_event(message_id: str = "m-1", **changes: Any) -> dict[str, Any]:
    """sns_alarm.json with another MessageId and, optionally, other message fields."""
    event = load("sns_alarm.json")
    sns = event["Records"][0]["Sns"]
    sns["MessageId"] = message_id
    sns["Message"] = json.dumps({**json.loads(sns["Message"]), **changes})
    return event


def eventbridge_twin(event_id: str = "e-1", **changes: Any) -> dict[str, Any]:
    """The EventBridge "CloudWatch Alarm State Change" of the same state change as sns_event()."""
    return eventbridge_event(sns_event(**changes), event_id)


def subjects(route: str) -> list[str | None]:
    return [subject for subject, _ in Routes.published(route)]


# --- routes that refuse ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("NotFound", Failure.route),
        ("AuthorizationError", Failure.route),
        ("KMSDisabled", Failure.route),
        ("KMSAccessDenied", Failure.route),
        ("KMSNotFound", Failure.route),
        ("KMSInvalidState", Failure.route),
        ("InvalidParameter", Failure.message),
        ("ParameterValueInvalid", Failure.message),
        ("Throttled", Failure.transient),
        ("KMSThrottling", Failure.transient),
        ("InternalError", Failure.transient),
        ("SomethingNew", Failure.transient),
    ],
)
def test_publish_errors_are_classified_by_whether_a_retry_can_fix_them(code: str, kind: Failure) -> None:
    assert classify(ClientError({"Error": {"Code": code, "Message": "x"}}, "Publish")) is kind


def test_a_connection_error_is_transient() -> None:
    from botocore.exceptions import EndpointConnectionError

    assert classify(EndpointConnectionError(endpoint_url="https://sns")) is Failure.transient


def test_a_route_without_a_topic_is_rerouted_to_the_fallback_route(routes: Routes) -> None:  # noqa: F811
    routes.sns.delete_topic(TopicArn=PREFIX + "campaigns-critical")

    result = notifier.handler(load("eventbridge_alarm.json"), None)  # routes: campaigns- and platform-critical

    assert result == summary(published=1, rerouted=1)
    assert subjects("platform-critical") == ["[ALARM][critical] campaign-api-health down - campaign-api"]
    ((subject, structured),) = Routes.published("ops-fallback")
    assert subject == "[rerouted] [ALARM][critical] campaign-api-health down - campaign-api"
    body = structured["default"]
    assert body.startswith("vigil could not deliver this notification to route campaigns-critical:\n")
    assert "  campaigns-critical: NotFound: " in body
    assert "\nALARM: campaign-api-health down\n" in body  # the notification itself follows
    assert structured["sms"].startswith("ALARM crit campaign-api-health down: 0 <1")


@pytest.mark.parametrize("code", ["AuthorizationError", "KMSDisabled", "KMSAccessDenied", "KMSOptInRequired"])
def test_permission_and_key_refusals_are_rerouted_not_retried(flaky: dict[str, list[str]], code: str) -> None:
    flaky["campaigns-critical"] = [code]
    assert notifier.handler(load("sns_alarm.json"), None) == summary(rerouted=1)
    ((subject, structured),) = Routes.published("ops-fallback")
    assert subject == "[rerouted] [ALARM][critical] orders-queue backlog - orders"
    assert f"campaigns-critical: {code}: simulated {code}" in structured["default"]


def test_a_message_refused_as_too_long_goes_plainly_to_the_fallback_route(
    routes: Routes,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    too_long = Notification(
        alarm_name="vigil-prod-orders-queue-backlog", state="ALARM", subject="s", email="x" * 300_000, sms="y"
    )
    monkeypatch.setattr(notifier, "render", lambda *_: too_long)

    assert notifier.handler(load("sns_alarm.json"), None) == summary(rerouted=1)

    assert Routes.published("campaigns-critical") == []  # moto refused it: "Invalid parameter: Message too long"
    ((subject, structured),) = Routes.published("ops-fallback")
    assert subject == "[ALARM][fallback] vigil-prod-orders-queue-backlog"
    assert "Route campaigns-critical refused the notification for good" in structured["default"]
    assert "Problem: campaigns-critical: InvalidParameter:" in structured["default"]
    assert "Message too long" in structured["default"]
    assert "Runbook: https://wiki.example.com/runbooks/orders#queue" in structured["default"]


def test_when_the_fallback_route_refuses_the_full_form_the_plain_one_follows(flaky: dict[str, list[str]]) -> None:
    flaky["campaigns-critical"] = ["NotFound"]
    flaky["ops-fallback"] = ["InvalidParameter"]
    assert notifier.handler(load("sns_alarm.json"), None) == summary(rerouted=1)
    assert subjects("ops-fallback") == ["[ALARM][fallback] vigil-prod-orders-queue-backlog"]


def test_a_transient_failure_on_the_fallback_route_raises_for_a_retry(flaky: dict[str, list[str]]) -> None:
    flaky["campaigns-critical"] = ["NotFound"]
    flaky["ops-fallback"] = ["Throttled"]
    with pytest.raises(notifier.PublishError, match="ops-fallback \\(rerouted\\): Throttled"):
        notifier.handler(load("sns_alarm.json"), None)


# --- partial failure and retries ------------------------------------------------------------------


def test_a_retry_after_a_transient_failure_pages_only_the_route_that_missed_it(
    table: Any, flaky: dict[str, list[str]]
) -> None:
    flaky["platform-critical"] = ["Throttled"]
    event = load("eventbridge_alarm.json")

    with pytest.raises(notifier.PublishError, match="platform-critical: Throttled"):
        notifier.handler(event, None)
    assert len(subjects("campaigns-critical")) == 1
    assert subjects("platform-critical") == []

    # Lambda retries the same event: only the route that missed it is paged.
    assert notifier.handler(event, None) == summary(published=1)
    assert len(subjects("campaigns-critical")) == 1
    assert len(subjects("platform-critical")) == 1

    # And once every route has it, a third delivery is a duplicate.
    assert notifier.handler(event, None) == summary(skipped=1)


def test_a_rerouted_refusal_is_not_rerouted_again_on_retry(table: Any, flaky: dict[str, list[str]]) -> None:
    flaky["campaigns-critical"] = ["NotFound", "NotFound"]
    flaky["platform-critical"] = ["Throttled"]
    event = load("eventbridge_alarm.json")
    with pytest.raises(notifier.PublishError):
        notifier.handler(event, None)
    assert notifier.handler(event, None) == summary(published=1)
    assert len(subjects("ops-fallback")) == 1  # told once about campaigns-critical
    assert len(subjects("platform-critical")) == 1


# --- dedup ----------------------------------------------------------------------------------------


def test_the_same_sns_message_twice_pages_once(table: Any) -> None:
    assert notifier.handler(sns_event("m-1"), None) == summary(published=1)
    assert notifier.handler(sns_event("m-1"), None) == summary(skipped=1)
    assert len(subjects("campaigns-critical")) == 1


def test_the_same_eventbridge_event_twice_pages_once(table: Any) -> None:
    event = load("eventbridge_alarm.json")
    assert notifier.handler(event, None) == summary(published=2)
    assert notifier.handler(event, None) == summary(skipped=1)
    assert len(subjects("platform-critical")) == 1


def test_one_state_change_through_both_paths_pages_once(table: Any) -> None:
    # The alarm action (SNS) and the EventBridge rule each bring it, with different transport ids.
    assert notifier.handler(eventbridge_twin("e-7"), None) == summary(published=1)
    assert notifier.handler(sns_event("m-9"), None) == summary(skipped=1)
    (envelope,) = routes_delivered("campaigns-critical")
    assert envelope["Subject"] == "[ALARM][critical] orders-queue backlog - orders"


def routes_delivered(route: str) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in _queue_messages(route)]


def _queue_messages(route: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=f"q-{route}")["QueueUrl"]
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])


def test_the_next_state_change_of_the_same_alarm_still_pages(table: Any) -> None:
    notifier.handler(sns_event("m-1"), None)
    ok = sns_event("m-2", NewStateValue="OK", OldStateValue="ALARM", StateChangeTime="2024-05-02T15:15:41.187+0000")
    again = sns_event("m-3", StateChangeTime="2024-05-02T16:00:00.000+0000")
    assert notifier.handler(ok, None) == summary(published=1)
    assert notifier.handler(again, None) == summary(published=1)
    assert subjects("campaigns-critical") == [
        "[ALARM][critical] orders-queue backlog - orders",
        "[OK][critical] orders-queue backlog recovered - orders",
        "[ALARM][critical] orders-queue backlog - orders",
    ]


def test_an_unreadable_payload_redelivered_is_paged_once_by_its_transport_id(table: Any) -> None:
    garbage = {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "m-bad", "Message": "{garbage"}}]}
    assert notifier.handler(garbage, None) == summary(published=1, fallbacks=1)
    assert notifier.handler(garbage, None) == summary(skipped=1)


def test_a_state_change_another_invocation_is_delivering_is_left_to_it(table: Any) -> None:
    key = {"pk": {"S": f"alarm#{ALARM_ARN}"}, "sk": {"S": "sent#ALARM#2024-05-02T14:03:41.187Z"}}
    table.put_item(TableName=TABLE, Item={**key, "lease_until": {"N": str(2**40)}})
    assert notifier.handler(sns_event(), None) == summary(skipped=1)
    assert subjects("campaigns-critical") == []


def test_an_expired_lease_is_taken_over_and_skips_the_routes_already_delivered(table: Any) -> None:
    key = {"pk": {"S": "alarm#arn:aws:cloudwatch:eu-west-1:123456789012:alarm:vigil-prod-campaign-api-health-down"}}
    key["sk"] = {"S": "sent#ALARM#2024-05-02T14:03:12.405Z"}
    table.put_item(
        TableName=TABLE, Item={**key, "lease_until": {"N": "1"}, "delivered": {"SS": ["campaigns-critical"]}}
    )
    assert notifier.handler(load("eventbridge_alarm.json"), None) == summary(published=1)
    assert subjects("campaigns-critical") == []
    assert len(subjects("platform-critical")) == 1


# --- stale events ---------------------------------------------------------------------------------


def test_an_ok_older_than_the_alarm_already_paged_is_dropped(table: Any) -> None:
    late_ok = sns_event(
        "m-ok", NewStateValue="OK", OldStateValue="ALARM", StateChangeTime="2024-05-02T14:00:00.000+0000"
    )
    assert notifier.handler(sns_event("m-alarm"), None) == summary(published=1)  # ALARM at 14:03:41
    stream = io.StringIO()
    notifier.logger.registered_handler.stream = stream

    assert notifier.handler(late_ok, None) == summary(skipped=1)

    assert subjects("campaigns-critical") == ["[ALARM][critical] orders-queue backlog - orders"]
    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert (entry["level"], entry["reason"]) == ("WARNING", "older than the last state change paged")
    assert (entry["state"], entry["last_state"], entry["last_at"]) == ("OK", "ALARM", "2024-05-02T14:03:41.187Z")


def test_a_stale_event_by_the_other_path_is_dropped_too(table: Any) -> None:
    notifier.handler(eventbridge_twin("e-1"), None)
    late_ok = sns_event(
        "m-ok", NewStateValue="OK", OldStateValue="ALARM", StateChangeTime="2024-05-02T13:00:00.000+0000"
    )
    assert notifier.handler(late_ok, None) == summary(skipped=1)


def test_an_ok_newer_than_the_alarm_is_delivered_whatever_order_they_come_in(table: Any) -> None:
    ok = sns_event("m-ok", NewStateValue="OK", OldStateValue="ALARM", StateChangeTime="2024-05-02T15:00:00.000+0000")
    assert notifier.handler(ok, None) == summary(published=1)
    # The ALARM that preceded it arrives late: on-call already has the newer word, OK.
    assert notifier.handler(sns_event("m-alarm"), None) == summary(skipped=1)
    assert subjects("campaigns-critical") == ["[OK][critical] orders-queue backlog recovered - orders"]


# --- the table failing ----------------------------------------------------------------------------


def test_without_its_table_the_notifier_still_pages_and_says_why(
    routes: Routes,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("STATE_TABLE", "no-such-table")  # configured, but not there (or not reachable)
    with caplog.at_level(logging.WARNING, logger="vigil.notifier.state"):
        assert notifier.handler(load("eventbridge_alarm.json"), None) == summary(published=2)
        # Fail open: no dedup, so a duplicate pages again (a duplicate beats a lost page).
        assert notifier.handler(load("eventbridge_alarm.json"), None) == summary(published=2)
    assert "notifier state table no-such-table unavailable (ResourceNotFoundException" in caplog.text
    assert "delivering without dedup" in caplog.text


class CountingBrokenDynamoDB:
    """A DynamoDB client whose every call fails as an unreachable endpoint does."""

    def __init__(self) -> None:
        self.calls = 0

    def update_item(self, **_: Any) -> Any:
        from botocore.exceptions import EndpointConnectionError

        self.calls += 1
        raise EndpointConnectionError(endpoint_url="https://dynamodb")

    query = update_item  # the silences partition, read first


def test_an_unreachable_table_is_asked_once_per_invocation(
    routes: Routes,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STATE_TABLE", TABLE)
    broken = CountingBrokenDynamoDB()
    notifier._clients["dynamodb"] = broken
    assert notifier.handler(load("eventbridge_alarm.json"), None) == summary(published=2)
    assert broken.calls == 1  # not once per question: each would wait for its timeout
