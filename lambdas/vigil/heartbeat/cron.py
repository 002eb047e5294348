"""Cron expressions, and when a job on one is due, in a time zone, as EventBridge Scheduler keeps them.

Two forms are read:
- standard, five fields: minute hour day-of-month month day-of-week. Day-of-week 0-7 (0 and 7 are
  Sunday) or SUN-SAT. When both day fields are restricted, a day matching either runs (Vixie cron).
- AWS, six fields, bare or wrapped in cron(...): minute hour day-of-month month day-of-week year.
  Day-of-week 1-7 (1 is Sunday) or SUN-SAT, and one of the two day fields must be '?'
  (EventBridge Scheduler user guide, "Cron-based schedules"). Years 1970-2199.
A field is '*', a number or name, a range a-b, a step (*/n, a-b/n, a/n), or a comma list of these.
Refused with a clear error rather than guessed: L, W and # (last day, nearest weekday, nth weekday)
and ranges that wrap (FRI-MON: write FRI-SAT,SUN-MON).

Daylight saving time follows EventBridge Scheduler ("Schedule types on EventBridge Scheduler",
section "Daylight savings time"): a wall time that does not exist on the day the clocks go
forward is skipped, and one that happens twice when they go back runs once. Which of the two is
not documented, so such a due time is a window: a run from its first occurrence counts, and its
deadline counts from its second. A monitor may be late by the repeated hour; it never pages a job
that ran.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = {
    name: i + 1
    for i, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
}
_WEEKDAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}  # 0 = Sunday
_ITEM = re.compile(r"^(?:(\*)|([0-9A-Z]+)(?:-([0-9A-Z]+))?)(?:/(\d+))?$")
# A span with every day-of-month and weekday combination, leap years included: a cron that matches
# no day in it never runs.
_PROBE_START, _PROBE_DAYS = date(2000, 1, 1), 9 * 366
_AVERAGE_START, _AVERAGE_DAYS = date(2001, 1, 1), 1461  # four years, one of them leap
# More than any time zone's offset change: due times are searched from this far after the deadline.
_DST_MARGIN = timedelta(hours=3)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: tuple[int, ...]  # ascending
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday, whichever form was written
    years: frozenset[int] | None  # None: every year
    days_restricted: bool
    weekdays_restricted: bool

    def runs_on(self, day: date) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        in_month = day.day in self.days
        in_week = day.isoweekday() % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week  # an unrestricted field holds every value

    def walls_descending(self, start: datetime, floor: date) -> Iterator[datetime]:
        """Local wall times it runs at, newest first, from `start` (naive) back to the day `floor`."""
        day = start.date()
        while day >= floor:
            if self.runs_on(day):
                for hour in reversed(self.hours):
                    for minute in reversed(self.minutes):
                        wall = datetime.combine(day, time(hour, minute))
                        if wall <= start:
                            yield wall
            day -= timedelta(days=1)

    def runs_per_day(self) -> float:
        """Average runs a day over four years (for cost estimates), whatever the year field says."""
        every_year = replace(self, years=None)
        days = sum(1 for i in range(_AVERAGE_DAYS) if every_year.runs_on(_AVERAGE_START + timedelta(days=i)))
        return days / _AVERAGE_DAYS * len(self.minutes) * len(self.hours)


@dataclass(frozen=True)
class Due:
    """One due time: its wall time, and the first and last instants (UTC) that wall time happens."""

    wall: datetime  # naive, in the schedule's time zone
    first: datetime
    last: datetime  # later than first only in the hour repeated when the clocks go back


def parse(expression: str) -> Cron:
    """The cron, or ValueError saying which field is wrong and what is allowed."""
    text = expression.strip()
    wrapped = re.fullmatch(r"cron\((.*)\)", text, flags=re.DOTALL)
    fields = (wrapped.group(1) if wrapped else text).upper().split()
    if len(fields) not in (5, 6) or (wrapped and len(fields) != 6):
        raise ValueError(
            f"cron {expression!r}: expected five fields (minute hour day-of-month month day-of-week) or the AWS "
            "six (… day-of-week year, as in cron(0 2 ? * MON-FRI *)); found "
            f"{len(fields)}"
        )
    aws = len(fields) == 6
    minute, hour, day, month, weekday = fields[:5]
    if aws and "?" not in (day, weekday):
        raise ValueError(f"cron {expression!r}: in the six-field AWS form, day-of-month or day-of-week must be '?'")
    if aws and day == "?" and weekday == "?":
        raise ValueError(f"cron {expression!r}: day-of-month and day-of-week cannot both be '?'")
    days, days_restricted = _field(expression, "day-of-month", day, 1, 31, {}, aws)
    weekday_low = 1 if aws else 0
    weekday_names = {name: value + weekday_low for name, value in _WEEKDAYS.items()}
    weekdays, weekdays_restricted = _field(expression, "day-of-week", weekday, weekday_low, 7, weekday_names, aws)
    cron = Cron(
        expression=expression.strip(),
        minutes=tuple(sorted(_field(expression, "minute", minute, 0, 59, {}, aws)[0])),
        hours=tuple(sorted(_field(expression, "hour", hour, 0, 23, {}, aws)[0])),
        days=frozenset(days),
        months=frozenset(_field(expression, "month", month, 1, 12, _MONTHS, aws)[0]),
        # Both forms end up with 0 = Sunday: the AWS form counts from 1, the standard one allows 7 too.
        weekdays=frozenset((d - 1) % 7 if aws else d % 7 for d in weekdays),
        years=_years(expression, fields[5]) if aws else None,
        days_restricted=days_restricted,
        weekdays_restricted=weekdays_restricted,
    )
    if not _runs_ever(cron):
        raise ValueError(f"cron {expression!r} never runs: no date has that day-of-month in that month")
    return cron


def occurrences(wall: datetime, zone: tzinfo) -> Due | None:
    """When a wall time happens in the zone; None when the clocks skip it."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return Due(wall=wall, first=min(first, second), last=max(first, second))


def latest_due(cron: Cron, zone: tzinfo, grace: timedelta, now: datetime, since: datetime) -> Due | None:
    """The newest due time whose deadline (its last occurrence + grace) has passed at `now`, among those
    from `since` on; None when there is none (a new check, or a cron that has not run since)."""
    start = (now - grace).astimezone(zone).replace(tzinfo=None) + _DST_MARGIN
    floor = since.astimezone(zone).date() - timedelta(days=1)
    for wall in cron.walls_descending(start.replace(second=0, microsecond=0), floor):
        due = occurrences(wall, zone)
        if due is None:
            continue
        if due.first < since:
            return None
        if due.last + grace <= now:
            return due
    return None


def time_zone(name: str) -> tzinfo:
    """The IANA time zone, or ValueError saying what is allowed."""
    if name == "UTC":
        return UTC  # needs no time zone database, which a runtime may lack
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"timezone {name!r}: not an IANA time zone name (such as Europe/London or America/New_York), "
            "or this Python has no time zone database (the tzdata package provides one)"
        ) from None


def _unsupported(expression: str, name: str, value: str) -> ValueError:
    return ValueError(
        f"cron {expression!r}: {name} {value!r}: L, W and # (last day, nearest weekday, nth weekday) are not "
        "supported; list the days instead"
    )


def _field(
    expression: str, name: str, text: str, low: int, high: int, names: dict[str, int], aws: bool
) -> tuple[set[int], bool]:
    """The values a field allows, and whether it restricts (anything but '*', '*/n' or '?')."""
    if text == "?":
        if not aws or name not in ("day-of-month", "day-of-week"):
            raise ValueError(f"cron {expression!r}: {name}: '?' is allowed only in the day fields of the AWS form")
        return set(range(low, high + 1)), False
    values: set[int] = set()
    for item in text.split(","):
        if "#" in item:
            raise _unsupported(expression, name, text)
        match = _ITEM.match(item)
        if not match:
            raise ValueError(f"cron {expression!r}: {name} {item!r}: use *, a value, a range a-b or a step such as */5")
        star, first, last, step = match.groups()
        if star:
            start, end = low, high
        else:
            start = _value(expression, name, first, low, high, names)
            end = _value(expression, name, last, low, high, names) if last else (high if step else start)
        if start > end:
            raise ValueError(f"cron {expression!r}: {name} {item!r}: a range must not wrap; split it in two")
        increment = int(step) if step else 1
        if increment < 1:
            raise ValueError(f"cron {expression!r}: {name} {item!r}: a step must be at least 1")
        values.update(range(start, end + 1, increment))
    return values, not text.startswith("*")


def _value(expression: str, name: str, token: str, low: int, high: int, names: dict[str, int]) -> int:
    if token in names:
        return names[token]
    if re.search(r"[LW]", token):
        raise _unsupported(expression, name, token)
    if not token.isdigit() or not low <= int(token) <= high:
        spelled = f" or {min(names, key=names.__getitem__)}-{max(names, key=names.__getitem__)}" if names else ""
        raise ValueError(f"cron {expression!r}: {name} {token!r}: allowed {low}-{high}{spelled}")
    return int(token)


def _years(expression: str, text: str) -> frozenset[int] | None:
    values, restricted = _field(expression, "year", text, 1970, 2199, {}, True)
    return frozenset(values) if restricted else None


def _runs_ever(cron: Cron) -> bool:
    every_year = replace(cron, years=None)
    if not any(every_year.runs_on(_PROBE_START + timedelta(days=i)) for i in range(_PROBE_DAYS)):
        return False
    if cron.years is None:
        return True
    return any(cron.runs_on(date(year, 1, 1) + timedelta(days=i)) for year in cron.years for i in range(366))
