"""Checker for kind `logs_query`: run a Logs Insights query, read one number, quote lines when it breaches.

One run is StartQuery over [now - INGESTION_DELAY - window, now - INGESTION_DELAY], then
GetQueryResults every POLL_FIRST..POLL_MAX seconds until the query is Complete, Failed, Cancelled
or Timeout, or until spec.timeout is spent (then StopQuery: an abandoned query would keep
scanning, and billing, for up to an hour).

Reading the number
------------------
- value_field names the field; without it, the result's only field that is numeric in every row.
- No rows is 0: Logs Insights may return no row at all for `stats count(*)` when nothing matched,
  and for a "too few" rule (`<`) no lines must read as 0, not as "could not measure".
- Several rows (`stats count(*) as errors by service`) give the worst row's value: the largest for
  `>`/`>=` rules, the smallest for `<`/`<=`; the reason names that row.

Samples: Logs Insights bills per GB scanned, so the sample query (vigil.spec.logs_query.
sample_query) runs only when the number breaches the alarm's threshold, within what is left of the
same timeout. If it fails, the value still counts; the failure is in details.

Cannot measure (status failed, never a value): the query Failed, was Cancelled or timed out, a
log group does not exist, access is denied, too many concurrent queries, the result has no
number. The checker reports them; the measure alarm pages.

The client comes from vigil.checkers.aws, in the service's access role the schedule names; boto3
is imported on the first run, not at module import (vigil.secrets does the same): the Lambda
runtime has it, and the import costs more than the rest of the checker.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from vigil.checkers import aws, runner
from vigil.checkers.aws import aws_failure
from vigil.checkers.runner import CannotMeasure
from vigil.result import CheckResult, Status
from vigil.spec.common import Comparison, format_duration
from vigil.spec.logs_query import INGESTION_DELAY, VALUE, VALUE_METRIC, LogsQueryCheck

KIND = "logs_query"
POLL_FIRST = 0.5
POLL_MAX = 2.0
# Query states after which polling stops (GetQueryResults' documented status values).
_FAILED_STATES = {"Failed": "query_failed", "Cancelled": "query_cancelled", "Timeout": "query_timeout"}
_CLIENT_ERRORS = {
    "ResourceNotFoundException": "log_group_missing",
    "AccessDeniedException": "access_denied",
    "AccessDenied": "access_denied",  # STS: the access role may not be assumed
    "MalformedQueryException": "query_invalid",
    "InvalidParameterException": "query_invalid",
    "LimitExceededException": "limit",
}


@dataclass(frozen=True)
class Clock:
    """Time as the checker sees it; tests pass one that does not really sleep."""

    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


SYSTEM_CLOCK = Clock()
# GetQueryResults' statistics worth keeping with the run: what the query cost and found.
_STATISTICS = {
    "bytesScanned": "bytes_scanned",
    "recordsScanned": "records_scanned",
    "recordsMatched": "records_matched",
}


@dataclass
class Completed:
    rows: list[dict[str, str]]
    statistics: dict[str, float] = field(default_factory=dict)


def parse(check: Mapping[str, Any]) -> LogsQueryCheck:
    return LogsQueryCheck.model_validate(check)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return runner.run(event, KIND, parse, partial(measure, role=aws.access_role(event)))


# -- query (the AWS edge) ------------------------------------------------------------------------


def run_query(
    logs: Any, log_groups: Sequence[str], query: str, start: int, end: int, deadline: float, clock: Clock
) -> Completed:
    """Start the query and poll it to an end within the deadline (monotonic); raises CannotMeasure."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        query_id = logs.start_query(logGroupNames=list(log_groups), startTime=start, endTime=end, queryString=query)[
            "queryId"
        ]
        delay = POLL_FIRST
        while True:
            response = logs.get_query_results(queryId=query_id)
            status = response.get("status", "Unknown")
            if status == "Complete":
                return Completed(rows(response.get("results", [])), dict(response.get("statistics") or {}))
            if status in _FAILED_STATES:
                raise CannotMeasure(_FAILED_STATES[status], f"Logs Insights query ended {status}")
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                _stop(logs, query_id)
                raise CannotMeasure("timeout", f"Logs Insights query still {status} at the checker's timeout; stopped")
            clock.sleep(min(delay, remaining))
            delay = min(delay * 2, POLL_MAX)
    except (ClientError, BotoCoreError) as exc:
        raise aws_failure(exc, _CLIENT_ERRORS) from None


def statistics(completed: Completed) -> dict[str, float]:
    return {name: completed.statistics[key] for key, name in _STATISTICS.items() if key in completed.statistics}


def _stop(logs: Any, query_id: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    # It may have ended meanwhile; either way this run already failed for the timeout.
    with contextlib.suppress(ClientError, BotoCoreError):
        logs.stop_query(queryId=query_id)


def rows(results: Sequence[Sequence[Mapping[str, str]]]) -> list[dict[str, str]]:
    """GetQueryResults' rows (lists of {field, value}) as dicts, without the @ptr record pointer."""
    return [{cell["field"]: cell.get("value", "") for cell in row if cell.get("field") != "@ptr"} for row in results]


# -- evaluate (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    value: float
    field: str | None  # None when there were no rows
    row: dict[str, str] | None  # the row the value came from, when there were several
    rows: int


def number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def read_value(result: list[dict[str, str]], value_field: str | None, comparison: Comparison) -> Reading:
    """The number the alarm compares: see the module docstring; raises CannotMeasure."""
    if not result:
        return Reading(0.0, value_field, None, 0)
    name = value_field or _only_numeric_field(result)
    present = [row for row in result if name in row]
    if not present:
        raise CannotMeasure("result", f"no field {name!r} in the query result; it has {_fields(result)}")
    values = []
    for row in present:
        value = number(row[name])
        if value is None:
            raise CannotMeasure("result", f"field {name!r} holds {runner.one_line(row[name], 60)!r}, not a number")
        values.append((value, row))
    worst = max if comparison in (Comparison.gt, Comparison.ge) else min
    value, row = worst(values, key=lambda pair: pair[0])
    return Reading(value, name, row if len(result) > 1 else None, len(result))


def _only_numeric_field(result: list[dict[str, str]]) -> str:
    numeric = [name for name in result[0] if all(number(row.get(name)) is not None for row in result)]
    if len(numeric) == 1:
        return numeric[0]
    found = f"numeric fields {', '.join(numeric)}" if numeric else f"no numeric field (it has {_fields(result)})"
    raise CannotMeasure("result", f"the query result has {found}: set value_field")


def _fields(result: list[dict[str, str]]) -> str:
    return ", ".join(dict.fromkeys(name for row in result for name in row)) or "no fields"


def describe(reading: Reading, spec: LogsQueryCheck) -> str:
    """The reason on-call reads: the number, the rule it broke, and which row when there are several."""
    rule = spec.rule(VALUE)
    what = reading.field or "matching rows"
    text = f"{what} = {reading.value:g} ({rule.comparison.value} {rule.threshold:g}) over the last {format_duration(spec.window)}"
    if reading.row is not None:
        others = ", ".join(f"{k}={v}" for k, v in reading.row.items() if k != reading.field)
        text += f"; worst of {reading.rows} rows" + (f": {others}" if others else "")
    return runner.one_line(text)


def sample_line(row: Mapping[str, str]) -> str:
    group = row.get("@log", "").split(":", 1)[-1]  # @log is "<account>:<log group>"
    parts = [row.get("@timestamp", ""), f"[{group}]" if group else "", row.get("@message", "")]
    return " ".join(part for part in parts if part)


# -- measure -------------------------------------------------------------------------------------


def measure(
    spec: LogsQueryCheck,
    resolve: runner.SecretsResolver,
    logs: Any = None,
    clock: Clock = SYSTEM_CLOCK,
    role: str | None = None,
) -> CheckResult:
    """`role`: the service's access role (vigil.checkers.aws), None to query as the caller."""
    rule = spec.rule(VALUE)
    deadline = clock.monotonic() + spec.timeout
    end = int(clock.wall()) - INGESTION_DELAY
    start = end - spec.window
    try:
        logs = logs if logs is not None else aws.client("logs", role, codes=_CLIENT_ERRORS)
        completed = run_query(logs, spec.log_groups, spec.query, start, end, deadline, clock)
        reading = read_value(completed.rows, spec.value_field, rule.comparison)
    except CannotMeasure as cannot:
        return runner.cannot_measure(spec.id, KIND, cannot)
    details: dict[str, str | int | float | bool | None] = {"rows": reading.rows, "window_end": end}
    details |= statistics(completed)
    breached = rule.comparison.breaches(reading.value, rule.threshold)
    samples: tuple[str, ...] = ()
    wanted = spec.sample_query() if breached else None
    if wanted is not None:
        try:
            found = run_query(logs, spec.log_groups, wanted, start, end, deadline, clock)
            samples = tuple(sample_line(row) for row in found.rows)
            details |= {f"samples_{k}": v for k, v in statistics(found).items()}
        except CannotMeasure as cannot:
            details["samples_error"] = runner.one_line(cannot.reason, 120)
    return CheckResult(
        check_id=spec.id,
        kind=KIND,
        status=Status.ok,
        values={VALUE_METRIC: reading.value},
        units={VALUE_METRIC: "None"},
        reason_code="threshold" if breached else None,
        reason=describe(reading, spec) if breached else None,
        details=details,
        samples=samples,
    )
