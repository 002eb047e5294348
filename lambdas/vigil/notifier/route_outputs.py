"""The outputs step: a route's ServiceNow, PagerDuty, Slack, Teams and webhook outputs, beside its topic.

Environment (written by the stack from _settings.yaml, infra/notifier_config.py):
    ROUTE_OUTPUTS   JSON {route: [its outputs, as vigil.outputs.config models them]}; routes with outputs only
    OUTPUT_SECRETS  JSON {catalog secret name: Secrets Manager id}, the outputs' secrets only

For one state change, every output of its routes that has not delivered it yet runs in one
`deliver_all`, each in its own thread, under one budget: the invocation's remaining time less a
reserve for the publishes still to make, at most deliver_all's default. What each did is in the
DeliveryReport; the caller records, per output, `output:<route>/<name>` when it delivered (a retry
of the invocation, after an SNS publish failed, does not create the incident twice) and
`!down:<route>/<name>` once the self-monitoring route was paged about it (a retry tries the output
again, and pages about it no more). INSUFFICIENT_DATA opens and closes nothing: no output is called.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from vigil.notifier.events import AlarmEvent
from vigil.notifier.render import LinkContext, Notification

# The outputs' models and clients cost a notifier's cold start ~15%: they are imported on first use,
# so a stack whose routes have no output never pays for them.
if TYPE_CHECKING:
    from vigil.outputs.alert import Alert
    from vigil.outputs.base import BaseOutput
    from vigil.outputs.config import OutputConfig
    from vigil.outputs.delivery import DeliveryReport

ROUTE_OUTPUTS_ENV = "ROUTE_OUTPUTS"
OUTPUT_SECRETS_ENV = "OUTPUT_SECRETS"
# Kept back from the outputs' budget for the publishes that follow them (the down page, a reroute).
PUBLISH_RESERVE_SECONDS = 5.0
MIN_BUDGET_SECONDS = 1.0
MAX_BUDGET_SECONDS = 20.0  # vigil.outputs.delivery.DEFAULT_BUDGET_SECONDS: the notifier runs for 30 s

logger = logging.getLogger(__name__)


@functools.cache
def route_outputs(text: str) -> dict[str, list[OutputConfig]]:
    """Each route's outputs; {} without any, or (an error logged) when the stack wrote what this code
    cannot read: e-mail and SMS must still go out."""
    if not text:
        return {}
    from pydantic import TypeAdapter

    from vigil.outputs.config import OutputConfig

    try:
        return TypeAdapter(dict[str, list[OutputConfig]]).validate_json(text)
    except ValidationError as exc:
        logger.error("%s is not a map of route outputs: %s", ROUTE_OUTPUTS_ENV, str(exc)[:500])
        return {}


@functools.cache
def output_secrets(text: str) -> dict[str, str]:
    """Catalog secret name → Secrets Manager id; {} (an error logged) when unreadable: the outputs then
    fail with "not in this function's secrets" and page the self-monitoring route."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        logger.error("%s is not a JSON object of secret ids", OUTPUT_SECRETS_ENV)
        return {}
    return value


def delivered_mark(route: str, output: str) -> str:
    return f"output:{route}/{output}"


def down_mark(route: str, output: str) -> str:
    return f"!down:{route}/{output}"


def budget(remaining_seconds: float | None) -> float:
    """The outputs' share of the invocation's remaining time."""
    if remaining_seconds is None:
        return MAX_BUDGET_SECONDS
    return max(MIN_BUDGET_SECONDS, min(MAX_BUDGET_SECONDS, remaining_seconds - PUBLISH_RESERVE_SECONDS))


@dataclass(frozen=True)
class Routed:
    """One output of one route, as deliver_all runs it: its name there is `<route>/<name>`."""

    route: str
    output: BaseOutput[Any]

    @property
    def key(self) -> tuple[str, str]:
        return self.route, self.output.config.label


@dataclass(frozen=True)
class Outcome:
    alert: Alert
    report: DeliveryReport
    ran: list[Routed]

    def delivered(self) -> list[tuple[str, str]]:
        return [r.key for r, d in zip(self.ran, self.report.deliveries, strict=True) if d.ok]

    def failed(self) -> list[tuple[str, str]]:
        return [r.key for r, d in zip(self.ran, self.report.deliveries, strict=True) if not d.ok]


def pending(routes: Sequence[str], done: frozenset[str]) -> list[tuple[str, OutputConfig]]:
    """(route, output settings) of every output of these routes that has not delivered yet."""
    configured = route_outputs(os.environ.get(ROUTE_OUTPUTS_ENV, ""))
    return [
        (route, config)
        for route in dict.fromkeys(routes)
        for config in configured.get(route, [])
        if delivered_mark(route, config.label) not in done
    ]


def run_outputs(
    event: AlarmEvent,
    notification: Notification,
    todo: list[tuple[str, OutputConfig]],
    *,
    environment: str,
    links: LinkContext,
    budget_seconds: float,
    repeat: bool = False,
) -> Outcome | None:
    """Deliver one state change to these outputs; None when there is nothing to deliver (no output, or
    INSUFFICIENT_DATA). Never raises for an output's failure: that is in the report."""
    if not todo:
        return None
    from vigil import secrets
    from vigil.outputs import build_outputs
    from vigil.outputs.alert import build_alert
    from vigil.outputs.delivery import deliver_all

    alert = build_alert(event, notification, environment=environment, links=links, repeat=repeat)
    if alert is None:
        return None
    resolve = secrets.resolver(output_secrets(os.environ.get(OUTPUT_SECRETS_ENV, "")))
    ran = [
        Routed(route, output)
        for (route, _), output in zip(todo, build_outputs([c for _, c in todo], resolve), strict=True)
    ]
    report = deliver_all([r.output for r in ran], alert, budget=budget_seconds)
    return Outcome(alert=alert, report=report, ran=ran)


def down_page(outcome: Outcome, already: frozenset[str]) -> tuple[Notification | None, list[str]]:
    """The self-monitoring page for the outputs that failed and were not paged about yet, and the marks
    to record once it is published."""
    fresh = [
        (routed, result)
        for routed, result in zip(outcome.ran, outcome.report.deliveries, strict=True)
        if not result.ok and down_mark(*routed.key) not in already
    ]
    if not fresh:
        return None, []
    from vigil.outputs.delivery import DeliveryReport, down_notification

    report = DeliveryReport(correlation_id=outcome.report.correlation_id, deliveries=[d for _, d in fresh])
    return down_notification(report, outcome.alert), [down_mark(*routed.key) for routed, _ in fresh]
