"""Microsoft Teams through a Workflows webhook: one Adaptive Card per alert.

Why an Adaptive Card and not the older MessageCard: Microsoft is retiring Office 365 (Microsoft
365) connectors, and the Workflows app that replaces them for "post to a channel when a webhook
request is received" takes Adaptive Cards only (Teams developer docs, *Create and send messages*,
known issues). The same envelope also works with a connector webhook while those last:
  {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                        "contentUrl": null, "content": <AdaptiveCard 1.4>}]}
Version 1.4 because Teams renders it on desktop and mobile alike. The URL is in the credentials
secret (key "url"). A Workflows webhook answers 202 Accepted; any 2xx is success.
"""

from __future__ import annotations

from typing import Any

from vigil.outputs.alert import Alert
from vigil.outputs.base import ChannelMessage
from vigil.outputs.config import TeamsOutput

CARD_VERSION = "1.4"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


class Teams(ChannelMessage[TeamsOutput]):
    type = "teams"
    url_is = "the Workflows webhook URL"

    def message(self, alert: Alert) -> dict[str, Any]:
        return teams_message(alert)


def teams_message(alert: Alert) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": adaptive_card(alert)}],
    }


def adaptive_card(alert: Alert) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": alert.headline,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": "Good" if alert.state == "OK" else "Attention",
        }
    ]
    if alert.summary:
        body.append({"type": "TextBlock", "text": alert.summary, "wrap": True, "isSubtle": True})
    body.append({"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in alert.facts()]})
    if alert.group:
        body.append({"type": "TextBlock", "text": f"{len(alert.group)} more in this notification:", "weight": "Bolder"})
        body += [{"type": "TextBlock", "text": f"- {member.brief}", "wrap": True} for member in alert.group]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    actions = [{"type": "Action.OpenUrl", "title": text, "url": url} for text, url in alert.links()]
    if actions:
        card["actions"] = actions
    return card
