"""AlarmEvent → Notification (email subject and body, SMS text). Pure: no AWS calls, no clock.

Channel limits shape the text:
- SNS Subject: UTF-8 without line breaks or control characters, under 100 characters. We keep it
  ASCII too, because mail clients and older SNS validation mangle anything else.
- SMS: 160 characters is one GSM-7 segment. One character outside GSM-7 (an em dash, an ellipsis)
  switches the whole text to UCS-2, whose segment is 70 characters, so SMS text is folded to
  ASCII and kept clear of GSM's two-septet characters ([]{}|^~\\).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from vigil.notifier.events import AlarmEvent, AlarmState, Salvage, salvage
from vigil.notifier.evidence import Evidence
from vigil.text import REASON_LIMIT, one_line

SUBJECT_LIMIT = 99  # SNS: "less than 100 characters"
SMS_LIMIT = 160

_TAGS = {AlarmState.alarm: "ALARM", AlarmState.ok: "OK", AlarmState.insufficient_data: "NO DATA"}
_SMS_TAGS = {AlarmState.alarm: "ALARM", AlarmState.ok: "OK", AlarmState.insufficient_data: "NODATA"}
_STATE_WORDS = {
    AlarmState.alarm: "in alarm",
    AlarmState.ok: "OK",
    AlarmState.insufficient_data: "without data",
}


class LinkContext(BaseModel):
    """Where the console links point. console_region is used when the event names no region."""

    model_config = ConfigDict(frozen=True)

    console_region: str | None = None
    dashboard_name: str | None = None


class Notification(BaseModel):
    model_config = ConfigDict(frozen=True)

    alarm_name: str | None
    state: str | None
    subject: str
    email: str
    sms: str


# --- text helpers ---------------------------------------------------------------------------------


def number(value: float) -> str:
    """1520.0 → "1520", 99.50160229 → "99.5016": readable on a phone, exact enough to act on."""
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1e15 or abs(value) < 1e-4:
        return f"{value:.3e}"
    return f"{value:.4f}".rstrip("0").rstrip(".")


def duration(seconds: float) -> str:
    """Two largest units: "45s", "12m 5s", "1h 12m", "3d 4h"."""
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_utc(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc:%H:%M} UTC, {utc:%a} {utc.day} {utc:%b %Y}"


def ascii_fold(text: str) -> str:
    """Typographic characters to their ASCII look-alikes; anything else non-ASCII dropped."""
    text = text.translate(_ASCII_LOOKALIKES)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def shorten(text: str, limit: int, marker: str = "...") -> str:
    """At most `limit` characters; cut at a word or slug boundary near the end rather than mid-word."""
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return text[:limit]
    room = limit - len(marker)
    cut = text[:room]
    boundary = max(cut.rfind(" "), cut.rfind("-"), cut.rfind("/"), cut.rfind(","))
    if boundary >= room * 2 // 3:  # only back off if little is lost
        cut = cut[:boundary]
    return cut.rstrip(" -/,.:;") + marker


_ASCII_LOOKALIKES = str.maketrans(
    {
        "—": "-",
        "–": "-",
        "−": "-",
        "…": "...",
        "→": "->",
        "←": "<-",
        "≥": ">=",
        "≤": "<=",
        "×": "x",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "\u00a0": " ",
    }
)
# GSM-7 extension characters cost two septets each; swap them for basic-set look-alikes.
_GSM_EXTENSION = str.maketrans({"[": "(", "]": ")", "{": "(", "}": ")", "|": "/", "^": "", "~": "-", "\\": "/"})
_GSM_NOT_AT_ALL = str.maketrans({"`": "'"})


def sms_safe(text: str) -> str:
    # Whitespace collapsed but not stripped: callers join pieces that carry their own spaces.
    return re.sub(r"\s+", " ", ascii_fold(text).translate(_GSM_EXTENSION).translate(_GSM_NOT_AT_ALL))


def sms_url(url: str) -> str:
    """A URL in GSM-7 without changing where it points: percent-encode, never fold."""
    encoded = quote(url.strip(), safe=":/?#@!$&'()*+,;=%")
    # quote() keeps "~", a GSM-7 extension character; %7E is the same URL (RFC 3986, 2.3).
    return encoded.replace("~", "%7E")


def subject_safe(text: str) -> str:
    return one_line("".join(ch for ch in ascii_fold(text) if ch.isprintable()))


# --- links ----------------------------------------------------------------------------------------


def _console_region(event: AlarmEvent | None, links: LinkContext) -> str | None:
    return (event.region if event else None) or links.console_region


def console_base(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"


def alarm_url(region: str | None, alarm_name: str) -> str | None:
    if not region:
        return None
    return f"{console_base(region)}#alarmsV2:alarm/{quote(alarm_name, safe='')}"


def dashboard_url(region: str | None, dashboard: str | None) -> str | None:
    if not region or not dashboard:
        return None
    return f"{console_base(region)}#dashboards/dashboard/{quote(dashboard, safe='')}"


# --- what the alarm says --------------------------------------------------------------------------


def title(event: AlarmEvent) -> str:
    """ "campaign-api-health down" for vigil alarms, the alarm name for anyone else's."""
    if event.meta:
        return f"{event.meta.check} {event.meta.signal}"
    return event.alarm_name


def _unit(event: AlarmEvent) -> str:
    return f" {event.meta.unit}" if event.meta and event.meta.unit else ""


def rule_text(event: AlarmEvent) -> str | None:
    """The rule in words: vigil's own wording, else what CloudWatch told us."""
    if event.meta and event.meta.rule:
        return event.meta.rule
    if event.threshold is None:
        return None
    unit = _unit(event)
    text = f"{event.comparison_symbol or 'vs'} {number(event.threshold)}{unit}"
    if event.datapoints_to_alarm and event.evaluation_periods:
        text += f" for {event.datapoints_to_alarm} of {event.evaluation_periods} periods"
    elif event.evaluation_periods:
        text += f" for {event.evaluation_periods} period{'s' if event.evaluation_periods > 1 else ''}"
    return text


def value_line(event: AlarmEvent) -> str:
    """'latest value 1520 messages (rule: > 500 messages for 3 of 3 minutes)'."""
    latest = event.latest_value
    unit = _unit(event)
    if event.is_composite:
        # A composite watches alarms, not a metric: the value is in its child, one click away.
        value = f"see metric alarm {', '.join(event.children) or 'in the rule below'}"
    elif latest is not None:
        value = f"latest value {number(latest)}{unit}"
    else:
        value = "no recent datapoints"
    rule = rule_text(event)
    return f"{value} (rule: {rule})" if rule else value


def _short_rule(event: AlarmEvent) -> str:
    """'0 <1' for SMS: the value right against the threshold; '> 500 messages' for a composite."""
    if event.is_composite:
        return event.meta.rule.split(" for ", 1)[0] if event.meta and event.meta.rule else "breached"
    latest = event.latest_value
    value = number(latest) if latest is not None else "no data"
    if event.threshold is None or event.comparison_symbol is None:
        return value
    return f"{value} {event.comparison_symbol}{number(event.threshold)}"


def time_in_previous_state(event: AlarmEvent) -> float | None:
    if event.state_time is None or event.previous_state_time is None:
        return None
    seconds = (event.state_time - event.previous_state_time).total_seconds()
    return seconds if seconds >= 0 else None


# --- channels -------------------------------------------------------------------------------------


def render(event: AlarmEvent, links: LinkContext, evidence: Evidence | None = None) -> Notification:
    return Notification(
        alarm_name=event.alarm_name,
        state=event.state.value,
        subject=render_subject(event),
        email=render_email(event, links, evidence),
        sms=render_sms(event),
    )


def render_subject(event: AlarmEvent) -> str:
    tag = f"[{_TAGS[event.state]}]"
    if event.meta:
        tag += f"[{event.meta.severity}]"
    name = title(event)
    recovered = " recovered" if event.state == AlarmState.ok else ""
    service = f" - {event.meta.service}" if event.meta else ""
    full = subject_safe(f"{tag} {name}{recovered}{service}")
    if len(full) <= SUBJECT_LIMIT:
        return full
    # The name says which alarm; the service is the first thing to give up.
    head = subject_safe(tag) + " "
    return head + shorten(subject_safe(f"{name}{recovered}"), SUBJECT_LIMIT - len(head))


def render_email(event: AlarmEvent, links: LinkContext, evidence: Evidence | None = None) -> str:
    meta = event.meta
    state = event.state
    lines: list[str] = []
    name = title(event)
    if state == AlarmState.alarm:
        lines.append(f"ALARM: {name}")
    elif state == AlarmState.ok:
        lines.append(f"RECOVERED: {name} is OK again")
    else:
        lines.append(f"NO DATA: {name} has no data to evaluate")
    lines.append("")

    facts: list[tuple[str, str]] = []
    if meta:
        facts += [("Check", meta.check), ("Signal", meta.signal), ("Service", meta.service)]
        if meta.kind:
            facts.append(("Kind", meta.kind))
        facts.append(("Severity", meta.severity))
    previous = event.previous_state.value if event.previous_state else "?"
    facts.append(("State", f"{previous} -> {state.value}"))
    if meta and meta.summary:
        facts.append(("Signal means", meta.summary))
    facts.append(("Value", value_line(event)))
    if event.state_time:
        label = "Recovered at" if state == AlarmState.ok else "Since"
        facts.append((label, f"{iso_utc(event.state_time)} ({human_utc(event.state_time)})"))
    spent = time_in_previous_state(event)
    if spent is not None and event.previous_state is not None:
        facts.append(("Before that", f"{_STATE_WORDS[event.previous_state]} for {duration(spent)}"))
    if state == AlarmState.insufficient_data and event.treat_missing_data:
        facts.append(("Missing data", f"treated as {event.treat_missing_data}"))
    inhibition = _inhibition_fact(event)
    if inhibition:
        facts.append(("Inhibited by", inhibition))
    width = max(len(label) for label, _ in facts) + 2
    lines += [f"{label + ':':<{width}}{value}" for label, value in facts]
    if evidence is not None:
        lines += ["", *evidence_lines(evidence)]

    if event.description.strip():
        lines += ["", "Description:", _indent(event.description.strip())]
    if meta and meta.runbook:
        lines += ["", f"Runbook: {meta.runbook}"]
    if event.reason:
        lines += ["", "Reason from CloudWatch:", _indent(event.reason)]

    region = _console_region(event, links)
    link_lines = []
    url = alarm_url(region, event.alarm_name)
    if url:
        link_lines.append(f"  Alarm:     {url}")
    for child in event.children:
        url = alarm_url(region, child)
        if url:
            link_lines.append(f"  Metric:    {url}")
    url = dashboard_url(region, links.dashboard_name)
    if url:
        link_lines.append(f"  Dashboard: {url}")
    if link_lines:
        lines += ["", "Links:", *link_lines]

    where = ", ".join(p for p in (f"account {event.account}" if event.account else "", event.region or "") if p)
    lines += ["", "--", f"Alarm {event.alarm_name}" + (f" ({where})" if where else "")]
    if event.metric_name:
        metric = f"{event.namespace}/{event.metric_name}" if event.namespace else event.metric_name
        stat = f" {event.statistic}" if event.statistic else ""
        period = f" over {duration(event.period)}" if event.period else ""
        lines.append(f"Metric {metric}{stat}{period}")
    if event.alarm_rule:
        lines.append(f"Composite rule {event.alarm_rule}")
    return "\n".join(lines) + "\n"


def evidence_lines(evidence: Evidence) -> list[str]:
    """The checker's own words from its last run before the alarm: its reason and its samples."""
    outcome = "could not measure" if evidence.status == "failed" else "measured"
    lines = [
        f"Last check run ({iso_utc(evidence.at)}): {outcome}" + (f": {evidence.reason}" if evidence.reason else "")
    ]
    if evidence.samples:
        lines.append("Samples:")
        lines += [f"  - {sample}" for sample in evidence.samples]
    return lines


def _inhibition_fact(event: AlarmEvent) -> str | None:
    """Why on-call may hear of this signal late, or only now: its ALARM pages wait for an inhibitor."""
    suppressor = (event.meta.inhibited_by if event.meta else None) or event.actions_suppressor
    if not suppressor:
        return None
    if event.actions_suppressed_by:
        return f"{suppressor}; these actions were held back ({event.actions_suppressed_by})"
    if event.state == AlarmState.ok:
        return (
            f"{suppressor}; while it is in ALARM this signal's ALARM pages are held back, "
            "so this recovery may be the first you hear of it"
        )
    return f"{suppressor}, which was not in ALARM; while it is, this signal's ALARM pages wait (recoveries never do)"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def render_sms(event: AlarmEvent) -> str:
    """One GSM-7 segment: state, severity, what, value against threshold, when; runbook if it fits."""
    meta = event.meta
    tag = _SMS_TAGS[event.state]
    severity = f" {_short_severity(meta.severity)}" if meta else ""
    head = sms_safe(f"{tag}{severity} ")
    name = sms_safe(title(event))
    at = event.state_time.astimezone(UTC).strftime("%H:%MZ") if event.state_time else None

    if event.state == AlarmState.ok:
        tail = " recovered"
        if at:
            tail += f" {at}"
        spent = time_in_previous_state(event)
        if spent is not None and event.previous_state is not None:
            tail += f" after {duration(spent).replace(' ', '')} {_STATE_WORDS[event.previous_state]}"
        latest = event.latest_value
        if latest is not None:
            tail += f", now {number(latest)}"
        tail += "."
    elif event.state == AlarmState.insufficient_data:
        tail = f": no data since {at}." if at else ": no data."
    else:
        tail = f": {_short_rule(event)}" + (f" since {at}." if at else ".")
    tail = sms_safe(tail)

    extras: list[str] = []
    if meta and meta.runbook and event.state != AlarmState.ok:
        # A URL is useful whole or not at all: it is added only if it fits entire.
        extras.append(f" runbook: {sms_url(meta.runbook)}")
    return fit_sms(head, name, tail, extras)


def fit_sms(head: str, name: str, tail: str, extras: list[str], limit: int = SMS_LIMIT) -> str:
    """head + name + tail within limit, the name giving way first; extras kept only if whole."""
    room = limit - len(head) - len(tail)
    if room < 12:  # a pathological tail: keep a readable name and shorten the tail instead
        room = min(len(name), 40)
        tail = shorten(tail, max(limit - len(head) - room, 0))
    text = head + shorten(name, max(room, 0)) + tail
    text = shorten(text, limit)
    for extra in extras:
        if len(text) + len(extra) <= limit:
            text += extra
    return text.strip()


def _short_severity(severity: str) -> str:
    return {"critical": "crit", "warning": "warn"}.get(severity, severity[:4])


# --- the plain fallback ---------------------------------------------------------------------------


def render_fallback(
    raw_event: Any, error: BaseException | str | None, links: LinkContext | None = None, found: Salvage | None = None
) -> Notification:
    """A plain message naming the alarm and state if they can be found; never raises.

    `found`: what `salvage(raw_event)` gave, when the caller already has it (it walks the whole input).
    """
    try:
        return _render_fallback(found or salvage(raw_event), error, links or LinkContext())
    except Exception:
        text = "vigil notifier: unparseable alarm event (and the fallback itself failed). See the notifier logs."
        return Notification(
            alarm_name=None, state=None, subject="[vigil] unparseable alarm event", email=text, sms=text
        )


def _render_fallback(found: Salvage, error: BaseException | str | None, links: LinkContext) -> Notification:
    problem = _error_text(error)
    if found.name:
        state = found.state or "unknown state"
        what = f"alarm {found.name} is {state}"
        subject = subject_safe(f"[{found.state or 'ALARM?'}][fallback] {found.name}")
    else:
        what = "unparseable alarm event"
        subject = "[vigil] unparseable alarm event"
    lines = [
        f"vigil notifier: {what}.",
        "",
        "The full notification could not be rendered, so this plain message was sent instead.",
        f"Problem: {problem}",
    ]
    if found.meta:
        lines.append(f"Check {found.meta.check}, signal {found.meta.signal}, service {found.meta.service}.")
        if found.meta.runbook:
            lines.append(f"Runbook: {found.meta.runbook}")
    url = alarm_url(found.region or links.console_region, found.name) if found.name else None
    if url:
        lines.append(f"Alarm: {url}")
    lines.append("Details are in the notifier's logs.")
    email = "\n".join(lines) + "\n"
    # The same plain text on every channel; its first sentence carries what an SMS needs.
    sms = shorten(sms_safe(email).strip(), SMS_LIMIT)
    return Notification(
        alarm_name=found.name,
        state=found.state,
        subject=shorten(subject, SUBJECT_LIMIT),
        email=email,
        sms=sms,
    )


def _error_text(error: BaseException | str | None) -> str:
    if error is None:
        return "unknown"
    if not isinstance(error, BaseException):
        return shorten(one_line(str(error)), REASON_LIMIT)
    try:
        lines = str(error).splitlines()
    except Exception:  # an exception whose __str__ fails must not cost us the alarm's name
        lines = []
    name = type(error).__name__
    return shorten(one_line(f"{name}: {lines[0]}" if lines else name), REASON_LIMIT)


# --- SNS --------------------------------------------------------------------------------------------


def sns_message(notification: Notification) -> tuple[str, str]:
    """(Subject, Message) for Publish with MessageStructure=json: email and SMS from one publish."""
    body = {"default": notification.email, "email": notification.email, "sms": notification.sms}
    return notification.subject, json.dumps(body, ensure_ascii=False)
