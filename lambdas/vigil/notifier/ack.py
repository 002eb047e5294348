"""Acknowledgement function, behind a Lambda function URL with auth type NONE: the signed token is the auth.

Environment:
    STATE_TABLE     the notifier's state table
    ACK_SECRET_ARN  the generated secret with the tokens' HMAC key (vigil.notifier.ack_token)

GET with a valid token answers a page with one button and writes nothing: mail scanners and link
previews fetch every link in an e-mail, and must not acknowledge for on-call. The button POSTs to
the same URL (with `by`, who acknowledges, editable), which writes `acked_by` and `acked_at` on the
alarm's paging record (vigil.notifier.repeats), only while that record is still about the ALARM the
token names. A bad or expired token gets 403 and nothing is read from or written to the table.
"""

from __future__ import annotations

import base64
import html
import os
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from vigil.notifier import ack_token
from vigil.notifier.ack_token import AckRequest
from vigil.notifier.repeats import ACK_SECRET_ENV, record_key
from vigil.notifier.sanitize import single_line
from vigil.text import clip

BY_LIMIT = 100
clock = time.time  # epoch seconds; tests simulate time by replacing it
_clients: dict[str, Any] = {}


def _dynamodb() -> Any:
    if "dynamodb" not in _clients:
        import boto3

        _clients["dynamodb"] = boto3.client("dynamodb")
    return _clients["dynamodb"]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "GET")).upper()
    params = dict(event.get("queryStringParameters") or {})
    if method == "POST":
        params.update(_form(event))
    try:
        request = AckRequest.model_validate(params)
    except ValidationError:
        return page(403, "Not a valid acknowledgement link", "The link is incomplete or damaged.")
    if not ack_token.valid(ack_token.key(os.environ[ACK_SECRET_ENV]), request, clock()):
        return page(403, "Not a valid acknowledgement link", "The link is damaged or has expired.")
    alarm = request.alarm_arn.split(":alarm:", 1)[-1]
    by = clip(single_line(request.by), BY_LIMIT) or "someone"
    if method != "POST":
        return page(
            200,
            f"Acknowledge {alarm}",
            f"The ALARM of {request.at}: acknowledging stops its repeats and escalation.",
            form=by,
        )
    return acknowledge(_dynamodb(), os.environ["STATE_TABLE"], request, by, alarm)


def _form(event: dict[str, Any]) -> dict[str, str]:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    return {k: v for k, v in parse_qsl(body) if k == "by"}


def acknowledge(client: Any, table: str, request: AckRequest, by: str, alarm: str) -> dict[str, Any]:
    """Mark the ALARM acknowledged, once; 409 when the alarm has left that ALARM (nothing to stop)."""
    now = datetime.fromtimestamp(clock(), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    try:
        client.update_item(
            TableName=table,
            Key=record_key(request.alarm_arn).item(),
            UpdateExpression="SET acked_by = :by, acked_at = :now",
            ConditionExpression="#at = :at AND attribute_not_exists(acked_by)",
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues={":by": {"S": by}, ":now": {"S": now}, ":at": {"S": request.at}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except client.exceptions.ConditionalCheckFailedException as exc:
        old = exc.response.get("Item") or {}
        if old.get("at", {}).get("S") == request.at and "acked_by" in old:
            who, when = old["acked_by"]["S"], old.get("acked_at", {}).get("S", "?")
            return page(200, f"{alarm} was acknowledged already", f"By {who} at {when}.")
        return page(409, f"{alarm}: nothing to acknowledge", "The alarm has left that ALARM; no repeats are pending.")
    return page(200, f"{alarm} acknowledged", f"By {by} at {now}. Repeats and escalation stop.")


def page(status: int, title: str, text: str, form: str | None = None) -> dict[str, Any]:
    """A minimal HTML answer; `form`: the confirmation button, with who acknowledges prefilled."""
    button = (
        '<form method="post"><label>Acknowledged by <input name="by" value="'
        + html.escape(form)
        + '"></label> <button type="submit">Acknowledge</button></form>'
        if form is not None
        else ""
    )
    body = (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{button}"
    )
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",  # the page's URL is the token
        },
        "body": body,
    }
