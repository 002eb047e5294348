"""Maintenance windows: their timing in the form CloudWatch's alarm mute rules take, and when they are open.

A window recurs (a cron expression and a duration) or happens once (a start and an end); both are
wall times in the window's time zone. Synth makes each one AWS::CloudWatch::AlarmMuteRule resources
(infra/mute_rules.py), which mute the actions of the alarms in its scope; the notifier gets the same
windows as compact JSON (`Window`, the WINDOWS variable) to hold back what the EventBridge rule
brings, since a mute rule mutes actions, not events.

The mute rule's formats (CloudWatch API reference, *Schedule*,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Schedule.html):
- Expression: `cron(Minutes Hours Day-of-month Month Day-of-week)` with `*`, `-` and `,` in every
  field and the names JAN-DEC and SUN-SAT, or `at(yyyy-MM-ddThh:mm)`; 1 to 256 characters.
- Duration: ISO 8601, from PT1M to P15D; 1 to 50 characters.
- Timezone: an IANA name; UTC when absent.
What that page leaves open is refused here rather than guessed: steps (`/`), day-of-week numbers
(0-6 or 1-7?), and a cron restricting both day fields (either day, or both?).

Daylight saving time: AWS does not say what a mute rule does with a wall time that the clocks skip
or repeat. The notifier follows EventBridge Scheduler's rule, as vigil.heartbeat.cron does: a
skipped start opens no window that day, a repeated one opens it at its first occurrence, and the
duration is elapsed time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from pydantic import Field, model_validator

from vigil.heartbeat import cron as cron_expressions
from vigil.spec.common import Duration, Slug, StrictModel, format_duration

MAX_ALARMS_PER_RULE = 100  # MuteTargets.AlarmNames (CloudWatch API reference, MuteTargets)
MIN_SECONDS = 60  # PT1M
MAX_SECONDS = 15 * 86400  # P15D
EXPRESSION_LIMIT = 256
_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_FIELD_TEXT = re.compile(r"^[0-9A-Z*,-]+$")
_AT = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class Span:
    """One opening of a window, UTC: from start (included) to end (excluded)."""

    start: datetime
    end: datetime

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


def mute_rule_cron(expression: str) -> str:
    """The five fields, upper-cased, in the mute rule's documented form; ValueError saying what is wrong."""
    fields = expression.strip().upper().split()
    if len(fields) != len(_FIELDS):
        raise ValueError(
            f"cron {expression!r}: five fields (minute hour day-of-month month day-of-week), such as 0 2 * * SUN; "
            f"found {len(fields)}"
        )
    for name, text in zip(_FIELDS, fields, strict=True):
        if not _FIELD_TEXT.match(text):
            raise ValueError(
                f"cron {expression!r}: {name} {text!r}: a mute rule allows *, values, ranges a-b and lists a,b "
                "(no steps such as */5: list the values)"
            )
    day, weekday = fields[2], fields[4]
    if weekday != "*" and re.search(r"\d", weekday):
        raise ValueError(
            f"cron {expression!r}: day-of-week {weekday!r}: write SUN-SAT names (AWS does not say whether a mute "
            "rule counts days from 0 or from 1)"
        )
    if day != "*" and weekday != "*":
        raise ValueError(
            f"cron {expression!r}: restrict day-of-month or day-of-week, not both (AWS does not say whether a "
            "mute rule then needs either or both)"
        )
    cron_expressions.parse(" ".join(fields))  # ranges, names and a date that exists
    return " ".join(fields)


def iso_duration(seconds: int) -> str:
    """ISO 8601 duration, as a mute rule takes it: 7200 → PT2H, 95400 → P1DT2H30M."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


class WindowTiming(StrictModel):
    """When a window is open: a cron and a duration, or a start and an end, as wall times in `timezone`."""

    cron: str | None = Field(
        default=None,
        max_length=200,
        description="recurring: when each window starts, five cron fields such as 0 2 * * SUN (names for days)",
    )
    duration: Duration | None = Field(default=None, description="with cron: how long each window lasts (1m to 360h)")
    start: datetime | None = Field(
        default=None, description="one-time: the wall time it starts, such as 2026-12-24T22:00 (no offset)"
    )
    end: datetime | None = Field(default=None, description="one-time: the wall time it ends")
    timezone: str = Field(default="UTC", description="IANA time zone of the cron, start and end, such as Europe/London")

    @model_validator(mode="after")
    def _sane(self) -> WindowTiming:
        zone = self.zone()
        if self.cron is not None:
            if self.start is not None or self.end is not None:
                raise ValueError("give cron and duration (recurring) or start and end (one-time), not both")
            if self.duration is None:
                raise ValueError("a cron window needs duration: how long each window lasts, such as 2h")
            mute_rule_cron(self.cron)
        elif self.start is None or self.end is None:
            raise ValueError("give cron and duration (recurring) or start and end (one-time)")
        elif self.duration is not None:
            raise ValueError("a one-time window takes start and end; duration is for cron windows")
        for name in ("start", "end"):
            wall = getattr(self, name)
            if wall is None:
                continue
            if wall.tzinfo is not None:
                raise ValueError(f"{name}: write the wall time without an offset; timezone says where it is")
            if wall.second or wall.microsecond:
                raise ValueError(f"{name}: whole minutes only (a mute rule starts at(yyyy-MM-ddThh:mm))")
            if cron_expressions.occurrences(wall, zone) is None:
                raise ValueError(
                    f"{name}: {wall:%Y-%m-%dT%H:%M} does not exist in {self.timezone} (the clocks skip it)"
                )
        seconds = self.seconds()
        if seconds % 60 or not MIN_SECONDS <= seconds <= MAX_SECONDS:
            raise ValueError(
                f"a window lasts whole minutes, 1m to {format_duration(MAX_SECONDS)} (a mute rule's limits); "
                f"found {seconds}s"
            )
        return self

    def zone(self) -> tzinfo:
        return cron_expressions.time_zone(self.timezone)

    def _utc(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.zone(), fold=0).astimezone(UTC)

    def seconds(self) -> int:
        if self.duration is not None:
            return self.duration
        assert self.start is not None and self.end is not None
        return int((self._utc(self.end) - self._utc(self.start)).total_seconds())

    def expression(self) -> str:
        """The mute rule's Expression."""
        if self.cron is not None:
            return f"cron({mute_rule_cron(self.cron)})"
        assert self.start is not None
        return f"at({self.start.strftime(_AT)})"

    def iso_duration(self) -> str:
        """The mute rule's Duration."""
        return iso_duration(self.seconds())

    def ended_by(self, now: datetime) -> bool:
        """A one-time window that is over: nothing left to mute."""
        return self.end is not None and self._utc(self.end) <= now

    def opening(self, at: datetime) -> Span | None:
        """The opening of the window that covers `at` (aware), or None when it is closed then."""
        length = timedelta(seconds=self.seconds())
        if self.cron is None:
            assert self.start is not None
            span = Span(self._utc(self.start), self._utc(self.start) + length)
            return span if span.covers(at) else None
        zone = self.zone()
        cron = cron_expressions.parse(mute_rule_cron(self.cron))
        # From a little after `at` (an offset change moves wall times by up to a few hours) back to the
        # day before the newest opening that could still cover it.
        latest = (at.astimezone(zone) + timedelta(hours=3)).replace(tzinfo=None, second=0, microsecond=0)
        floor = (at - length).astimezone(zone).date() - timedelta(days=1)
        for wall in cron.walls_descending(latest, floor):
            due = cron_expressions.occurrences(wall, zone)
            if due is None or due.first > at:
                continue
            span = Span(due.first, due.first + length)
            # Openings only get older from here, each as long: the first that ends too early settles it.
            return span if span.covers(at) else None
        return None


class Window(WindowTiming):
    """A window as the notifier holds it: its timing and the checks and services it covers."""

    name: Slug
    checks: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)

    def covers(self, check: str, service: str) -> bool:
        return check in self.checks or service in self.services
