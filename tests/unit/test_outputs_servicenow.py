"""The ServiceNow output against a fake instance on 127.0.0.1 that serves (and checks) the Table API."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from infra.fake_servicenow import TABLE, FakeServiceNow, fake_servicenow
from tests.support.http_server import Reply, closed_port
from tests.support.outputs import ALARM_FIXTURE, OK_FIXTURE, Secrets, Sleeps, alert_from
from vigil.outputs.alert import grouped
from vigil.outputs.config import ServiceNowOutput
from vigil.outputs.retry import Deadline, RetryPolicy
from vigil.outputs.servicenow import ServiceNow

USER, PASSWORD = "vigil.integration", "s3cret-Pa55word!"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
CORRELATION = "vigil/prod/campaign-api-health/down"


@pytest.fixture
def instance() -> Iterator[FakeServiceNow]:
    with fake_servicenow(BASIC) as fake:
        yield fake


def output(
    base_url: str,
    sleeps: Sleeps | None = None,
    secret: dict[str, Any] | None = None,
    policy: RetryPolicy | None = None,
    **fields: Any,
) -> ServiceNow:
    config = ServiceNowOutput(
        type="servicenow",
        name="l2-servicenow",
        instance=base_url,
        credentials_secret="servicenow-api",
        fields={"assignment_group": "L2 Operations", "caller_id": "vigil.integration"},
        **fields,
    )
    resolver = Secrets({"servicenow-api": secret or {"username": USER, "password": PASSWORD}})
    return ServiceNow(config, resolver, policy=policy, sleep=sleeps or Sleeps(), jitter=lambda: 1.0)


def body(request: Any) -> dict[str, Any]:
    return json.loads(request.body)


def test_incident_created_then_work_note_on_repeat_then_resolved(instance: FakeServiceNow) -> None:
    snow = output(instance.base_url)

    created = snow.send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert created.ok, created.error
    assert created.action == "created INC0010001"
    (incident,) = instance.by_correlation(CORRELATION)
    assert incident["short_description"] == "[vigil prod] campaign-api-health down: 0 < 1"
    assert incident["correlation_display"] == "vigil"
    assert (incident["impact"], incident["urgency"]) == ("2", "1"), "critical: impact 2, urgency 1 (priority 2)"
    assert incident["assignment_group"] == "L2 Operations"
    assert "ALARM: campaign-api-health down" in incident["description"], "the full e-mail text is the description"
    get, post = instance.requests
    assert (get.method, get.path, post.method, post.path) == ("GET", TABLE, "POST", TABLE)
    assert all(r.headers["authorization"] == BASIC for r in instance.requests)
    assert body(post)["correlation_id"] == CORRELATION

    repeated = snow.send(alert_from(ALARM_FIXTURE, repeat=True), Deadline.after(10))
    assert repeated.ok, repeated.error
    assert repeated.action == "work note on INC0010001"
    patch = instance.requests[-1]
    assert (patch.method, patch.path) == ("PATCH", f"{TABLE}/{incident['sys_id']}")
    assert set(body(patch)) == {"work_notes"}
    assert incident["journal"] == [
        "vigil: Still in ALARM (repeat notification) at 2024-05-02T14:03:12Z: latest value 0 (rule: < 1 for 2 of 2 minutes)"
    ]

    resolved = snow.send(alert_from(OK_FIXTURE), Deadline.after(10))
    assert resolved.ok, resolved.error
    assert resolved.action == "resolved INC0010001"
    assert incident["state"] == "6"
    assert incident["close_code"] == "Resolved by caller"
    assert incident["close_notes"].startswith("vigil: campaign-api-health down recovered at 2024-05-02T15:15:40Z")

    assert len(instance.incidents) == 1, "one incident for the whole life of the alarm"
    assert instance.problems == []


def test_the_same_alarm_delivered_twice_makes_one_incident(instance: FakeServiceNow) -> None:
    snow = output(instance.base_url)
    first = snow.send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    second = snow.send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert (first.action, second.action) == ("created INC0010001", "work note on INC0010001")
    assert len(instance.incidents) == 1
    assert instance.by_correlation(CORRELATION)[0]["journal"][0].startswith("vigil: ALARM again at ")


def test_alarm_after_resolution_opens_a_new_incident(instance: FakeServiceNow) -> None:
    snow = output(instance.base_url)
    for fixture in (ALARM_FIXTURE, OK_FIXTURE, ALARM_FIXTURE):
        assert snow.send(alert_from(fixture), Deadline.after(10)).ok
    states = sorted(i["state"] for i in instance.by_correlation(CORRELATION))
    assert states == ["1", "6"], "a resolved incident stays resolved; the new ALARM gets its own"


def test_ok_without_an_open_incident_writes_nothing(instance: FakeServiceNow) -> None:
    delivery = output(instance.base_url).send(alert_from(OK_FIXTURE), Deadline.after(10))
    assert delivery.ok
    assert delivery.action == "no open incident to resolve"
    assert [r.method for r in instance.requests] == ["GET"]


def test_503_is_retried_with_growing_backoff_then_succeeds(instance: FakeServiceNow) -> None:
    instance.script = [Reply(503, b'{"error":{"message":"busy"}}'), Reply(503, b"")]
    sleeps = Sleeps()
    delivery = output(instance.base_url, sleeps).send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert delivery.ok, delivery.error
    assert delivery.attempts == 3
    # full jitter with the random draw pinned at its top: base 0.5 s doubling
    assert sleeps.waits == [0.5, 1.0]
    assert len(instance.incidents) == 1


def test_jitter_spreads_the_waits_below_the_exponential_ceiling(instance: FakeServiceNow) -> None:
    instance.script = [Reply(503), Reply(503), Reply(503)]
    sleeps = Sleeps()
    config_output = output(instance.base_url, sleeps)
    draws = iter([0.2, 0.7, 0.1])
    config_output.jitter = lambda: next(draws)
    assert config_output.send(alert_from(ALARM_FIXTURE), Deadline.after(10)).ok
    assert sleeps.waits == pytest.approx([0.2 * 0.5, 0.7 * 1.0, 0.1 * 2.0])


def test_429_waits_at_least_its_retry_after(instance: FakeServiceNow) -> None:
    instance.script = [Reply(429, b"", headers=(("Retry-After", "3"),))]
    sleeps = Sleeps()
    delivery = output(instance.base_url, sleeps).send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert delivery.ok, delivery.error
    assert sleeps.waits == [3.0]


def test_a_create_whose_answer_was_lost_is_found_not_duplicated(instance: FakeServiceNow) -> None:
    instance.lose_create_answers = 1  # the incident is created, the answer is a 504
    delivery = output(instance.base_url).send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert delivery.ok, delivery.error
    assert delivery.action == "work note on INC0010001", "the retry looked again and found it"
    assert len(instance.incidents) == 1
    assert [r.method for r in instance.requests] == ["GET", "POST", "GET", "PATCH"]


def test_wrong_credentials_fail_fast_without_retry(instance: FakeServiceNow) -> None:
    sleeps = Sleeps()
    snow = output(instance.base_url, sleeps, secret={"username": USER, "password": "wrong-password"})
    delivery = snow.send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert not delivery.ok
    assert delivery.attempts == 1 and sleeps.waits == []
    assert "HTTP 401" in delivery.error and "User Not Authenticated" in delivery.error
    assert "wrong-password" not in delivery.error


def test_instance_that_ignores_the_query_is_refused_before_any_write(instance: FakeServiceNow) -> None:
    snow = output(instance.base_url)
    other = alert_from(ALARM_FIXTURE, environment="staging")
    assert snow.send(other, Deadline.after(10)).ok  # an incident of another correlation id
    instance.ignore_queries = True
    instance.requests.clear()
    delivery = snow.send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert not delivery.ok
    assert "another correlation_id" in delivery.error
    assert [r.method for r in instance.requests] == ["GET"], "nothing written to someone else's incident"


def test_bearer_token_is_sent_as_authorization() -> None:
    with fake_servicenow("Bearer oauth-access-token-123") as instance:
        snow = output(instance.base_url, secret={"token": "oauth-access-token-123"}, auth="bearer")
        delivery = snow.send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert delivery.ok, delivery.error
    assert instance.problems == []


def test_secret_without_the_keys_its_auth_needs_names_them() -> None:
    snow = output("http://127.0.0.1:9", secret={"user": USER, "pass": PASSWORD})
    delivery = snow.send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert not delivery.ok
    assert delivery.error == "secret servicenow-api has no 'username' string (auth: basic needs username and password)"
    assert delivery.attempts == 0


def test_refused_connection_is_reported_within_the_deadline() -> None:
    snow = ServiceNow(
        ServiceNowOutput(
            type="servicenow", instance=f"http://127.0.0.1:{closed_port()}", credentials_secret="servicenow-api"
        ),
        Secrets({"servicenow-api": {"username": USER, "password": PASSWORD}}),
    )
    started = time.monotonic()
    delivery = snow.send(alert_from(ALARM_FIXTURE), Deadline.after(3))
    elapsed = time.monotonic() - started
    assert not delivery.ok
    assert "connection refused" in delivery.error
    assert delivery.attempts >= 2, "a refused connection may pass: it is retried"
    assert elapsed < 3.5


def test_hung_instance_times_out_within_the_deadline(instance: FakeServiceNow) -> None:
    instance.script = [Reply(200, b"{}", delay=5)] * 4
    snow = ServiceNow(
        ServiceNowOutput(type="servicenow", instance=instance.base_url, credentials_secret="servicenow-api"),
        Secrets({"servicenow-api": {"username": USER, "password": PASSWORD}}),
        policy=RetryPolicy(request_timeout=0.6),
    )
    started = time.monotonic()
    delivery = snow.send(alert_from(ALARM_FIXTURE), Deadline.after(1.5))
    elapsed = time.monotonic() - started
    assert not delivery.ok
    assert "timeout" in delivery.error
    assert elapsed < 2.0, elapsed


def test_grouped_alert_makes_one_incident_per_alarm(instance: FakeServiceNow) -> None:
    lead = alert_from(ALARM_FIXTURE)
    other = alert_from(ALARM_FIXTURE, environment="staging")
    delivery = output(instance.base_url).send(grouped([lead, other]), Deadline.after(10))
    assert delivery.ok, delivery.error
    assert delivery.action == "created INC0010001; created INC0010002"
    assert {i["correlation_id"] for i in instance.incidents.values()} == {
        CORRELATION,
        "vigil/staging/campaign-api-health/down",
    }


def test_credentials_never_reach_logs_or_results(instance: FakeServiceNow, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    instance.script = [Reply(500, f"echo {PASSWORD} {BASIC}".encode())] * 10  # a server that echoes them back
    snow = output(instance.base_url, policy=RetryPolicy(max_attempts=2))
    delivery = snow.send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert not delivery.ok
    assert "***" in delivery.error, "the echoed secret was masked"
    for text in (caplog.text, delivery.model_dump_json()):
        assert PASSWORD not in text
        assert BASIC.split()[1] not in text
    assert "output failed" in caplog.text
