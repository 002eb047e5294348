"""PagerDuty Events API v2: trigger on ALARM, resolve on OK, dedup_key = the correlation id.

POST https://events.pagerduty.com/v2/enqueue (EU accounts: events.eu.pagerduty.com), answered 202
(PagerDuty developer docs, *Events API v2*: "Send an Alert Event", "Response Codes & Retry
Logic": retry 429 and 5xx, never 400). Fields sent:
  routing_key               the integration key, from the credentials secret ("routing_key")
  event_action              trigger | resolve
  dedup_key                 the correlation id (at most 255 characters): a repeat lands on the
                            same alert as a new trigger log entry, the OK resolves it
  payload.summary           the headline (at most 1,024 characters)
  payload.source            <environment>/<service>
  payload.severity          from the output's severity_map (critical, error, warning, info)
  payload.timestamp         when the alarm changed state
  payload.component, .group, .class   check, service, signal
  payload.custom_details    value and rule, alarm name, environment, repeat, what the signal means
  links                     runbook, alarm, dashboard
  client, client_url        "vigil", the alarm's console page
A resolve carries only routing_key, event_action and dedup_key, as the docs' example does. Each
alarm of a grouped alert is its own event: each has its own dedup_key and its own OK to come.
"""

from __future__ import annotations

from typing import Any

from vigil.notifier.render import iso_utc
from vigil.outputs.alert import Alert
from vigil.outputs.base import BaseOutput, Exchange, each_member, require
from vigil.outputs.config import PagerDutyOutput
from vigil.secrets import SecretsResolver
from vigil.spec.common import Severity
from vigil.text import clip

ENDPOINTS = {"us": "https://events.pagerduty.com/v2/enqueue", "eu": "https://events.eu.pagerduty.com/v2/enqueue"}
SUMMARY_LIMIT = 1024


class PagerDuty(BaseOutput[PagerDutyOutput]):
    type = "pagerduty"

    def __init__(
        self, config: PagerDutyOutput, resolve_secret: SecretsResolver, *, endpoint: str | None = None, **options: Any
    ) -> None:
        super().__init__(config, resolve_secret, **options)
        self.endpoint = endpoint or ENDPOINTS[config.region]

    def deliver(self, alert: Alert, secret: dict[str, Any], http: Exchange) -> str:
        routing_key = require(secret, "routing_key", self.credentials, "the Events API v2 integration key")

        def enqueue(member: Alert) -> str:
            event = pagerduty_event(member, routing_key, self.config)
            http.call("POST", self.endpoint, what=f"{event['event_action']} event", headers={}, payload=event)
            return f"{event['event_action']} {member.correlation_id}"

        return each_member(alert, enqueue)


def pagerduty_event(alert: Alert, routing_key: str, config: PagerDutyOutput) -> dict[str, Any]:
    if alert.state == "OK":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": alert.correlation_id}
    details: dict[str, Any] = {
        "value": alert.value_text,
        "alarm": alert.alarm_name,
        "environment": alert.environment,
        "repeat": alert.repeat,
    }
    if alert.summary:
        details["signal_means"] = alert.summary
    payload: dict[str, Any] = {
        "summary": clip(
            alert.headline + (f": {alert.value_vs_threshold}" if alert.value_vs_threshold else ""), SUMMARY_LIMIT
        ),
        "source": f"{alert.environment}/{alert.service or alert.check}",
        "severity": config.severity_map.get(alert.severity, config.severity_map[Severity.critical]),
        "component": alert.check,
        "group": alert.service or alert.environment,
        "class": alert.signal,
        "custom_details": details,
    }
    if alert.since:
        payload["timestamp"] = iso_utc(alert.since)
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.correlation_id,
        "payload": payload,
        "client": "vigil",
        "links": [{"href": url, "text": text} for text, url in alert.links()],
    }
    if alert.alarm_url:
        event["client_url"] = alert.alarm_url
    return event
