"""A group of alarm changes (vigil.notifier.grouping) → one Notification. Pure, like render.py.

- Subject: "[ALARM][critical] 3 alarms - orders", the group's worst state and severity.
- SMS, one segment as ever: "ALARM crit 3 alarms: orders-queue backlog, orders-queue age, orders-dlq
  depth"; recoveries in a group of ALARMs say " OK" after their name; names are cut at the end of the
  segment (the e-mail has them all).
- E-mail: an index (state, name, value against the rule; "(silence ended)" after the name of a held
  ALARM paged at its silence's end) and then each change's own e-mail as it was rendered when it
  arrived (value, threshold, evidence, runbook, links).
"""

from __future__ import annotations

from vigil.notifier import silence_end
from vigil.notifier import sms as gsm
from vigil.notifier.events import AlarmState
from vigil.notifier.grouping import Member
from vigil.notifier.render import (
    EMAIL_BYTES_LIMIT,
    Notification,
    clip_utf8,
    fit_subject,
    shorten,
    subject_safe,
    title,
    value_line,
)
from vigil.notifier.sanitize import single_line

_SEVERITY_ORDER = ("critical", "warning")
_SHORT_SEVERITY = {"critical": "crit", "warning": "warn"}


def _worst_severity(members: list[Member]) -> str | None:
    found = [m.event.meta.severity for m in members if m.event.meta]
    ranked = sorted(found, key=lambda s: _SEVERITY_ORDER.index(s) if s in _SEVERITY_ORDER else len(_SEVERITY_ORDER))
    return ranked[0] if ranked else None


def _state(members: list[Member]) -> AlarmState:
    """ALARM when any member is in ALARM (the page is about trouble); OK when all recovered."""
    states = {m.event.state for m in members}
    return AlarmState.alarm if AlarmState.alarm in states or len(states) > 1 else next(iter(states))


def _count(members: list[Member], state: AlarmState) -> str:
    mixed = len({m.event.state for m in members}) > 1
    noun = "alarm changes" if mixed else "alarms"
    recovered = " recovered" if state == AlarmState.ok else ""
    return f"{len(members)} {noun}{recovered}"


def _marker(member: Member) -> str:
    """What the member's own subject said in front that the group's subject cannot."""
    return " (silence ended)" if silence_end.is_page(member.notification) else ""


def render_group(members: list[Member]) -> Notification:
    """One notification for two or more members (a single member keeps its own notification)."""
    state = _state(members)
    severity = _worst_severity(members)
    service = members[0].event.meta.service if members[0].event.meta else None
    count = _count(members, state)

    head = f"[{state.value}]" + (f"[{severity}]" if severity else "")
    subject = fit_subject(
        subject_safe(head) + " ", subject_safe(count), " - " + subject_safe(service) if service else ""
    )

    mixed = len({m.event.state for m in members}) > 1
    names = [title(m.event) + (f" {m.event.state.value}" if mixed and m.event.state != state else "") for m in members]
    sms_head = gsm.fold(state.value + (f" {_SHORT_SEVERITY.get(severity, severity[:4])}" if severity else "")) + " "
    text = sms_head + gsm.fold(f"{count}: " + ", ".join(names))
    encoding, limit = gsm.room(text)
    sms = shorten(text, limit, measure=lambda t: gsm.units(t, encoding))

    index = [
        f"  {m.event.state.value:<6} {single_line(title(m.event))}{_marker(m)}: {single_line(value_line(m.event))}"
        for m in members
    ]
    lines = [
        f"{count}" + (f" of service {single_line(service)}" if service else "") + ", within one group wait:",
        "",
        *index,
        "",
        "Each change in full:",
    ]
    for number, member in enumerate(members, 1):
        lines += ["", f"===== {number} of {len(members)}: {single_line(title(member.event))} =====", ""]
        lines.append(member.notification.email.rstrip("\n"))
    return Notification(
        alarm_name=", ".join(m.event.alarm_name for m in members),
        state=state.value,
        subject=subject,
        email=clip_utf8("\n".join(lines) + "\n", EMAIL_BYTES_LIMIT),
        sms=sms,
    )
