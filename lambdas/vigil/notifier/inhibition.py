"""Inhibition in the notifier: an inhibited signal's ALARM waits for the alarm that inhibits it.

An inhibited signal's alarm pages ALARM and OK like any other; its AlarmMeta names the suppressor's
alarm (`inhibited_by`), how long to wait for it (`inhibit_wait`: the suppressor's N periods, the
time it takes to alarm when the same outage hits it) and how often to look again while it is in
ALARM (`inhibit_extension`: the signal's own N periods, the time to recover with it). The notifier:

1. holds the ALARM back: a deferred message (vigil.notifier.deferred) due `inhibit_wait` later,
   and the alarm's `last` marked held (vigil.notifier.state);
2. when it comes back, asks CloudWatch (DescribeAlarms) about both alarms (`verdict`):
   - the signal is no longer in ALARM, or went to ALARM again since (that change has its own
     hold): nothing to page;
   - the suppressor is in ALARM: held again, looked at once more `inhibit_extension` later, so a
     signal that stays in ALARM after its suppressor recovered still pages;
   - else: pages, and `last` is marked not held;
3. an OK whose ALARM was held and never paged pages no one: on-call never heard of that ALARM.

What CloudWatch's composite alarms with an ActionsSuppressor did, without one composite per
inhibited signal. Never lose a page: when the deferred message cannot be sent, or CloudWatch
cannot be asked, the ALARM pages at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from vigil.notifier.events import AlarmEvent, AlarmState
from vigil.notifier.state import Last

# A transition CloudWatch timestamps a little after the state change it reports.
SAME_CHANGE = timedelta(seconds=5)


class Verdict(StrEnum):
    page = "page"
    hold = "hold"  # look again later
    drop = "drop"


@dataclass(frozen=True)
class Seen:
    """An alarm as DescribeAlarms shows it."""

    state: str
    transitioned_at: datetime | None = None


def hold_seconds(event: AlarmEvent) -> int | None:
    """How long to hold this change back for its inhibitor; None: it is not held."""
    meta = event.meta
    if event.state != AlarmState.alarm or event.is_composite or meta is None or not meta.inhibited_by:
        return None
    return meta.inhibit_wait or None


def verdict(event: AlarmEvent, signal: Seen | None, suppressor: Seen | None) -> Verdict:
    """What to do with a held ALARM once its wait is over, given both alarms as they are now.

    An alarm CloudWatch no longer knows is no reason to stay quiet: a missing signal pages, a missing
    suppressor holds nothing back.
    """
    if signal is not None:
        if signal.state != AlarmState.alarm.value:
            return Verdict.drop
        if signal.transitioned_at and event.state_time and signal.transitioned_at > event.state_time + SAME_CHANGE:
            return Verdict.drop
    if suppressor is not None and suppressor.state == AlarmState.alarm.value:
        return Verdict.hold
    return Verdict.page


def never_paged(event: AlarmEvent, previous: Last | None) -> str | None:
    """The reason an OK of an inhibited signal pages no one (its ALARM was held and never paged), or None."""
    meta = event.meta
    if event.state != AlarmState.ok or meta is None or not meta.inhibited_by or previous is None:
        return None
    if previous.state == AlarmState.alarm.value and previous.held:
        return f"its ALARM was held back for {meta.inhibited_by} and never paged"
    return None


def describe(client: Any, names: list[str]) -> dict[str, Seen]:
    """The named metric alarms as CloudWatch has them now (one DescribeAlarms call)."""
    found = client.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"]).get("MetricAlarms", [])
    return {
        alarm["AlarmName"]: Seen(alarm.get("StateValue", ""), alarm.get("StateTransitionedTimestamp"))
        for alarm in found
    }
