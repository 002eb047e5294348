"""What a heartbeat's pings mean at a given moment: did the job miss its run, did its last run fail.

Pure: the schedule, the last ping of each kind and the time in; a verdict out. Two questions, two
signals, so "did not start" is told apart from "failed":

- missed: no ping at all (start, success or fail) for the run that was due. With a period, a run
  is due `period` after the last ping (or after vigil began watching); with a cron, at each of its
  due times. Either way the job has `grace` to show up. A ping counts for a due time when it came
  at or after it (healthchecks.io counts the same way).
- failed: the newest run failed, until a success comes: a fail ping (with its exit code and log
  lines), or a start ping followed by neither success nor fail within `max_runtime` (the job was
  killed, or hangs: an OOM-killed container sends nothing more).

A new check is not due before vigil began watching it: the first deadline is one period (or the
first due time) plus grace after that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from vigil.heartbeat.cron import Cron, latest_due
from vigil.spec.common import format_duration


@dataclass(frozen=True)
class Schedule:
    grace: timedelta
    max_runtime: timedelta
    start_ping: bool  # the job pings when it starts: a miss is then "did not start"
    period: timedelta | None = None
    cron: Cron | None = None
    zone: tzinfo = UTC


@dataclass(frozen=True)
class Ping:
    at: datetime
    exit_code: int | None = None
    lines: tuple[str, ...] = ()  # the job's last log lines, as the ping's body carried them


@dataclass(frozen=True)
class Pings:
    """The last ping of each kind, and since when vigil watches the check."""

    watched_since: datetime
    start: Ping | None = None
    success: Ping | None = None
    fail: Ping | None = None

    @property
    def last(self) -> datetime | None:
        """When the job was last heard of, by any ping."""
        times = [p.at for p in (self.start, self.success, self.fail) if p is not None]
        return max(times) if times else None


@dataclass(frozen=True)
class Verdict:
    missed: bool
    failed: bool
    reason_code: str | None = None  # missed, failed or hung
    reason: str | None = None
    samples: tuple[str, ...] = ()  # the failed run's last log lines


def evaluate(schedule: Schedule, pings: Pings, now: datetime) -> Verdict:
    missed = _missed(schedule, pings, now)
    failed = _failed(schedule, pings, now)
    reasons = [text for text in (missed, failed[1] if failed else None) if text]
    code = "missed" if missed else (failed[0] if failed else None)
    return Verdict(
        missed=missed is not None,
        failed=failed is not None,
        reason_code=code,
        reason="; ".join(reasons) or None,
        samples=failed[2] if failed else (),
    )


def _missed(schedule: Schedule, pings: Pings, now: datetime) -> str | None:
    """Why the due run is missing, or None when it is not (yet)."""
    what = "did not start" if schedule.start_ping else "did not run"
    heard = (
        f"last ping {iso(pings.last)}"
        if pings.last
        else f"no ping since vigil began watching at {iso(pings.watched_since)}"
    )
    if schedule.cron is not None:
        due = latest_due(schedule.cron, schedule.zone, schedule.grace, now, pings.watched_since)
        if due is None or (pings.last is not None and pings.last >= due.first):
            return None
        return (
            f"{what}: no ping for the {due.wall:%Y-%m-%d %H:%M} {schedule.zone} run of cron {schedule.cron.expression} "
            f"by {iso(due.last + schedule.grace)} ({span(schedule.grace)} grace); {heard}"
        )
    assert schedule.period is not None, "a schedule has a period or a cron"
    deadline = max(pings.last or pings.watched_since, pings.watched_since) + schedule.period + schedule.grace
    if now < deadline:
        return None
    return (
        f"{what}: expected every {span(schedule.period)} + {span(schedule.grace)} grace, so by {iso(deadline)}; {heard}"
    )


def _failed(schedule: Schedule, pings: Pings, now: datetime) -> tuple[str, str, tuple[str, ...]] | None:
    """(reason code, reason, log lines) when the newest run failed or never finished; else None."""
    start, success, fail = pings.start, pings.success, pings.fail
    finished = max((p for p in (success, fail) if p is not None), key=lambda p: p.at, default=None)
    if start is not None and (finished is None or start.at > finished.at) and now - start.at >= schedule.max_runtime:
        return (
            "hung",
            f"started at {iso(start.at)} and sent no success or fail ping within {span(schedule.max_runtime)} "
            "(killed, or still running)",
            start.lines,
        )
    if fail is not None and (success is None or fail.at > success.at):
        how = f"exit code {fail.exit_code}" if fail.exit_code is not None else "a fail ping"
        began = f" (started {iso(start.at)})" if start is not None and start.at <= fail.at else ""
        return "failed", f"failed with {how} at {iso(fail.at)}{began}", fail.lines
    return None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def span(delta: timedelta) -> str:
    return format_duration(int(delta.total_seconds()))
