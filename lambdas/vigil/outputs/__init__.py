"""Outputs beside e-mail and SMS: ServiceNow incidents, PagerDuty, Slack, Teams and a generic webhook.

config.py     the per-route settings models (shared by synth and the notifier)
alert.py      Alert: what every output needs, built from the notifier's AlarmEvent and Notification
delivery.py   the Output protocol, Delivery results, deliver_all and the "output is down" page
base.py       what the outputs share: credentials, retries, logging, masking
httpclient.py the standard-library HTTP client (deadline, TLS, no redirects, bounded reads)
retry.py      deadlines and backoff with jitter
servicenow.py, pagerduty.py, slack.py, teams.py, webhook.py   one module per output

Typical use in the notifier, for one route:

    outputs = build_outputs(route_outputs, secrets.resolver(secret_ids))
    report = deliver_all(outputs, build_alert(event, notification, environment=env, links=links))
    page = down_notification(report, alert)   # publish to the self-monitoring route when not None
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigil.outputs.base import BaseOutput
from vigil.outputs.config import OutputConfig
from vigil.outputs.pagerduty import PagerDuty
from vigil.outputs.servicenow import ServiceNow
from vigil.outputs.slack import Slack
from vigil.outputs.teams import Teams
from vigil.outputs.webhook import Webhook
from vigil.secrets import SecretsResolver

OUTPUT_TYPES: dict[str, type[BaseOutput[Any]]] = {
    cls.type: cls for cls in (ServiceNow, PagerDuty, Slack, Teams, Webhook)
}


def build_outputs(configs: Sequence[OutputConfig], resolve_secret: SecretsResolver) -> list[BaseOutput[Any]]:
    """One output per configured entry, in order; secrets are read at send time, not here."""
    return [OUTPUT_TYPES[config.type](config, resolve_secret) for config in configs]
