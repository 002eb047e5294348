"""A generic webhook: vigil's own JSON body, versioned, to any HTTPS endpoint.

The body is `WebhookBody` (schema "vigil.alert/v1", documented in docs/outputs.md; its JSON Schema
is schema/webhook-v1.schema.json). Within v1, fields may be added but never renamed, removed or
given another meaning; anything else is v2, under its own schema name.

The credentials secret holds:
  url           the endpoint (required): the URL may itself be a credential, so it is never logged
  token         optional: sent as "Authorization: Bearer <token>"
  signing_key   optional: the body is signed, X-Vigil-Timestamp: <unix seconds> and
                X-Vigil-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body bytes>" keyed with it>,
                so a receiver can check both origin and freshness (reject old timestamps).
`id` is the same for every attempt at one delivery: a receiver can drop the duplicates that
retries (or a Lambda retry) produce.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.outputs.alert import Alert
from vigil.outputs.base import BaseOutput, Exchange, encode_json, require
from vigil.outputs.config import WebhookOutput
from vigil.secrets import SecretsResolver

SCHEMA = "vigil.alert/v1"


class WebhookAlarm(BaseModel):
    """One alarm state change, as the webhook body carries it (the lead alarm and each grouped one)."""

    model_config = ConfigDict(frozen=True)

    correlation_id: str = Field(
        description="environment + check + signal: the same for an alarm's ALARM, repeats and OK"
    )
    state: Literal["ALARM", "OK"]
    repeat: bool = Field(description="true when this re-notifies an alarm still in ALARM")
    environment: str
    service: str = Field(description="empty for an alarm vigil did not build")
    check: str = Field(description="the check id; the alarm name for an alarm vigil did not build")
    signal: str
    severity: Literal["critical", "warning"]
    alarm_name: str
    title: str = Field(description="'<check> <signal>'")
    summary: str = Field(description="what the signal means; may be empty")
    value: float | None = Field(description="the newest datapoint; null when unknown (or for a composite alarm)")
    threshold: float | None
    comparison: Literal[">", ">=", "<", "<="] | None
    unit: str
    value_text: str = Field(description="value and rule in words, as the e-mail says it")
    since: datetime | None = Field(description="when the alarm entered this state (UTC)")
    runbook: str | None
    alarm_url: str | None
    dashboard_url: str | None


class WebhookBody(WebhookAlarm):
    """The body vigil POSTs to a generic webhook: the lead alarm's fields, plus the others of its group."""

    schema_: Literal["vigil.alert/v1"] = Field(default=SCHEMA, alias="schema", description="body version")
    id: str = Field(description="the same for every attempt at this delivery: receivers drop duplicates by it")
    headline: str
    details: str = Field(description="the full e-mail text")
    group: list[WebhookAlarm] = Field(description="other alarm changes notified together with this one")


def _alarm_fields(alert: Alert) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in WebhookAlarm.model_fields}


def webhook_body(alert: Alert) -> WebhookBody:
    return WebhookBody(
        id=delivery_id(alert),
        headline=alert.headline,
        details=alert.details,
        group=[WebhookAlarm(**_alarm_fields(member)) for member in alert.group],
        **_alarm_fields(alert),
    )


def delivery_id(alert: Alert) -> str:
    """Stable across retries, distinct for each transition and each repeat."""
    since = alert.since.isoformat() if alert.since else ""
    key = f"{alert.correlation_id}|{alert.state}|{since}|{alert.repeat}|{len(alert.group)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def signature_headers(key: str, body: bytes, timestamp: int) -> dict[str, str]:
    digest = hmac.new(key.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Vigil-Timestamp": str(timestamp), "X-Vigil-Signature": f"v1={digest}"}


class Webhook(BaseOutput[WebhookOutput]):
    type = "webhook"

    def __init__(
        self,
        config: WebhookOutput,
        resolve_secret: SecretsResolver,
        *,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        super().__init__(config, resolve_secret, **options)
        self.clock = clock

    def deliver(self, alert: Alert, secret: dict[str, Any], http: Exchange) -> str:
        url = require(secret, "url", self.credentials, "the endpoint")
        payload = webhook_body(alert).model_dump(mode="json", by_alias=True)
        headers = {"X-Vigil-Schema": SCHEMA}
        if secret.get("token") is not None:
            headers["Authorization"] = "Bearer " + require(secret, "token", self.credentials, "a bearer token")
        if secret.get("signing_key") is not None:
            key = require(secret, "signing_key", self.credentials, "the HMAC signing key")
            headers |= signature_headers(key, encode_json(payload), int(self.clock()))
        http.call("POST", url, what="post", headers=headers, payload=payload)
        return f"posted {payload['id']}"
