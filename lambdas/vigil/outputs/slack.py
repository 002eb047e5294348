"""Slack through an incoming webhook: one message per alert, Block Kit with a plain-text fallback.

POST <webhook URL from the credentials secret, key "url"> with {"text", "blocks"}; Slack answers
200 "ok", or 4xx with a reason such as invalid_payload, channel_not_found or channel_is_archived
(final), 429 when rate limited (retried). Slack's mrkdwn needs &, < and > escaped in text, and
Block Kit caps a header at 150 characters, a section text at 3,000, and a section at 10 fields.
"""

from __future__ import annotations

from typing import Any

from vigil.outputs.alert import Alert
from vigil.outputs.base import ChannelMessage
from vigil.outputs.config import SlackOutput
from vigil.text import clip

HEADER_LIMIT = 150
TEXT_LIMIT = 3000
MAX_FIELDS = 10


class Slack(ChannelMessage[SlackOutput]):
    type = "slack"
    url_is = "the incoming webhook URL"

    def message(self, alert: Alert) -> dict[str, Any]:
        return slack_message(alert)


def slack_message(alert: Alert) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(alert.headline, HEADER_LIMIT)}}
    ]
    if alert.summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(escape(alert.summary), TEXT_LIMIT)}})
    fields = [{"type": "mrkdwn", "text": f"*{label}*\n{escape(value)}"} for label, value in alert.facts()]
    if fields:
        blocks.append({"type": "section", "fields": fields[:MAX_FIELDS]})
    if alert.group:
        lines = "\n".join(f"• {escape(member.brief)}" for member in alert.group)
        text = f"*{len(alert.group)} more in this notification:*\n{lines}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(text, TEXT_LIMIT)}})
    links = " · ".join(f"<{url}|{escape(text)}>" for text, url in alert.links())
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": links}]})
    fallback = alert.headline + (f" (+{len(alert.group)} more)" if alert.group else "")
    return {"text": escape(fallback), "blocks": blocks}


def escape(text: str) -> str:
    """Slack mrkdwn: &, < and > are control characters (Slack docs, *Formatting text*: escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
