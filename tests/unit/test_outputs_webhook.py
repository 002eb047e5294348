"""The generic webhook: its versioned body (checked against the committed JSON Schema), its signature and token."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support.http_server import LoopbackServer, Reply, running_server
from tests.support.outputs import ALARM_FIXTURE, OK_FIXTURE, Secrets, Sleeps, alert_from
from vigil.outputs.alert import grouped
from vigil.outputs.config import WebhookOutput
from vigil.outputs.retry import Deadline
from vigil.outputs.webhook import Webhook

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schema" / "webhook-v1.schema.json").read_text())
PATH = "/hooks/vigil"
SIGNING_KEY = "whsec-0123456789abcdef"
TOKEN = "tok-abcdef0123456789"
NOW = 1_714_658_600


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        srv.replies[PATH] = [Reply(204)]
        yield srv


def webhook(server: LoopbackServer, **secret: str) -> Webhook:
    secrets = Secrets({"ops-hook": {"url": server.url(PATH), **secret}})
    return Webhook(
        WebhookOutput(type="webhook", name="ops", credentials_secret="ops-hook"),
        secrets,
        clock=lambda: NOW,
        sleep=Sleeps(),
    )


def body_of(server: LoopbackServer, index: int = 0) -> dict[str, Any]:
    return json.loads(server.requests[index].body)


def test_body_is_vigil_alert_v1_and_matches_its_schema(server: LoopbackServer) -> None:
    delivery = webhook(server).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert delivery.ok, delivery.error
    request = server.requests[0]
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["x-vigil-schema"] == "vigil.alert/v1"
    body = body_of(server)
    jsonschema.validate(body, SCHEMA)
    assert body["schema"] == "vigil.alert/v1"
    assert body["correlation_id"] == "vigil/prod/campaign-api-health/down"
    assert (body["state"], body["repeat"], body["severity"]) == ("ALARM", False, "critical")
    assert (body["check"], body["signal"], body["service"]) == ("campaign-api-health", "down", "campaign-api")
    assert (body["value"], body["threshold"], body["comparison"]) == (0.0, 1.0, "<")
    assert body["since"] == "2024-05-02T14:03:12.405000Z"
    assert body["details"].startswith("ALARM: campaign-api-health down")
    assert body["group"] == []
    assert "authorization" not in request.headers and "x-vigil-signature" not in request.headers


def test_grouped_recovery_body_lists_the_group(server: LoopbackServer) -> None:
    alert = grouped([alert_from(OK_FIXTURE), alert_from(ALARM_FIXTURE, environment="staging")])
    assert webhook(server).send(alert, Deadline.after(5)).ok
    body = body_of(server)
    jsonschema.validate(body, SCHEMA)
    assert body["state"] == "OK"
    assert [(g["correlation_id"], g["state"]) for g in body["group"]] == [
        ("vigil/staging/campaign-api-health/down", "ALARM")
    ]


def test_signature_verifies_with_the_signing_key(server: LoopbackServer) -> None:
    assert webhook(server, signing_key=SIGNING_KEY).send(alert_from(ALARM_FIXTURE), Deadline.after(5)).ok
    request = server.requests[0]
    assert request.headers["x-vigil-timestamp"] == str(NOW)
    expected = hmac.new(SIGNING_KEY.encode(), f"{NOW}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-vigil-signature"] == f"v1={expected}"


def test_token_is_sent_as_bearer(server: LoopbackServer) -> None:
    assert webhook(server, token=TOKEN).send(alert_from(ALARM_FIXTURE), Deadline.after(5)).ok
    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_retries_carry_the_same_id_and_signature(server: LoopbackServer) -> None:
    server.replies[PATH] = [Reply(503), Reply(204)]
    delivery = webhook(server, signing_key=SIGNING_KEY).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert delivery.ok and delivery.attempts == 2
    first, second = server.requests
    assert first.body == second.body
    assert first.headers["x-vigil-signature"] == second.headers["x-vigil-signature"]


def test_each_transition_and_repeat_has_its_own_id(server: LoopbackServer) -> None:
    hook = webhook(server)
    for alert in (alert_from(ALARM_FIXTURE), alert_from(ALARM_FIXTURE, repeat=True), alert_from(OK_FIXTURE)):
        assert hook.send(alert, Deadline.after(5)).ok
    ids = [body_of(server, i)["id"] for i in range(3)]
    assert len(set(ids)) == 3


def test_secret_without_url_is_reported_by_name(server: LoopbackServer) -> None:
    hook = Webhook(
        WebhookOutput(type="webhook", credentials_secret="ops-hook"), Secrets({"ops-hook": {"token": TOKEN}})
    )
    delivery = hook.send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert delivery.error == "secret ops-hook has no 'url' string (the endpoint)"


def test_unreadable_secret_is_a_failed_delivery_naming_it() -> None:
    hook = Webhook(WebhookOutput(type="webhook", credentials_secret="ops-hook"), Secrets({}))
    delivery = hook.send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert not delivery.ok
    assert delivery.error == "credentials: secret ops-hook: ResourceNotFoundException"


def test_secrets_never_reach_logs_or_results(server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.replies[PATH] = [Reply(401, f"bad token {TOKEN} for {server.url(PATH)}".encode())]
    delivery = webhook(server, token=TOKEN, signing_key=SIGNING_KEY).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert not delivery.ok
    for text in (caplog.text, delivery.model_dump_json()):
        assert TOKEN not in text and PATH not in text and SIGNING_KEY not in text
