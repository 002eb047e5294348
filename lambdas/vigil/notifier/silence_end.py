"""The page at an ad-hoc silence's end, for an ALARM it held back that has not recovered.

A maintenance window needs none: CloudWatch runs a muted ALARM action when its mute rule ends. An
ad-hoc silence lives only in the state table, so when it holds an ALARM back the notifier arranges
the follow-up itself, on the repeats' machinery (vigil.notifier.repeats): a one-shot Scheduler
schedule at the silence's end, in the group `vigil-<env>-paging`, invoking the notifier with a
`SilenceEnd`. When it fires, the notifier re-reads the alarm (DescribeAlarms) and

- does nothing when that ALARM is over (the alarm recovered, is gone, or entered a newer ALARM,
  which has its own pages);
- arranges the follow-up again, at its end, when a silence or maintenance window covers the alarm
  now (the silence was extended, or another one began);
- holds it for its inhibitor, when it is an inhibited signal whose inhibitor is in ALARM now, as
  the notifier holds any inhibited ALARM whose wait is over (vigil.notifier.inhibition): looked at
  again after the signal's own periods, and paged then as a plain first page if at all;
- else pages it as its first page (held by silence <id> until <end>; still in ALARM), on the dedup
  key a first page of that ALARM takes, so a duplicate follow-up, or the other arrangement of the
  same ALARM, pages nothing more; repeats and the acknowledgement link start as for any first page.

The schedule is at the silence's end as the hold saw it: `silence expire` changes nothing here, so an
ALARM held by a silence ended early pages at the silence's planned end (late, not lost), or at its
next state change if that comes first. Schedule names derive from the ALARM, the silence and the
time, so the two copies of one held change (alarm action and EventBridge rule) make one schedule.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.notifier.events import AlarmEvent, AlarmState
from vigil.notifier.render import Notification
from vigil.notifier.repeats import headed
from vigil.notifier.state import stamp
from vigil.silences.adhoc import AdhocSilence

KIND = "silence-end"
HEAD = "SILENCE ENDED: "  # in front of the page's subject and SMS
# Scheduler needs a time ahead of now; a hold learned late (a retry) or a silence ending this very
# moment gets its follow-up a minute from now instead.
MIN_LEAD = timedelta(seconds=60)


class SilenceEnd(BaseModel):
    """The payload of the schedule at a silence's end."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vigil: Literal["silence-end"] = KIND
    alarm_arn: str = Field(min_length=1)
    at: str = Field(min_length=1)  # the held ALARM's state timestamp (vigil.notifier.state.stamp)
    silence: str = Field(min_length=1)  # the id of the ad-hoc silence that held it (last, when re-arranged)
    until: datetime  # that silence's end when the hold was seen


def is_silence_end(event: Any) -> bool:
    return isinstance(event, dict) and event.get("vigil") == KIND


def plan(
    event: AlarmEvent, end: datetime, held_by: tuple[str, datetime], now: datetime
) -> tuple[datetime, SilenceEnd] | None:
    """When and with what to look at a held ALARM again: at `end`, the end of the longest silence or
    window covering it (a minute from now at the earliest); `held_by`, the id and end of the ad-hoc
    silence the page names. None for anything but an ALARM."""
    at = stamp(event)
    if event.state is not AlarmState.alarm or event.alarm_arn is None or at is None:
        return None
    when = max(datetime.fromtimestamp(math.ceil(end.timestamp()), UTC), now + MIN_LEAD)
    silence, until = held_by
    return when, SilenceEnd(alarm_arn=event.alarm_arn, at=at, silence=silence, until=until)


def schedule_name(follow: SilenceEnd, when: datetime) -> str:
    """Unique per ALARM, silence and time; Scheduler allows 64 characters."""
    digest = hashlib.sha256(f"{follow.alarm_arn}\n{follow.at}\n{follow.silence}\n{when.isoformat()}".encode())
    return f"{KIND}-{digest.hexdigest()[:40]}"


def held_line(follow: SilenceEnd, silence: AdhocSilence | None) -> str:
    """'Held by silence 3f9a2c (alice: deploy) until 3 Dec 04:00 UTC; still in ALARM.' The silence as the
    table has it now (an early end and who made it), or as the schedule remembered it when it is gone."""
    if silence is None:
        return f"Held by silence {follow.silence} until {_clock_text(follow.until)}; still in ALARM."
    why = f"{silence.created_by}: {silence.reason}"
    ended = f", when {silence.expired_by} ended it" if silence.expired_by else ""
    return f"Held by silence {silence.id} ({why}) until {_clock_text(silence.until)}{ended}; still in ALARM."


def page_form(notification: Notification, line: str) -> Notification:
    """The first page of an ALARM a silence held: say so in front."""
    return headed(notification, HEAD, line)


def is_page(notification: Notification) -> bool:
    """This is the page at a silence's end (page_form): a group's list marks it."""
    return notification.subject.startswith(HEAD)


def _clock_text(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%d %b %H:%M} UTC".lstrip("0")
