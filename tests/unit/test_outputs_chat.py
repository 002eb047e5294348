"""Slack and Teams outputs against loopback stand-ins for their incoming webhooks, checking the payloads."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.http_server import LoopbackServer, Reply, running_server
from tests.support.outputs import ALARM_FIXTURE, OK_FIXTURE, Secrets, Sleeps, alert_from
from vigil.outputs.alert import grouped
from vigil.outputs.config import SlackOutput, TeamsOutput
from vigil.outputs.retry import Deadline
from vigil.outputs.slack import Slack
from vigil.outputs.teams import ADAPTIVE_CARD, Teams

SLACK_PATH = "/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX"
TEAMS_PATH = "/workflows/abc/triggers/manual/paths/invoke"
TEAMS_QUERY = "sig=TEAMS-SIGNATURE-0123456789"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        srv.replies[SLACK_PATH] = [Reply(200, b"ok", "text/plain")]
        srv.replies[TEAMS_PATH] = [Reply(202, b"")]
        yield srv


def slack(server: LoopbackServer, sleeps: Sleeps | None = None) -> Slack:
    secrets = Secrets({"slack-oncall": {"url": server.url(SLACK_PATH)}})
    return Slack(SlackOutput(type="slack", credentials_secret="slack-oncall"), secrets, sleep=sleeps or Sleeps())


def teams(server: LoopbackServer) -> Teams:
    secrets = Secrets({"teams-l2": {"url": server.url(f"{TEAMS_PATH}?{TEAMS_QUERY}")}})
    return Teams(TeamsOutput(type="teams", credentials_secret="teams-l2"), secrets, sleep=Sleeps())


def posted(server: LoopbackServer) -> dict[str, Any]:
    (request,) = server.requests
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    return json.loads(request.body)


# --- Slack ----------------------------------------------------------------------------------------


def test_slack_alarm_message_has_header_fields_and_links(server: LoopbackServer) -> None:
    delivery = slack(server).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert delivery.ok, delivery.error
    assert delivery.action == "posted"
    message = posted(server)
    assert server.requests[0].path == SLACK_PATH
    assert message["text"] == "ALARM critical: campaign-api-health down (prod)"
    header, summary, fields, context = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": message["text"]}}
    assert summary["text"]["text"].startswith("endpoint unhealthy")
    assert {"type": "mrkdwn", "text": "*Value*\nlatest value 0 (rule: &lt; 1 for 2 of 2 minutes)"} in fields["fields"]
    assert "<https://wiki.example.com/runbooks/campaign-api#health|Runbook>" in context["elements"][0]["text"]


def test_slack_recovery_and_grouped_alarms(server: LoopbackServer) -> None:
    alert = grouped([alert_from(OK_FIXTURE), alert_from(ALARM_FIXTURE, environment="staging")])
    assert slack(server).send(alert, Deadline.after(5)).ok
    message = posted(server)
    assert message["text"] == "OK: campaign-api-health down recovered (prod) (+1 more)"
    group = next(b for b in message["blocks"] if "more in this" in b.get("text", {}).get("text", ""))
    assert group["text"]["text"] == "*1 more in this notification:*\n• ALARM campaign-api-health down: 0 &lt; 1"


def test_slack_channel_not_found_fails_fast(server: LoopbackServer) -> None:
    server.replies[SLACK_PATH] = [Reply(404, b"channel_not_found", "text/plain")]
    sleeps = Sleeps()
    delivery = slack(server, sleeps).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert not delivery.ok
    assert delivery.error == "post message: HTTP 404: channel_not_found"
    assert sleeps.waits == []


def test_slack_rate_limit_is_retried(server: LoopbackServer) -> None:
    server.replies[SLACK_PATH] = [Reply(429, b"rate_limited", "text/plain"), Reply(200, b"ok", "text/plain")]
    delivery = slack(server).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert delivery.ok and delivery.attempts == 2


def test_webhook_url_never_reaches_logs_or_results(server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.replies[SLACK_PATH] = [Reply(302, b"", headers=(("Location", server.url(SLACK_PATH + "/moved")),))]
    delivery = slack(server).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert not delivery.ok
    assert delivery.error == "post message: HTTP 302, a redirect, which is never followed"
    assert len(server.requests) == 1, "the redirect was not followed"
    for text in (caplog.text, delivery.model_dump_json()):
        assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in text and SLACK_PATH not in text


# --- Teams ----------------------------------------------------------------------------------------


def test_teams_posts_an_adaptive_card_in_a_message_envelope(server: LoopbackServer) -> None:
    delivery = teams(server).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert delivery.ok, delivery.error
    assert server.requests[0].path == TEAMS_PATH
    message = posted(server)
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title = card["body"][0]
    assert title["text"] == "ALARM critical: campaign-api-health down (prod)"
    assert title["color"] == "Attention"
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert {"title": "Value", "value": "latest value 0 (rule: < 1 for 2 of 2 minutes)"} in facts
    assert [a["title"] for a in card["actions"]] == ["Runbook", "Alarm", "Dashboard"]
    assert all(a["type"] == "Action.OpenUrl" for a in card["actions"])


def test_teams_recovery_is_green(server: LoopbackServer) -> None:
    assert teams(server).send(alert_from(OK_FIXTURE), Deadline.after(5)).ok
    title = posted(server)["attachments"][0]["content"]["body"][0]
    assert (title["text"], title["color"]) == ("OK: campaign-api-health down recovered (prod)", "Good")


def test_teams_signature_in_the_url_is_never_shown(server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.replies[TEAMS_PATH] = [Reply(400, f'{{"error":"bad request to ...?{TEAMS_QUERY}"}}'.encode())]
    delivery = teams(server).send(alert_from(ALARM_FIXTURE), Deadline.after(5))
    assert not delivery.ok
    for text in (caplog.text, delivery.model_dump_json()):
        assert "TEAMS-SIGNATURE" not in text
