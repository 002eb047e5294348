"""When each check's schedule fires: spread over its cadence, at a minute derived from the check id.

Every schedule of a deploy would otherwise start together and fire together, every cadence, so the
checker functions would see all their checks at once instead of a steady trickle (infra.sizing's
concurrency figures assume the trickle). The offset comes from a hash of the check id, so it is
the same on every deploy and on every machine; adding a check moves no other check.

EventBridge Scheduler fires with one-minute precision (somewhere in the minute), so a 1-minute
cadence has no offset to choose and Scheduler spreads it within the minute. A cadence that divides
the hour runs at minute `offset + k × cadence`; one that does not (7m) keeps a rate expression,
which AWS starts from the schedule's creation. Each run falls in its own alarm period: the periods
are as long as the cadence, and the offset leaves room before the period ends for the minute
Scheduler may take to fire plus the check's own timeout, since the metric is stamped when the run
ends. The check's timeout, not its function's, so that adding a check moves no other check.
"""

from __future__ import annotations

import hashlib
import math

MINUTES_PER_HOUR = 60


def offset_minutes(check_id: str, cadence_minutes: int) -> int:
    """A stable minute in [0, cadence) for this check."""
    digest = hashlib.sha256(check_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % cadence_minutes


def schedule_expression(check_id: str, cadence_s: int, timeout_s: float = 0) -> str:
    """The Scheduler expression that runs the check every cadence, at its own minute, early enough in
    its alarm period that a run lasting `timeout_s` ends inside it."""
    minutes = cadence_s // 60
    if minutes == 1 or MINUTES_PER_HOUR % minutes:
        return f"rate({minutes} minute{'s' if minutes > 1 else ''})"
    # A run fired in minute o ends before o + 1 + timeout: the last minute it may start in is that far
    # from the period's end (at least minute 0, whatever the timeout).
    offset = offset_minutes(check_id, max(1, minutes - math.ceil(timeout_s / 60)))
    minute = str(offset) if minutes == MINUTES_PER_HOUR else f"{offset}/{minutes}"
    return f"cron({minute} * * * ? *)"
