"""Checker for kind `sqs` with `queue_prefix`: every queue whose name starts with it, rolled up to the worst.

CloudWatch alarms cannot select queues by name prefix, so this checker does it once per cadence:

1. ListQueues(QueueNamePrefix=prefix, MaxResults=1000), every page: the matched queues. Those
   whose name (before `.fifo`) ends with `dlq_suffix` are the dead-letter queues.
2. GetQueueAttributes per queue (a few at a time): ApproximateNumberOfMessages (visible), and the
   in-flight and delayed counts, which say whether the queue holds anything at all.
3. CloudWatch GetMetricData, up to 500 queries per call, only for queues that hold messages:
   ApproximateAgeOfOldestMessage (Maximum, the newest minute published) and, for queues with
   visible messages, NumberOfMessagesDeleted (Sum over the newest 5 minutes published). SQS has
   no API for either (the age would need ReceiveMessage, which would hide the message from its
   consumer); skipping empty queues keeps the bill (per metric requested) to the busy ones.

Values (namespace Vigil, dimension Check, names from vigil.spec.sqs.PREFIX_METRICS): the worst
queue's backlog, oldest message age and drain time, the worst DLQ's depth and age, and Queues.

An empty queue's age and drain time are 0: nothing waits. A queue that holds messages but whose
age (or delete rate) CloudWatch has not published is unknown, and unknown is never reported as
healthy: the metric is left out of this run (the alarm keeps its state), and details say so.

Cannot measure (status failed, never a value): no queue matches the prefix (`no_queue`: a prefix
that suddenly matches nothing is a renamed or deleted fleet, or the wrong account or region, and
on-call hears it through the measure alarm), access denied, throttling, any other AWS error, or
the run's timeout.

Clients come from vigil.checkers.aws, in the service's access role the schedule names; boto3 is
imported on the first run, not at module import (vigil.secrets does the same).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from vigil.checkers import aws, runner
from vigil.checkers.aws import aws_failure
from vigil.checkers.runner import CannotMeasure
from vigil.result import MAX_SAMPLES, CheckResult, Status
from vigil.spec.common import format_duration
from vigil.spec.sqs import NEVER_DRAINS, PREFIX_METRICS, QUEUES_METRIC, SqsCheck

KIND = "sqs"
LIST_PAGE = 1000  # ListQueues' MaxResults limit
METRIC_QUERIES_PER_CALL = 500  # GetMetricData's limit
ATTRIBUTE_WORKERS = 8
# Metrics are read from the last LOOKBACK seconds: SQS publishes them a few minutes late.
LOOKBACK = 900
DELETE_WINDOW_MINUTES = 5
_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
_CLIENT_ERRORS = {
    "AccessDenied": "access_denied",
    "AccessDeniedException": "access_denied",
    "AuthorizationError": "access_denied",
    "Throttling": "throttled",
    "ThrottlingException": "throttled",
    "RequestThrottled": "throttled",
    "LimitExceededException": "throttled",
}
# A queue deleted between ListQueues and GetQueueAttributes is gone, not a failure.
_GONE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def parse(check: Mapping[str, Any]) -> SqsCheck:
    return SqsCheck.model_validate(check)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return runner.run(event, KIND, parse, partial(measure, role=aws.access_role(event)))


# -- readings (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueReading:
    """One matched queue: its live counts from SQS, and what CloudWatch knew (None: nothing published)."""

    name: str
    visible: int
    in_flight: int = 0
    delayed: int = 0
    dlq: bool = False
    age: float | None = None  # seconds, ApproximateAgeOfOldestMessage
    deleted_per_second: float | None = None  # NumberOfMessagesDeleted over the newest minutes

    @property
    def empty(self) -> bool:
        return self.visible + self.in_flight + self.delayed == 0

    def oldest(self) -> float | None:
        return 0.0 if self.empty else self.age

    def drain_time(self) -> float | None:
        """Seconds to empty at the current delete rate, as the Lambda-free drain_time alarm computes it."""
        if self.visible == 0:
            return 0.0
        if self.deleted_per_second is None:
            return None
        if self.deleted_per_second <= 0:
            return float(NEVER_DRAINS)
        return min(self.visible / self.deleted_per_second, float(NEVER_DRAINS))


@dataclass(frozen=True)
class Worst:
    value: float | None  # None: some queue's value is unknown, so the worst is unknown too
    queue: str | None
    unknown: tuple[str, ...] = ()


def worst(readings: Sequence[QueueReading], value: Callable[[QueueReading], float | None]) -> Worst:
    """The highest value and its queue; unknown when any queue's value is unknown (or there is no queue)."""
    known = [(v, r.name) for r in readings if (v := value(r)) is not None]
    unknown = tuple(r.name for r in readings if value(r) is None)
    if unknown or not known:
        return Worst(None, None, unknown)
    top, name = max(known, key=lambda pair: pair[0])
    return Worst(top, name)


# signal → (which queues, the value per queue)
_SIGNAL_VALUES: dict[str, tuple[bool, Callable[[QueueReading], float | None]]] = {
    "backlog": (False, lambda r: float(r.visible)),
    "age": (False, QueueReading.oldest),
    "drain_time": (False, QueueReading.drain_time),
    "dlq": (True, lambda r: float(r.visible)),
    "dlq_age": (True, QueueReading.oldest),
}
_UNIT_WORDS = {"Seconds": "s", "Count": ""}


def rollup(spec: SqsCheck, readings: Sequence[QueueReading]) -> CheckResult:
    """The run's result from the matched queues: the worst queue per active signal (pure)."""
    values: dict[str, float] = {QUEUES_METRIC: float(len(readings))}
    units: dict[str, str] = {QUEUES_METRIC: "Count"}
    details: dict[str, str | int | float | bool | None] = {
        "queues": sum(1 for r in readings if not r.dlq),
        "dlqs": sum(1 for r in readings if r.dlq),
    }
    breaches: list[str] = []
    for signal in spec.active_signals():
        if signal not in _SIGNAL_VALUES:
            continue  # measure: the runner writes it
        dlq, value = _SIGNAL_VALUES[signal]
        found = worst([r for r in readings if r.dlq == dlq], value)
        metric, unit = PREFIX_METRICS[signal]
        if found.unknown:
            details[f"{signal}_unknown"] = ", ".join(found.unknown[:5]) + (
                f" (+{len(found.unknown) - 5})" if len(found.unknown) > 5 else ""
            )
        if found.value is None:
            continue
        values[metric] = found.value
        units[metric] = unit
        details[f"{signal}_queue"] = found.queue
        rule = spec.rule(signal)
        if rule.comparison.breaches(found.value, rule.threshold):
            shown = _amount(found.value, unit)
            breaches.append(f"{signal} {shown} ({rule.comparison.value} {rule.threshold:g}) in {found.queue}")
    return CheckResult(
        check_id=spec.id,
        kind=KIND,
        status=Status.ok,
        values=values,
        units=units,
        reason_code="threshold" if breaches else None,
        reason=runner.one_line("; ".join(breaches)) if breaches else None,
        details=details,
        samples=samples(readings),
    )


def _amount(value: float, unit: str) -> str:
    if unit == "Seconds":
        return _age(value)
    return f"{value:g}"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g}s"
    whole = int(seconds // 60) * 60
    return format_duration(whole) if whole < 7200 else f"{seconds / 3600:.0f}h"


def sample_line(r: QueueReading) -> str:
    """'orders-eu: 1520 visible, oldest 14m' (with in-flight and DLQ noted when they matter)."""
    parts = [f"{r.visible} visible"]
    if r.in_flight:
        parts.append(f"{r.in_flight} in flight")
    age = r.oldest()
    parts.append(f"oldest {_age(age)}" if age is not None else "oldest unknown")
    if not r.dlq and r.visible:
        drain = r.drain_time()
        if drain is not None:
            parts.append("not draining" if drain >= NEVER_DRAINS else f"drains in {_age(drain)}")
    return f"{r.name}{' (DLQ)' if r.dlq else ''}: {', '.join(parts)}"


def samples(readings: Iterable[QueueReading]) -> tuple[str, ...]:
    """The worst queues that hold messages, DLQs first (any dead letter matters), then by backlog."""
    holding = [r for r in readings if not r.empty]
    holding.sort(key=lambda r: (not r.dlq, -r.visible, -(r.oldest() or 0.0), r.name))
    return tuple(sample_line(r) for r in holding[:MAX_SAMPLES])


# -- AWS edge ------------------------------------------------------------------------------------


def list_queue_urls(sqs: Any, prefix: str) -> list[str]:
    urls: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"QueueNamePrefix": prefix, "MaxResults": LIST_PAGE}
        if token:
            kwargs["NextToken"] = token
        page = sqs.list_queues(**kwargs)
        urls.extend(page.get("QueueUrls", []))
        token = page.get("NextToken")
        if not token:
            return urls


def queue_counts(sqs: Any, url: str) -> tuple[int, int, int] | None:
    """(visible, in flight, delayed); None when the queue was deleted since it was listed."""
    from botocore.exceptions import ClientError

    try:
        found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(_ATTRIBUTES))["Attributes"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _GONE:
            return None
        raise
    visible, in_flight, delayed = (int(found.get(name, 0)) for name in _ATTRIBUTES)
    return visible, in_flight, delayed


def _metric(name: str, queue: str, stat: str, query_id: str) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/SQS",
                "MetricName": name,
                "Dimensions": [{"Name": "QueueName", "Value": queue}],
            },
            "Period": 60,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def metric_values(cloudwatch: Any, queries: list[dict[str, Any]], end: float) -> dict[str, list[float]]:
    """Query id → its values, newest first, from GetMetricData in batches of up to 500 queries."""
    found: dict[str, list[float]] = {}
    for start in range(0, len(queries), METRIC_QUERIES_PER_CALL):
        batch = queries[start : start + METRIC_QUERIES_PER_CALL]
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "MetricDataQueries": batch,
                "StartTime": end - LOOKBACK,
                "EndTime": end,
                "ScanBy": "TimestampDescending",
            }
            if token:
                kwargs["NextToken"] = token
            response = cloudwatch.get_metric_data(**kwargs)
            for result in response.get("MetricDataResults", []):
                found.setdefault(result["Id"], []).extend(float(v) for v in result.get("Values", []))
            token = response.get("NextToken")
            if not token:
                break
    return found


def read_queues(
    spec: SqsCheck, sqs: Any, cloudwatch: Any, now: float, deadline: float, clock: Callable[[], float]
) -> list[QueueReading]:
    """Every matched queue's reading; raises CannotMeasure."""
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = spec.queue_prefix or ""
    try:
        urls = list_queue_urls(sqs, prefix)
        if not urls:
            raise CannotMeasure(
                "no_queue",
                f"no queue name starts with {prefix!r}: deleted or renamed, or the wrong account or region",
            )
        _before(deadline, clock, "listing the queues")
        with ThreadPoolExecutor(max_workers=ATTRIBUTE_WORKERS) as pool:
            counts = list(pool.map(lambda url: queue_counts(sqs, url), urls))
        _before(deadline, clock, "reading the queues' attributes")
        names = [url.rsplit("/", 1)[-1] for url in urls]
        listed = [
            QueueReading(name, *c, dlq=spec.is_dead_letter_queue(name))
            for name, c in zip(names, counts, strict=True)
            if c is not None
        ]
        if not listed:
            raise CannotMeasure("no_queue", f"every queue starting with {prefix!r} was deleted while it was read")
        queries: list[dict[str, Any]] = []
        for i, r in enumerate(listed):
            if not r.empty:
                queries.append(_metric("ApproximateAgeOfOldestMessage", r.name, "Maximum", f"a{i}"))
            if r.visible and not r.dlq:
                queries.append(_metric("NumberOfMessagesDeleted", r.name, "Sum", f"d{i}"))
        series = metric_values(cloudwatch, queries, (now // 60) * 60) if queries else {}
        _before(deadline, clock, "reading the queues' CloudWatch metrics")
    except (ClientError, BotoCoreError) as exc:
        raise aws_failure(exc, _CLIENT_ERRORS) from None
    readings = []
    for i, r in enumerate(listed):
        ages = series.get(f"a{i}") or []
        deleted = (series.get(f"d{i}") or [])[:DELETE_WINDOW_MINUTES]
        rate = sum(deleted) / (60 * len(deleted)) if deleted else None
        readings.append(
            QueueReading(
                r.name, r.visible, r.in_flight, r.delayed, r.dlq, age=ages[0] if ages else None, deleted_per_second=rate
            )
        )
    return readings


def _before(deadline: float, clock: Callable[[], float], what: str) -> None:
    if clock() > deadline:
        raise CannotMeasure("timeout", f"the run's timeout passed while {what}")


# -- measure -------------------------------------------------------------------------------------


def measure(
    spec: SqsCheck,
    resolve: runner.SecretsResolver,
    sqs: Any = None,
    cloudwatch: Any = None,
    wall: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    role: str | None = None,
) -> CheckResult:
    """`role`: the service's access role (vigil.checkers.aws), None to read as the caller."""
    deadline = monotonic() + spec.timeout
    try:
        sqs = sqs if sqs is not None else aws.client("sqs", role, max_pool=ATTRIBUTE_WORKERS, codes=_CLIENT_ERRORS)
        cloudwatch = cloudwatch if cloudwatch is not None else aws.client("cloudwatch", role, codes=_CLIENT_ERRORS)
        readings = read_queues(spec, sqs, cloudwatch, wall(), deadline, monotonic)
    except CannotMeasure as cannot:
        return runner.cannot_measure(spec.id, KIND, cannot)
    return rollup(spec, readings)
