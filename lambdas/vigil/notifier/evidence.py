"""What the checker saw: the last run's reason and samples, for the ALARM e-mail.

An alarm only knows numbers. The checker's own words (why the check is unhealthy, the log lines,
hits or keys that made it so) are in the run's EMF log line, in the checker function's log group
(vigil.metrics writes them). On ALARM the notifier reads the newest such line for the check, so
on-call gets the evidence without opening a console. Nothing is stored twice, and the checker
stays free of AWS calls.

Evidence is a nicety: any failure to read it (no permission, throttled, slow, nothing found)
leaves the notification as it would have been, and is logged. It never holds a page back for
long: the whole lookup stops at a deadline (a few seconds), well inside the notifier's timeout.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vigil.result import CHECK_DIMENSION, MAX_SAMPLES, SAMPLE_LIMIT
from vigil.text import REASON_LIMIT, clip, one_line

logger = logging.getLogger(__name__)

# Where to look for the run behind an alarm, nearest first: most checks run every few minutes,
# so the short window finds the run in one or two pages even in a busy log group; the long one
# covers the longest cadence (1 h) plus the alarm's evaluation delay.
LOOKBACKS_MS = (15 * 60 * 1000, 90 * 60 * 1000)
MAX_PAGES = 5
DEADLINE_SECONDS = 5.0


@dataclass(frozen=True)
class Evidence:
    at: datetime
    status: str
    reason: str | None
    samples: tuple[str, ...]


def from_log_line(message: str, check_id: str, timestamp_ms: int) -> Evidence | None:
    """One EMF line of this check's run; None for anything else (another check, not EMF, damaged)."""
    try:
        document = json.loads(message)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get(CHECK_DIMENSION) != check_id or "_aws" not in document:
        return None
    if "status" not in document:
        return None  # a series of the check's (one queue's figures), not the run's own line
    samples = document.get("samples")
    if not isinstance(samples, list):
        samples = []
    reason = document.get("reason")
    return Evidence(
        at=datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC),
        status=str(document.get("status", "")),
        reason=clip(one_line(reason), REASON_LIMIT) if isinstance(reason, str) and reason else None,
        samples=tuple(clip(one_line(str(s)), SAMPLE_LIMIT) for s in samples[:MAX_SAMPLES]),
    )


def newest(events: Iterable[tuple[int, str]], check_id: str) -> Evidence | None:
    """The newest run of the check among (timestamp ms, message) log events."""
    found = (from_log_line(message, check_id, at) for at, message in events)
    runs = [run for run in found if run is not None]
    return max(runs, key=lambda run: run.at) if runs else None


def fetch(
    logs: Any, log_group: str, check_id: str, until: datetime, deadline_seconds: float = DEADLINE_SECONDS
) -> Evidence | None:
    """The newest run up to `until`, from CloudWatch Logs; None when there is none, it can't be
    read, or the deadline passes first."""
    deadline = time.monotonic() + deadline_seconds
    end_ms = int(until.timestamp() * 1000) + 60_000  # the run that tipped the alarm may log just after it
    try:
        for lookback in LOOKBACKS_MS:
            # A quoted term finds the check's lines cheaply; from_log_line then matches the id exactly
            # (the term also matches "api-health-eu" when looking for "api-health").
            events = read_events(logs, log_group, check_id, end_ms - lookback, end_ms, deadline)
            found = newest(events, check_id)
            if found is not None:
                return found
    except Exception:
        logger.warning("evidence for %s could not be read from %s", check_id, log_group, exc_info=True)
    return None


def read_events(
    logs: Any, log_group: str, term: str, start_ms: int, end_ms: int, deadline: float
) -> list[tuple[int, str]]:
    """(timestamp ms, message) of the events holding `term`, at most MAX_PAGES pages; TimeoutError
    once `deadline` (time.monotonic()) has passed."""
    request: dict[str, Any] = {
        "logGroupName": log_group,
        "startTime": start_ms,
        "endTime": end_ms,
        "filterPattern": f'"{term}"',
    }
    events: list[tuple[int, str]] = []
    for _ in range(MAX_PAGES):
        if time.monotonic() > deadline:
            raise TimeoutError("evidence lookup passed its deadline")
        page = logs.filter_log_events(**request)
        events += [(event["timestamp"], event["message"]) for event in page.get("events", [])]
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    return events
