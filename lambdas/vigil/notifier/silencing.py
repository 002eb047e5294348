"""The silence step: hold back what a maintenance window or an ad-hoc silence covers, lose no recovery.

Where it sits: after vigil.notifier.paging (does the event page at all) and before the dedup claim,
so a held change claims nothing and its later copy can still page (see below). Decisions:

- Windows apply to the EventBridge path only. CloudWatch's mute rules (built from the same windows)
  already mute the alarm actions; the notifier mirrors them for the EventBridge rule, which they do
  not stop. When a window ends with its alarm still in ALARM, CloudWatch runs the muted ALARM action
  then ("How alarm mute rules work", CloudWatch user guide): that copy comes through the action path,
  where windows do not apply, and pages, since the held copy claimed nothing.
- Ad-hoc silences (`python -m infra silence`) exist only in the state table, so they apply to every
  path, and nothing in CloudWatch pages at their end: for an ALARM one holds, the notifier arranges
  a follow-up at the silence's end (vigil.notifier.silence_end), which pages it if it is still in
  that ALARM and nothing covers it any more.
- A silence covers a state change by the time it happened (its state timestamp), not by when the
  notifier hears of it, so a late retry of a change made during a window stays held.
- ALARM: held, recorded in `last` as held and as a `held#` item for the footer.
- OK: delivered when the alarm's ALARM was paged (its `last` is an ALARM that was not held), since
  on-call then has an open page, and when the notifier cannot tell (never lose a resolve); the
  e-mail says it came during the silence. Summarized when its ALARM was held too: a `held#` item,
  shown in the footer of the next page to the same routes.
- vigil's own alarms are never silenced (vigil.silences.active).

Per invocation: the windows come from the environment (parsed once per container), the ad-hoc
silences and held changes from one Query of the state table, made when first needed.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from vigil.notifier.events import AlarmEvent, AlarmState
from vigil.notifier.render import Notification, clip_utf8, title
from vigil.notifier.state import Key, Last, StateTable
from vigil.silences.active import Silence, active_silence
from vigil.silences.adhoc import PARTITION, AdhocSilence, is_adhoc
from vigil.silences.held import HELD_TTL_SECONDS, Held, footer, is_held, span_text, to_report

if TYPE_CHECKING:
    from vigil.silences.windows import Window

WINDOWS_ENV = "SILENCE_WINDOWS"
EMAIL_BYTES_LIMIT = 64 * 1024

logger = logging.getLogger(__name__)


@functools.cache
def windows_from(text: str) -> tuple[Window, ...]:
    """The windows synth wrote into the environment; none (and an error logged) when unreadable."""
    if not text:
        return ()
    # Imported here: the windows' models need the catalog's building blocks (vigil.spec.common),
    # a cold-start cost only a stack with windows should pay.
    from pydantic import TypeAdapter

    from vigil.silences.windows import Window

    try:
        return tuple(TypeAdapter(list[Window]).validate_json(text))
    except ValidationError as exc:
        # A broken list must not stop pages: without it, windows mute only the alarm actions.
        logger.error("%s is not a list of windows: %s", WINDOWS_ENV, str(exc)[:500])
        return ()


def windows_from_env() -> tuple[Window, ...]:
    return windows_from(os.environ.get(WINDOWS_ENV, ""))


@dataclass(frozen=True)
class Decision:
    """What the silence step says about one state change."""

    silence: Silence | None = None
    hold: str | None = None  # why it is held back; None: it goes on
    note: str | None = None  # for the e-mail of a change delivered during a silence


@dataclass
class Silencing:
    store: StateTable | None
    windows: Sequence[Window]
    clock: Callable[[], float] = time.time
    _adhoc: list[AdhocSilence] | None = None
    _held: list[Held] = field(default_factory=list)

    def _load(self) -> list[AdhocSilence]:
        """The table's silences and held changes: one Query, on first need."""
        if self._adhoc is None:
            self._adhoc = []
            for item in self.store.partition(PARTITION) if self.store else []:
                try:
                    if is_adhoc(item):
                        self._adhoc.append(AdhocSilence.from_item(item))
                    elif is_held(item):
                        self._held.append(Held.from_item(item))
                except ValidationError:
                    logger.warning("unreadable item %s in the silences partition", item.get("sk", {}).get("S"))
        return self._adhoc

    def silence_for(self, event: AlarmEvent) -> Silence | None:
        """The silence covering this change when it happened, if any."""
        if event.meta is None:
            return None
        at = event.state_time or datetime.fromtimestamp(self.clock(), UTC)
        windows = self.windows if event.source == "eventbridge" else ()
        return active_silence(event.meta, at, windows, self._load())

    def silence_at(self, event: AlarmEvent, now: datetime) -> Silence | None:
        """The silence or window covering the alarm at `now`, whenever its state changed."""
        return active_silence(event.meta, now, self.windows, self._load())

    def adhoc(self, silence_id: str) -> AdhocSilence | None:
        """The ad-hoc silence with this id as the table has it now (an early end included)."""
        return next((s for s in self._load() if s.id == silence_id), None)

    def adhoc_for(self, event: AlarmEvent) -> Silence | None:
        """The ad-hoc silence that covered this change when it happened (the longest lasting, if several)."""
        if event.state_time is None:
            return None
        return active_silence(event.meta, event.state_time, (), self._load())

    def decide(self, event: AlarmEvent, silence: Silence | None, previous: Last | None) -> Decision:
        """Hold or deliver a change `silence` covers, given the alarm's `last` before it."""
        same = previous is not None and previous.same_change(event)
        if silence is None:
            if same and previous is not None and previous.held and event.state == AlarmState.ok:
                # CloudWatch runs a muted OK action when its window ends, the alarm still OK: that
                # recovery's ALARM was held too, and both are in a footer already.
                if self.store:
                    self.store.mark_held(event)
                return Decision(hold="a recovery summarized during a silence, sent again by its action")
            return Decision()  # a held ALARM that CloudWatch sends when its window ends pages now
        if same and previous is not None:
            held = previous.held  # another copy of one change: the first copy decided
        elif event.state == AlarmState.ok:
            held = previous is not None and previous.state == AlarmState.alarm.value and previous.held
        else:
            held = True
        if held:
            if self.store:
                self.store.mark_held(event)
            self._record(event, silence)
            return Decision(silence, hold=f"held by {silence.label} until {silence.end.isoformat()}")
        if event.state != AlarmState.ok:
            return Decision(silence)  # a copy of a change paged already: the dedup claim drops it
        why = (
            "its ALARM was paged before the silence"
            if previous is not None
            else "vigil has no record of its ALARM, and a recovery is never dropped"
        )
        note = f"Recovered during {silence.label} ({span_text(silence.start, silence.end)}): sent, as {why}."
        return Decision(silence, note=note)

    def _record(self, event: AlarmEvent, silence: Silence) -> None:
        routes = tuple(event.meta.routes) if event.meta else ()
        held = Held(
            alarm_name=event.alarm_name,
            title=title(event),
            state=event.state.value,
            at=event.state_time or datetime.fromtimestamp(self.clock(), UTC),
            routes=routes,
            silence=silence.label,
            silence_name=silence.name,
            silence_start=silence.start,
            silence_end=silence.end,
            unreported=routes,
        )
        if self.store:
            self.store.put_new(held.to_item(int(self.clock()) + HELD_TTL_SECONDS))
        self._load()
        if all(h.sort_key != held.sort_key for h in self._held):
            self._held.append(held)

    def annotate(self, notification: Notification, route: str, note: str | None) -> tuple[Notification, list[Held]]:
        """The notification for one route with its silence footer, and the held changes it tells about."""
        self._load()
        told = to_report(self._held, [route])
        lines = ([note] if note else []) + footer(told)
        if not lines:
            return notification, []
        email = notification.email.rstrip("\n") + "\n\nSilences:\n" + "".join(f"  {line}\n" for line in lines)
        return notification.model_copy(update={"email": clip_utf8(email, EMAIL_BYTES_LIMIT)}), told

    def reported(self, told: Sequence[Held], route: str) -> None:
        """The route has been told about these held changes: its later pages leave them out."""
        for held in told:
            if self.store:
                self.store.remove_from_set(Key(PARTITION, held.sort_key), "unreported", [route])
        keys = {h.sort_key for h in told}
        self._held = [
            h.model_copy(update={"unreported": tuple(r for r in h.unreported if r != route)})
            if h.sort_key in keys
            else h
            for h in self._held
        ]
