"""AlarmEvent → Notification (email subject and body, SMS text). Pure: no AWS calls, no clock.

Channel limits shape the text:
- SNS Subject: "UTF-8 text with no line breaks or control characters, and less than 100 characters
  long" (SNS API reference, Publish). A name in any script is kept; its length is counted in
  UTF-16 units so an emoji never tips it over.
- SMS: one segment, GSM-7 (160) when the text allows it, UCS-2 (70) when it does not (vigil.notifier.sms).
- The e-mail body is bounded (the reason, the rule, the whole body) so a Publish stays far below
  SNS's 256 KB, and every control character except its own line breaks is dropped.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from vigil.notifier import sms as gsm
from vigil.notifier.ecs_evidence import EcsEvidence
from vigil.notifier.events import AlarmEvent, AlarmState, Salvage, salvage
from vigil.notifier.evidence import Evidence
from vigil.notifier.sanitize import multi_line, single_line
from vigil.text import REASON_LIMIT, clip

SUBJECT_LIMIT = 99  # SNS: "less than 100 characters"
# CloudWatch keeps a state reason within 1,023 characters (SetAlarmState, StateReason); anything
# longer did not come from CloudWatch and is cut. The same bound holds the composite rule shown.
EMAIL_REASON_LIMIT = 1024
EMAIL_CHILDREN_SHOWN = 10
# SNS takes 256 KB per Publish (262,144 bytes, the JSON structure included). 64 KiB of UTF-8 body
# stays below it even if JSON escaping doubled every byte, with room for the SMS beside it.
EMAIL_BYTES_LIMIT = 64 * 1024

_TAGS = {AlarmState.alarm: "ALARM", AlarmState.ok: "OK", AlarmState.insufficient_data: "NO DATA"}
_SMS_TAGS = {AlarmState.alarm: "ALARM", AlarmState.ok: "OK", AlarmState.insufficient_data: "NODATA"}
_STATE_WORDS = {
    AlarmState.alarm: "in alarm",
    AlarmState.ok: "OK",
    AlarmState.insufficient_data: "without data",
}


class LinkContext(BaseModel):
    """Where the console links point.

    stack_region: the region of vigil's stack, where its dashboard lives (passed to the function by
    the stack); an alarm link uses the alarm's own region and falls back to it.
    """

    model_config = ConfigDict(frozen=True)

    stack_region: str | None = None
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


def _continues(ch: str) -> bool:
    """A character that belongs to the one before it: a combining mark, a joiner, a selector, a skin tone."""
    return ch in "\u200d\ufe0e\ufe0f" or 0x1F3FB <= ord(ch) <= 0x1F3FF or unicodedata.combining(ch) > 0


def _prefix(text: str, limit: int, measure: Callable[[str], int]) -> str:
    """The longest prefix within `limit`, never ending inside a character cluster."""
    used = cut = 0
    for ch in text:
        used += measure(ch)
        if used > limit:
            break
        cut += 1
    while 0 < cut < len(text) and (_continues(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    return text[:cut]


def shorten(text: str, limit: int, marker: str = "...", measure: Callable[[str], int] = len) -> str:
    """At most `limit` (as `measure` counts); cut at a word or slug boundary near the end rather than mid-word."""
    if measure(text) <= limit:
        return text
    if limit <= measure(marker):
        return _prefix(text, limit, measure)
    cut = _prefix(text, limit - measure(marker), measure)
    boundary = max(cut.rfind(" "), cut.rfind("-"), cut.rfind("/"), cut.rfind(","))
    if boundary >= len(cut) * 2 // 3:  # only back off if little is lost
        cut = cut[:boundary]
    return cut.rstrip(" -/,.:;") + marker


def sms_url(url: str) -> str:
    """A URL in GSM-7 without changing where it points: percent-encode, never fold."""
    encoded = quote(url.strip(), safe=":/?#@!$&'()*+,;=%")
    # quote() keeps "~", a GSM-7 extension character; %7E is the same URL (RFC 3986, 2.3).
    return encoded.replace("~", "%7E")


def subject_safe(text: str) -> str:
    return single_line(text)


def clip_utf8(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, cut at a character, marked when cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    marker = "\n[... cut to stay within the message size limit]\n"
    return data[: limit - len(marker.encode())].decode("utf-8", errors="ignore") + marker


# --- links ----------------------------------------------------------------------------------------


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


def _children(event: AlarmEvent) -> list[str]:
    return event.children[:EMAIL_CHILDREN_SHOWN]


def value_line(event: AlarmEvent) -> str:
    """'latest value 1520 messages (rule: > 500 messages for 3 of 3 minutes)'."""
    latest = event.latest_value
    unit = _unit(event)
    if event.is_composite:
        # A composite watches alarms, not a metric: the value is in its child, one click away.
        names = ", ".join(_children(event))
        more = len(event.children) - EMAIL_CHILDREN_SHOWN
        value = f"see metric alarm {names + (f' and {more} more' if more > 0 else '') or 'in the rule below'}"
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


def render(event: AlarmEvent, links: LinkContext, evidence: Evidence | EcsEvidence | None = None) -> Notification:
    hint = evidence.sms_hint(event.meta.signal) if isinstance(evidence, EcsEvidence) and event.meta else None
    return Notification(
        alarm_name=event.alarm_name,
        state=event.state.value,
        subject=render_subject(event),
        email=render_email(event, links, evidence),
        sms=render_sms(event, hint),
    )


def render_subject(event: AlarmEvent) -> str:
    tag = f"[{_TAGS[event.state]}]"
    if event.meta:
        tag += f"[{event.meta.severity}]"
    name = title(event)
    recovered = " recovered" if event.state == AlarmState.ok else ""
    service = f" - {subject_safe(event.meta.service)}" if event.meta else ""
    return fit_subject(subject_safe(tag) + " ", subject_safe(f"{name}{recovered}"), service)


def fit_subject(head: str, name: str, tail: str = "") -> str:
    """head + name + tail within SNS's limit; the tail gives way first, then the name is shortened."""
    full = head + name + tail
    if gsm.utf16_units(full) <= SUBJECT_LIMIT:
        return full
    return head + shorten(name, SUBJECT_LIMIT - gsm.utf16_units(head), measure=gsm.utf16_units)


def render_email(event: AlarmEvent, links: LinkContext, evidence: Evidence | EcsEvidence | None = None) -> str:
    meta = event.meta
    state = event.state
    lines: list[str] = []
    name = single_line(title(event))
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
    # A fact is one line whatever its value holds: a newline in a name must not forge a line.
    lines += [f"{label + ':':<{width}}{single_line(value)}" for label, value in facts]
    if isinstance(evidence, EcsEvidence):
        lines += ["", *evidence.email_lines()]
    elif evidence is not None:
        lines += ["", *evidence_lines(evidence)]

    if event.description.strip():
        lines += ["", "Description:", _indent(clip(event.description.strip(), EMAIL_REASON_LIMIT))]
    if meta and meta.runbook:
        lines += ["", f"Runbook: {single_line(meta.runbook)}"]
    if event.reason:
        lines += ["", "Reason from CloudWatch:", _indent(clip(event.reason, EMAIL_REASON_LIMIT))]

    link_lines = []
    url = alarm_url(event.region or links.stack_region, event.alarm_name)
    if url:
        link_lines.append(f"  Alarm:     {url}")
    for child in _children(event):
        url = alarm_url(event.region or links.stack_region, child)
        if url:
            link_lines.append(f"  Metric:    {url}")
    # The dashboard is the stack's, in the stack's region, whichever region the alarm is in.
    url = dashboard_url(links.stack_region, links.dashboard_name)
    if url:
        link_lines.append(f"  Dashboard: {url}")
    if link_lines:
        lines += ["", "Links:", *link_lines]

    where = ", ".join(p for p in (f"account {event.account}" if event.account else "", event.region or "") if p)
    lines += ["", "--", single_line(f"Alarm {event.alarm_name}") + (f" ({where})" if where else "")]
    if event.metric_name:
        metric = f"{event.namespace}/{event.metric_name}" if event.namespace else event.metric_name
        stat = f" {event.statistic}" if event.statistic else ""
        period = f" over {duration(event.period)}" if event.period else ""
        lines.append(single_line(f"Metric {metric}{stat}{period}"))
    if event.alarm_rule:
        lines.append(single_line(f"Composite rule {clip(event.alarm_rule, EMAIL_REASON_LIMIT)}"))
    return clip_utf8(multi_line("\n".join(lines) + "\n"), EMAIL_BYTES_LIMIT)


def evidence_lines(evidence: Evidence) -> list[str]:
    """The checker's own words from its last run before the alarm: its reason and its samples."""
    outcome = "could not measure" if evidence.status == "failed" else "measured"
    reason = f": {single_line(evidence.reason)}" if evidence.reason else ""
    lines = [f"Last check run ({iso_utc(evidence.at)}): {outcome}{reason}"]
    if evidence.samples:
        lines.append("Samples:")
        lines += [f"  - {single_line(sample)}" for sample in evidence.samples]
    return lines


def _inhibition_fact(event: AlarmEvent) -> str | None:
    """Why on-call may hear of this signal late, or only now: its ALARM pages wait for an inhibitor."""
    suppressor = (event.meta.inhibited_by if event.meta else None) or event.actions_suppressor
    if not suppressor:
        return None
    if event.actions_suppressed_by:
        return f"{suppressor}; these actions were held back ({event.actions_suppressed_by})"
    if event.state == AlarmState.ok:
        # Sent at all means its ALARM was paged (vigil.notifier.inhibition drops the others).
        return f"{suppressor}; while it is in ALARM this signal's ALARM pages are held back"
    return f"{suppressor}, which was not in ALARM when this page was due; while it is, this signal's ALARM pages wait"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in multi_line(text).splitlines())


def render_sms(event: AlarmEvent, hint: str | None = None) -> str:
    """One segment: state, severity, what, value against threshold, when; then, each only if it fits
    whole, a hint of why (an ECS task's "exit 137 OutOfMemoryError") and the runbook."""
    meta = event.meta
    tag = _SMS_TAGS[event.state]
    severity = f" {_short_severity(meta.severity)}" if meta else ""
    head = gsm.fold(f"{tag}{severity}") + " "
    name = gsm.fold(title(event))
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
    tail = (" " if tail.startswith(" ") else "") + gsm.fold(tail)

    extras: list[str] = []
    if hint and event.state == AlarmState.alarm:
        extras.append(" " + gsm.fold(single_line(hint)).rstrip(".") + ".")
    if meta and meta.runbook and event.state != AlarmState.ok:
        # A URL is useful whole or not at all: it is added only if it fits entire.
        extras.append(f" runbook: {sms_url(meta.runbook)}")
    return fit_sms(head, name, tail, extras)


def fit_sms(head: str, name: str, tail: str, extras: list[str]) -> str:
    """head + name + tail in one segment, the name giving way first; extras kept only if whole.

    The segment is GSM-7's 160 septets, or UCS-2's 70 units as soon as one character needs it.
    """
    encoding, limit = gsm.room(head + name + tail)

    def measure(text: str) -> int:
        return gsm.units(text, encoding)

    room = limit - measure(head) - measure(tail)
    if room < limit // 13:  # a pathological tail: keep a readable name and shorten the tail instead
        room = min(measure(name), limit // 4)
        tail = shorten(tail, max(limit - measure(head) - room, 0), measure=measure)
    text = head + shorten(name, max(room, 0), measure=measure) + tail
    text = shorten(text, limit, measure=measure)
    for extra in extras:
        if measure(text + extra) <= limit:
            text += extra
    return text.strip()


def _short_severity(severity: str) -> str:
    return {"critical": "crit", "warning": "warn"}.get(severity, severity[:4])


# --- plain forms ----------------------------------------------------------------------------------


def render_fallback(
    raw_event: Any, error: BaseException | str | None, links: LinkContext | None = None, found: Salvage | None = None
) -> Notification:
    """A plain message naming the alarm and state if they can be found; never raises.

    `found`: what `salvage(raw_event)` gave, when the caller already has it (it walks the whole input).
    """
    try:
        return render_plain(
            found or salvage(raw_event),
            "The full notification could not be rendered, so this plain message was sent instead.",
            _error_text(error),
            links or LinkContext(),
        )
    except Exception:
        text = "vigil notifier: unparseable alarm event (and the fallback itself failed). See the notifier logs."
        return Notification(
            alarm_name=None, state=None, subject="[vigil] unparseable alarm event", email=text, sms=text
        )


def render_plain(found: Salvage, why: str, problem: str, links: LinkContext) -> Notification:
    """The smallest notification that still says which alarm is in which state, and why it is plain."""
    name = single_line(found.name) if found.name else None
    if name:
        state = found.state or "unknown state"
        what = f"alarm {name} is {state}"
        subject = fit_subject(subject_safe(f"[{found.state or 'ALARM?'}][fallback]") + " ", name)
    else:
        what = "unparseable alarm event"
        subject = "[vigil] unparseable alarm event"
    lines = [f"vigil notifier: {what}.", "", why, f"Problem: {single_line(problem)}"]
    if found.meta:
        lines.append(f"Check {found.meta.check}, signal {found.meta.signal}, service {found.meta.service}.")
        if found.meta.runbook:
            lines.append(f"Runbook: {found.meta.runbook}")
    url = alarm_url(found.region or links.stack_region, name) if name else None
    if url:
        lines.append(f"Alarm: {url}")
    lines.append("Details are in the notifier's logs.")
    email = multi_line("\n".join(lines) + "\n")
    # The same plain text on every channel; its first sentence carries what an SMS needs.
    text = gsm.fold(email)
    encoding, limit = gsm.room(text)
    return Notification(
        alarm_name=found.name,
        state=found.state,
        subject=subject,
        email=email,
        sms=shorten(text, limit, measure=lambda t: gsm.units(t, encoding)),
    )


def render_rerouted(notification: Notification, refused: dict[str, str]) -> Notification:
    """For the fallback route: which route topics refused the notification and why, then the notification."""
    routes = ", ".join(refused)
    head = [f"vigil could not deliver this notification to route {routes}:"]
    head += [f"  {route}: {single_line(why)}" for route, why in refused.items()]
    head += ["It comes to the fallback route instead. That route's topic needs fixing (docs/operations.md).", "", ""]
    return notification.model_copy(
        update={
            "subject": fit_subject("[rerouted] ", notification.subject),
            "email": clip_utf8("\n".join(head) + notification.email, EMAIL_BYTES_LIMIT),
        }
    )


def _error_text(error: BaseException | str | None) -> str:
    if error is None:
        return "unknown"
    if not isinstance(error, BaseException):
        return shorten(single_line(str(error)), REASON_LIMIT)
    try:
        lines = str(error).splitlines()
    except Exception:  # an exception whose __str__ fails must not cost us the alarm's name
        lines = []
    name = type(error).__name__
    return shorten(single_line(f"{name}: {lines[0]}" if lines else name), REASON_LIMIT)


# --- SNS --------------------------------------------------------------------------------------------


def sns_message(notification: Notification) -> tuple[str, str]:
    """(Subject, Message) for Publish with MessageStructure=json: e-mail and SMS from one publish.

    The body travels once, as "default": e-mail (and SQS, Lambda, HTTP) subscribers receive
    "default" when the message has no key of their own, and the 256 KB limit counts the whole
    JSON, so an "email" copy would only halve the room (SNS API reference, Publish, MessageStructure).
    """
    body = {"default": notification.email, "sms": notification.sms}
    return notification.subject, json.dumps(body, ensure_ascii=False)
