"""Alert: what every output needs to know about one alarm state change, built from the notifier's types.

The notifier parses an AlarmEvent and renders a Notification (e-mail and SMS); `build_alert` turns
the two into an Alert, the one input of every output. It is pure: no clock, no AWS call.

The correlation id names the thing that is wrong, not the event: environment + check + signal.
ServiceNow finds the open incident by it and PagerDuty deduplicates on it, so an ALARM, its
repeats and its OK all land on the same incident, and a composite `-page` alarm (inhibition) and
the metric alarm it pages for share one. Both systems bound its length (ServiceNow's base
`task.correlation_id` column holds 100 characters, PagerDuty's dedup_key 255), so a long id keeps
a readable head and ends with a hash of the whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from vigil.notifier.events import AlarmEvent, AlarmState
from vigil.notifier.render import (
    LinkContext,
    Notification,
    alarm_url,
    dashboard_url,
    iso_utc,
    number,
    title,
    value_line,
)

CORRELATION_LIMIT = 100
_CORRELATION_SAFE = re.compile(r"[^A-Za-z0-9._/-]+")
# An alarm vigil did not build has no severity of its own: it is treated as the worse one.
UNKNOWN_SEVERITY = "critical"


class Alert(BaseModel):
    model_config = ConfigDict(frozen=True)

    correlation_id: str
    environment: str
    state: Literal["ALARM", "OK"]
    alarm_name: str
    check: str
    signal: str
    service: str
    severity: str
    title: str  # "campaign-api-health down"
    summary: str = ""  # what the signal means: "the health endpoint does not answer as expected"
    value: float | None = None
    threshold: float | None = None
    comparison: str | None = None  # ">", ">=", "<", "<="
    unit: str = ""
    value_text: str = ""  # "latest value 0 (rule: < 1 for 2 of 2 minutes)"
    since: datetime | None = None
    runbook: str | None = None
    alarm_url: str | None = None
    dashboard_url: str | None = None
    details: str = ""  # the full e-mail text: ServiceNow's description, the webhook's details
    repeat: bool = False  # a re-notification of an alarm still in ALARM
    group: tuple[Alert, ...] = ()  # the other alarm changes notified together with this one

    def members(self) -> list[Alert]:
        """This alert and each grouped one, on their own: what outputs that keep state act on."""
        return [self.model_copy(update={"group": ()}), *self.group]

    @property
    def value_vs_threshold(self) -> str:
        """'0 < 1' or '1520 messages' or ''."""
        if self.value is None:
            return ""
        value = f"{number(self.value)}{' ' + self.unit if self.unit else ''}"
        if self.threshold is None or self.comparison is None:
            return value
        return f"{value} {self.comparison} {number(self.threshold)}"

    @property
    def brief(self) -> str:
        """One line per alarm of a group: 'ALARM campaign-api-health down: 0 < 1'."""
        value = self.value_vs_threshold or self.value_text
        return f"{self.state} {self.title}" + (f": {value}" if value else "")

    def facts(self) -> list[tuple[str, str]]:
        """Label and value pairs for chat cards: what on-call reads first."""
        facts = [("Service", self.service), ("Severity", self.severity), ("Value", self.value_text)]
        if self.since:
            facts.append(("Recovered at" if self.state == "OK" else "Since", iso_utc(self.since)))
        facts.append(("Environment", self.environment))
        return [(label, value) for label, value in facts if value]

    def links(self) -> list[tuple[str, str]]:
        """(text, URL) for the runbook, the alarm and the dashboard, those that exist."""
        found = (("Runbook", self.runbook), ("Alarm", self.alarm_url), ("Dashboard", self.dashboard_url))
        return [(text, url) for text, url in found if url]

    @property
    def headline(self) -> str:
        """One line for chat titles and incident summaries: 'ALARM critical: campaign-api-health down (prod)'."""
        if self.state == "OK":
            return f"OK: {self.title} recovered ({self.environment})"
        still = " (still)" if self.repeat else ""
        return f"ALARM{still} {self.severity}: {self.title} ({self.environment})"


def correlation_id(environment: str, check: str, signal: str) -> str:
    """'vigil/prod/campaign-api-health/down'; a long or unusual one gets a readable head and a hash."""
    raw = f"vigil/{environment}/{check}/{signal}"
    if len(raw) <= CORRELATION_LIMIT and not _CORRELATION_SAFE.search(raw):
        return raw
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]
    head = _CORRELATION_SAFE.sub("-", raw)[: CORRELATION_LIMIT - len(digest) - 1]
    return f"{head}~{digest}"


def build_alert(
    event: AlarmEvent, notification: Notification, *, environment: str, links: LinkContext, repeat: bool = False
) -> Alert | None:
    """The Alert for an ALARM or OK; None for INSUFFICIENT_DATA, which opens or closes nothing."""
    if event.state == AlarmState.insufficient_data:
        return None
    meta = event.meta
    check, signal = (meta.check, meta.signal) if meta else (event.alarm_name, "alarm")
    region = event.region or links.console_region
    return Alert(
        correlation_id=correlation_id(environment, check, signal),
        environment=environment,
        state=event.state.value,
        alarm_name=event.alarm_name,
        check=check,
        signal=signal,
        service=meta.service if meta else "",
        severity=meta.severity if meta else UNKNOWN_SEVERITY,
        title=title(event),
        summary=meta.summary if meta else event.description.strip(),
        value=None if event.is_composite else event.latest_value,
        threshold=event.threshold,
        comparison=event.comparison_symbol,
        unit=meta.unit if meta else "",
        value_text=value_line(event),
        since=event.state_time,
        runbook=meta.runbook if meta else None,
        alarm_url=alarm_url(region, event.alarm_name),
        dashboard_url=dashboard_url(region, links.dashboard_name),
        details=notification.email,
        repeat=repeat and event.state == AlarmState.alarm,
    )


def grouped(alerts: Sequence[Alert]) -> Alert:
    """One alert carrying the others of a group (the first leads: its headline titles chat messages)."""
    if not alerts:
        raise ValueError("a group needs at least one alert")
    first, *others = alerts
    return first.model_copy(update={"group": tuple(a.model_copy(update={"group": ()}) for a in others)})
