"""Whether a state change pages at all, before anything is stored or rendered.

Two paths bring the same state change to the notifier: the alarm's own actions (through the
alarm-events topic) and an EventBridge rule on every state change of this environment's alarms,
the path CloudWatch guarantees. The rule sees transitions that vigil's alarm actions deliberately
skip, so for EventBridge events the notifier pages exactly when the alarm's actions would have
(infra/alarms.py builds them):

- a suppressed ALARM (`actionsSuppressedBy`: the suppressor is in ALARM, or its wait or extension
  period runs) takes no action; an OK always does, because the actions that carry recoveries are
  never suppressed in vigil's design;
- vigil's own alarms (kind "self") page the self-monitoring route's topic directly, so that a
  broken notifier still pages: the notifier does not page them a second time.

Which of the two copies pages is the state table's business (vigil.notifier.state).

After the state table has recorded a change, one more rule (`nothing_to_resolve`): a new alarm
starts in INSUFFICIENT_DATA and goes to OK on its first evaluation, which runs its OK action. With no
earlier change of that alarm on record, that OK resolves nothing on-call has heard of, so a first
deploy of a thousand alarms pages no one. An OK from ALARM always pages (its record may have expired).
"""

from __future__ import annotations

from vigil.alarm_meta import SELF_KIND
from vigil.notifier.events import AlarmEvent, AlarmState
from vigil.notifier.state import Advance


def why_silent(event: AlarmEvent) -> str | None:
    """None when the event pages; otherwise the reason it must not, for the log."""
    if event.actions_suppressed_by and event.state != AlarmState.ok:
        return f"actions suppressed by {event.actions_suppressed_by}"
    if event.source != "eventbridge":
        return None  # an alarm action fired: it pages by definition
    meta = event.meta
    if meta is None:
        return None
    if meta.kind == SELF_KIND:
        return "vigil's own alarm: its actions page the self-monitoring route directly"
    return None


def nothing_to_resolve(event: AlarmEvent, advanced: Advance) -> str | None:
    """The reason an OK pages no one (an alarm's first evaluation), or None."""
    first = advanced.recorded and advanced.previous is None
    if first and event.state == AlarmState.ok and event.previous_state in (AlarmState.insufficient_data, None):
        return "an OK with no earlier change on record (a new alarm's first evaluation): nothing to resolve"
    return None
