"""Whether a silence covers an alarm at a moment: pure, for the notifier and its tests alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from vigil.alarm_meta import SELF_KIND, AlarmMeta
from vigil.silences.adhoc import AdhocSilence

if TYPE_CHECKING:  # the windows' models come with the catalog's building blocks: only loaded when there are windows
    from vigil.silences.windows import Window


@dataclass(frozen=True)
class Silence:
    """One silence that covers an alarm: what it is and when it runs (UTC)."""

    kind: Literal["window", "adhoc"]
    name: str  # the window's name, or the ad-hoc silence's id
    start: datetime
    end: datetime
    by: str | None = None  # who set an ad-hoc silence
    reason: str | None = None

    @property
    def label(self) -> str:
        """'maintenance window sqlserver-patching', 'silence 3f9a2c by alice (SQL Server patching)'."""
        if self.kind == "window":
            return f"maintenance window {self.name}"
        why = f" ({self.reason})" if self.reason else ""
        return f"silence {self.name} by {self.by}{why}"


def active_silence(
    meta: AlarmMeta | None, at: datetime, windows: Sequence[Window], adhoc: Sequence[AdhocSilence]
) -> Silence | None:
    """The silence covering this alarm at `at` (aware), the one that lasts longest when several do.

    vigil's own alarms are never silenced: a maintenance window must not hide that vigil is broken.
    An alarm without vigil's metadata has no check or service for a silence to name.
    """
    if meta is None or meta.kind == SELF_KIND:
        return None
    found: list[Silence] = []
    for window in windows:
        if window.covers(meta.check, meta.service):
            span = window.opening(at)
            if span is not None:
                found.append(Silence("window", window.name, span.start, span.end))
    for silence in adhoc:
        if silence.covers(meta.check, meta.service) and silence.active_at(at):
            found.append(
                Silence("adhoc", silence.id, silence.start, silence.until, by=silence.created_by, reason=silence.reason)
            )
    return max(found, key=lambda s: s.end, default=None)
