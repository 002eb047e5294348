"""The PagerDuty output against a loopback stand-in for the Events API v2 endpoint, checking each event."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.http_server import LoopbackServer, Reply, running_server
from tests.support.outputs import ALARM_FIXTURE, OK_FIXTURE, Secrets, Sleeps, alert_from
from vigil.outputs.alert import grouped
from vigil.outputs.config import PagerDutyOutput
from vigil.outputs.pagerduty import ENDPOINTS, PagerDuty
from vigil.outputs.retry import Deadline

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters, as an integration key is
ACCEPTED = Reply(202, b'{"status":"success","message":"Event processed","dedup_key":"x"}')
PATH = "/v2/enqueue"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        srv.replies[PATH] = [ACCEPTED]
        yield srv


def output(server: LoopbackServer, sleeps: Sleeps | None = None, **fields: Any) -> PagerDuty:
    config = PagerDutyOutput(type="pagerduty", credentials_secret="pagerduty-campaigns", **fields)
    secrets = Secrets({"pagerduty-campaigns": {"routing_key": ROUTING_KEY}})
    return PagerDuty(config, secrets, endpoint=server.url(PATH), sleep=sleeps or Sleeps(), jitter=lambda: 1.0)


def events(server: LoopbackServer) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in server.requests]


def test_alarm_triggers_with_the_correlation_id_as_dedup_key(server: LoopbackServer) -> None:
    delivery = output(server).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert delivery.ok, delivery.error
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["content-type"] == "application/json"
    (event,) = events(server)
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "vigil/prod/campaign-api-health/down"
    payload = event["payload"]
    assert payload["summary"] == "ALARM critical: campaign-api-health down (prod): 0 < 1"
    assert payload["severity"] == "critical"
    assert payload["source"] == "prod/campaign-api"
    assert (payload["component"], payload["group"], payload["class"]) == ("campaign-api-health", "campaign-api", "down")
    assert payload["timestamp"] == "2024-05-02T14:03:12Z"
    assert payload["custom_details"]["value"] == "latest value 0 (rule: < 1 for 2 of 2 minutes)"
    assert {link["text"] for link in event["links"]} == {"Runbook", "Alarm", "Dashboard"}
    assert event["client"] == "vigil" and event["client_url"].startswith("https://eu-west-1.console.aws.amazon.com/")
    assert len(payload["summary"]) <= 1024 and len(event["dedup_key"]) <= 255


def test_ok_resolves_the_same_dedup_key(server: LoopbackServer) -> None:
    pd = output(server)
    assert pd.send(alert_from(ALARM_FIXTURE), Deadline.after(5)).ok
    assert pd.send(alert_from(OK_FIXTURE), Deadline.after(5)).ok
    trigger, resolve = events(server)
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": trigger["dedup_key"]}


def test_warning_maps_through_the_severity_map(server: LoopbackServer) -> None:
    alert = alert_from(ALARM_FIXTURE).model_copy(update={"severity": "warning"})
    assert output(server, severity_map={"critical": "critical", "warning": "error"}).send(alert, Deadline.after(5)).ok
    assert events(server)[0]["payload"]["severity"] == "error"


def test_each_grouped_alarm_is_its_own_event(server: LoopbackServer) -> None:
    alert = grouped([alert_from(ALARM_FIXTURE), alert_from(ALARM_FIXTURE, environment="staging")])
    assert output(server).send(alert, Deadline.after(5)).ok
    assert [e["dedup_key"] for e in events(server)] == [
        "vigil/prod/campaign-api-health/down",
        "vigil/staging/campaign-api-health/down",
    ]


def test_429_and_500_are_retried_then_accepted(server: LoopbackServer) -> None:
    server.replies[PATH] = [Reply(429, b"", headers=(("Retry-After", "2"),)), Reply(500, b""), ACCEPTED]
    sleeps = Sleeps()
    delivery = output(server, sleeps).send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert delivery.ok, delivery.error
    assert delivery.attempts == 3
    assert sleeps.waits == [2.0, 1.0], "Retry-After first, then the backoff's second step"
    assert len({r.body for r in server.requests}) == 1, "the same event each time"


def test_400_invalid_event_fails_fast(server: LoopbackServer) -> None:
    server.replies[PATH] = [Reply(400, b'{"status":"invalid event","message":"Event object is invalid"}')]
    sleeps = Sleeps()
    delivery = output(server, sleeps).send(alert_from(ALARM_FIXTURE), Deadline.after(10))
    assert not delivery.ok
    assert delivery.attempts == 1 and sleeps.waits == []
    assert "HTTP 400" in delivery.error and "Event object is invalid" in delivery.error


def test_routing_key_never_reaches_logs_or_results(server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.replies[PATH] = [Reply(400, f'{{"message":"bad routing_key {ROUTING_KEY}"}}'.encode())]
    delivery = output(server).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert not delivery.ok
    assert ROUTING_KEY not in caplog.text and ROUTING_KEY not in delivery.model_dump_json()
    assert "***" in delivery.error


def test_region_picks_the_documented_endpoint() -> None:
    us = PagerDuty(PagerDutyOutput(type="pagerduty", credentials_secret="pd"), Secrets({}))
    eu = PagerDuty(PagerDutyOutput(type="pagerduty", credentials_secret="pd", region="eu"), Secrets({}))
    assert us.endpoint == ENDPOINTS["us"] == "https://events.pagerduty.com/v2/enqueue"
    assert eu.endpoint == ENDPOINTS["eu"] == "https://events.eu.pagerduty.com/v2/enqueue"
