"""What silences held back, and the e-mail footer that tells the next page about it.

Every state change a silence holds back (an ALARM, or the recovery of an ALARM that was itself held)
is kept as an item beside the ad-hoc silences, in the same partition so one Query reads both:

    pk = "silences"   sk = "held#<state time>#<alarm name>#<state>"   routes, unreported, ...

The key is the state change itself, so the two copies of one change (alarm action and EventBridge
rule) write one item. `unreported` lists the routes not told yet; the next page to such a route
carries a footer ("silenced 02:00–04:00 UTC by maintenance window sqlserver-patching: 2 alarms
held: ...") and the route is then taken off the list. Held items expire after a week: a footer
is about the recent past.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from vigil.silences.adhoc import PARTITION

HELD_PREFIX = "held#"
HELD_TTL_SECONDS = 7 * 86400
FOOTER_ALARMS = 10  # alarms named per silence in a footer; the rest are counted


class Held(BaseModel):
    model_config = ConfigDict(frozen=True)

    alarm_name: str
    title: str  # "campaign-db-errors io-error-823"
    state: str  # ALARM or OK
    at: datetime
    routes: tuple[str, ...]
    silence: str  # Silence.label
    silence_name: str  # the window's name or the ad-hoc silence's id
    silence_start: datetime
    silence_end: datetime
    unreported: tuple[str, ...] = ()

    @property
    def sort_key(self) -> str:
        return f"{HELD_PREFIX}{_iso(self.at)}#{self.alarm_name}#{self.state}"

    def to_item(self, expires_at: int) -> dict[str, dict[str, Any]]:
        item: dict[str, dict[str, Any]] = {
            "pk": {"S": PARTITION},
            "sk": {"S": self.sort_key},
            "alarm_name": {"S": self.alarm_name},
            "title": {"S": self.title},
            "state": {"S": self.state},
            "at": {"S": _iso(self.at)},
            "silence": {"S": self.silence},
            "silence_name": {"S": self.silence_name},
            "silence_start": {"S": _iso(self.silence_start)},
            "silence_end": {"S": _iso(self.silence_end)},
            "expires_at": {"N": str(expires_at)},
        }
        if self.routes:
            item["routes"] = {"SS": list(self.routes)}
        if self.unreported:
            item["unreported"] = {"SS": list(self.unreported)}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Held:
        fields = {name: value.get("S", value.get("SS")) for name, value in item.items() if isinstance(value, dict)}
        return cls.model_validate(
            {**fields, "routes": fields.get("routes") or (), "unreported": fields.get("unreported") or ()}
        )


def is_held(item: dict[str, Any]) -> bool:
    return str(item.get("sk", {}).get("S", "")).startswith(HELD_PREFIX)


def span_text(start: datetime, end: datetime) -> str:
    """'02:00–04:00 UTC' within a day, '24 Dec 22:00 – 25 Dec 02:00 UTC' across days."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start.date() == end.date():
        return f"{start:%H:%M}–{end:%H:%M} UTC"
    return f"{start.day} {start:%b %H:%M} – {end.day} {end:%b %H:%M} UTC"


def to_report(held: Iterable[Held], routes: Iterable[str]) -> list[Held]:
    """The held changes that the routes of a page have not been told about, oldest first."""
    wanted = set(routes)
    return sorted((h for h in held if wanted & set(h.unreported)), key=lambda h: (h.at, h.alarm_name))


def footer(held: Sequence[Held]) -> list[str]:
    """One line per silence: when, which, and the alarms it held with their states and times."""
    lines: list[str] = []
    by_silence: dict[tuple[str, datetime, datetime], dict[str, list[str]]] = {}
    for change in held:
        alarms = by_silence.setdefault((change.silence, change.silence_start, change.silence_end), {})
        alarms.setdefault(change.title, []).append(f"{change.state} {change.at.astimezone(UTC):%H:%M}")
    for (label, start, end), alarms in sorted(by_silence.items(), key=lambda item: item[0][1]):
        named = [f"{title} ({', '.join(states)})" for title, states in list(alarms.items())[:FOOTER_ALARMS]]
        more = len(alarms) - len(named)
        listed = "; ".join(named) + (f"; and {more} more" if more else "")
        count = f"{len(alarms)} alarm{'s' if len(alarms) != 1 else ''} held"
        lines.append(f"silenced {span_text(start, end)} by {label}: {count}: {listed}")
    return lines


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
