"""What every checker handler does around its kind's `measure`: never raise, always report.

Event: {"check": <CheckSpec as model_dump(mode="json")>, "secrets": {name: Secrets Manager id or ARN}},
and for the kinds that read AWS APIs, "access_role": the role to read in (vigil.checkers.aws).

Each kind passes its own `parse`, which checks the event's spec against the kind's catalog model
(directly, or through the JSON Schema generated from it, see vigil.check_schema) and raises
ValueError when it does not fit. This module imports no pydantic: a cold start pays only for
what the kind itself needs. Whatever goes wrong on the checker's side (bad event, secret unreadable,
a bug) becomes a CheckResult with status failed, and MeasureFailed=1 is emitted: the measure
alarm pages about the checker instead of a Lambda error that nobody alarms on.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from vigil import metrics
from vigil.lambda_time import seconds_left
from vigil.result import MAX_SAMPLES, SAMPLE_LIMIT, SLUG_PATTERN, CheckResult, Status
from vigil.secrets import SecretError, SecretsResolver, resolver
from vigil.text import REASON_LIMIT, clip
from vigil.text import one_line as text_one_line


class Spec(Protocol):
    """What the runner needs of a parsed spec; each kind's measure reads the rest."""

    @property
    def id(self) -> str: ...


class CannotMeasure(Exception):
    """Raised by a kind's code when this run cannot measure: the run reports status failed with
    this short code and one-line reason (never a value that could look healthy)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def measured(
    check_id: str, kind: str, values: dict[str, float], units: Mapping[str, str], **fields: Any
) -> CheckResult:
    """A measurement: the values with their CloudWatch units from the kind's table."""
    return CheckResult(
        check_id=check_id,
        kind=kind,
        status=Status.ok,
        values=values,
        units={name: units[name] for name in values},
        **fields,
    )


def cannot_measure(check_id: str, kind: str, exc: CannotMeasure, **fields: Any) -> CheckResult:
    """The failed result for a CannotMeasure, for checkers that add details of their own."""
    return CheckResult(
        check_id=check_id, kind=kind, status=Status.failed, reason_code=exc.code, reason=one_line(exc.reason), **fields
    )


ACCESS_ROLE = "access_role"  # the event's key naming the role an AWS-reading checker works in
GROUP = "checks"  # a group's event: {"checks": [one check's event, ...]}
# A sanity bound on a group event: synth builds groups of at most infra.check_groups.MAX_GROUP_SIZE.
MAX_GROUP = 10
# Before Lambda's timeout, what a group keeps to report its unfinished checks and return (a few
# printed lines: milliseconds). Under 1 s on purpose: infra.sizing gives the function at least 1 s
# more than its slowest check's timeout, so the deadline never cuts a check still within its own.
REPORT_MARGIN_S = 0.5
DEADLINE_REASON = (
    "did not finish before the checker function's own timeout (its target is slower than the check's timeout allows)"
)

# The event's "check" → the kind's spec; raises ValueError (pydantic's ValidationError is one).
Parse = Callable[[Mapping[str, Any]], Spec]
Measure = Callable[[Any, SecretsResolver], CheckResult]

logger = logging.getLogger(__name__)
_SLUG = re.compile(SLUG_PATTERN)


def run(event: Any, kind: str, parse: Parse, measure: Measure, context: Any = None) -> dict[str, Any]:
    """Validate, measure, emit; the CheckResult as JSON-ready dict. Never raises.

    A group's event ({"checks": [event, ...]}, infra.check_groups) is handed to run_group, which
    reads the Lambda `context` for the time left."""
    if isinstance(event, Mapping) and GROUP in event:
        return run_group(event, kind, parse, measure, context)
    result = _evaluate(event, kind, parse, measure)
    _report(result)
    return result.to_dict()


def run_group(
    event: Mapping[str, Any], kind: str, parse: Parse, measure: Measure, context: Any = None
) -> dict[str, Any]:
    """Each check of a group measured side by side, each reported as if it had run alone.

    Side by side, so a slow target costs its neighbours nothing, and each check is reported the
    moment it is done (from this thread only, so EMF lines never interleave): a check whose
    target hangs past its own timeout (a name that takes long to resolve) cannot take the others'
    datapoints with it when Lambda's timeout ends the run. One still running shortly before that
    is reported as could not measure (`deadline`). A group event that cannot be read emits
    nothing: every check in it then misses its datapoint, which its alarm treats as breaching, so
    a broken group pages rather than looking healthy.
    """
    events = event.get(GROUP)
    if not isinstance(events, list) or not events or len(events) > MAX_GROUP:
        logger.error("vigil checker: malformed group event, no metric emitted: expected 1 to %d checks", MAX_GROUP)
        return {GROUP: []}
    # Imported here: only groups use threads, and every cold start pays for the runner's imports.
    from concurrent.futures import ThreadPoolExecutor, as_completed

    results: list[CheckResult | None] = [None] * len(events)
    pool = ThreadPoolExecutor(max_workers=len(events), thread_name_prefix="check")
    try:
        futures = {pool.submit(_evaluate, one, kind, parse, measure): i for i, one in enumerate(events)}
        try:
            for future in as_completed(futures, timeout=_time_left(context)):
                results[futures[future]] = result = future.result()  # _evaluate never raises
                _report(result)
        except TimeoutError:
            for i, one in enumerate(events):
                if results[i] is None:
                    results[i] = late = _failed(one, kind, "deadline", DEADLINE_REASON)
                    _report(late)
    finally:
        # Never wait for a check still running: its thread is left to end on its own, unreported
        # (if Lambda thaws the container for the next run first, what it logs then carries that
        # run's request id).
        pool.shutdown(wait=False, cancel_futures=True)
    return {GROUP: [result.to_dict() for result in results if result is not None]}


def _time_left(context: Any) -> float | None:
    """Seconds the group may wait for its checks: Lambda's time left minus what reporting needs."""
    left = seconds_left(context)
    return None if left is None else max(0.0, left - REPORT_MARGIN_S)


def _evaluate(event: Any, kind: str, parse: Parse, measure: Measure) -> CheckResult:
    started = time.perf_counter()
    try:
        result = _measure_event(event, kind, parse, measure)
    except Exception as exc:  # the last line of defence: a checker must report, not crash
        logger.exception("checker bug outside measure")
        result = _failed(event, kind, "internal", _describe(exc))
    return dataclasses.replace(
        result,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        samples=bounded_samples(result.samples),
    )


def _report(result: CheckResult) -> None:
    if _SLUG.match(result.check_id):
        _log(result)
        try:
            metrics.emit(result)
        except Exception:
            # Nothing emitted: the measure alarm sees missing data, which it treats as breaching.
            logger.exception("check %s: could not emit metrics", result.check_id)
    else:
        logger.error(
            "vigil checker: event without a readable check id, no metric emitted (%s): %s",
            result.reason_code,
            result.reason,
        )


def make_event(check: Any, secret_ids: Mapping[str, str], access_role: str | None = None) -> dict[str, Any]:
    """The event `run` reads from a catalog check (a vigil.spec model): what each schedule
    carries, and what local runs pass in-process (without an access role: the caller's own)."""
    event: dict[str, Any] = {"check": check.model_dump(mode="json"), "secrets": dict(secret_ids)}
    if access_role is not None:
        event[ACCESS_ROLE] = access_role
    return event


def _measure_event(event: Any, kind: str, parse: Parse, measure: Measure) -> CheckResult:
    if not isinstance(event, Mapping) or not isinstance(event.get("check"), Mapping):
        return _failed(event, kind, "spec", 'malformed event: expected {"check": {...}, "secrets": {...}}')
    secret_ids = event.get("secrets") or {}
    if not isinstance(secret_ids, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in secret_ids.items()
    ):
        return _failed(event, kind, "spec", "malformed event: secrets must map names to secret ids")
    if event["check"].get("kind") != kind:
        return _failed(
            event, kind, "spec", f"invalid check: kind {event['check'].get('kind')!r} sent to the {kind} checker"
        )
    try:
        spec = parse(event["check"])
    except ValueError as exc:
        return _failed(event, kind, "spec", f"invalid check: {_first_error(exc)}")
    try:
        result = measure(spec, resolver(secret_ids))
    except SecretError as exc:
        return _failed(event, kind, "secret", str(exc))
    except CannotMeasure as exc:
        return cannot_measure(spec.id, kind, exc)
    except Exception as exc:
        logger.exception("check %s: measure raised", spec.id)
        return _failed(event, kind, "internal", _describe(exc))
    if not isinstance(result, CheckResult):
        return _failed(event, kind, "internal", f"measure returned {type(result).__name__}, not CheckResult")
    # The spec, not the checker, is the authority on identity.
    return dataclasses.replace(result, check_id=spec.id, kind=kind)


def _failed(event: Any, kind: str, code: str, reason: str) -> CheckResult:
    check = event.get("check") if isinstance(event, Mapping) else None
    raw_id = check.get("id") if isinstance(check, Mapping) else None
    return CheckResult(
        check_id=raw_id if isinstance(raw_id, str) else "",
        kind=kind,
        status=Status.failed,
        reason_code=code,
        reason=one_line(reason),
    )


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):  # check_schema.SchemaError and plain ValueErrors say it themselves
        return str(exc)
    # A pydantic ValidationError (kinds that parse with their model): the first error, located.
    found = errors(include_url=False, include_input=False)
    where = ".".join(str(part) for part in found[0]["loc"]) or "check"
    return f"{where}: {found[0]['msg']}" + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def bounded_samples(samples: Any) -> tuple[str, ...]:
    """Samples as the log line and the e-mail can carry them: a few, one line each, bounded."""
    if isinstance(samples, str) or not isinstance(samples, list | tuple):
        samples = [samples] if samples else []
    return tuple(one_line(str(sample), SAMPLE_LIMIT) for sample in samples[:MAX_SAMPLES])


def one_line(text: str, limit: int = REASON_LIMIT) -> str:
    """Reasons go into SMS and e-mail subjects: one line, bounded."""
    return clip(text_one_line(text), limit)


def _log(result: CheckResult) -> None:
    if result.status is Status.failed:
        logger.error("check %s could not measure (%s): %s", result.check_id, result.reason_code, result.reason)
    elif result.reason_code:
        logger.warning("check %s unhealthy (%s): %s", result.check_id, result.reason_code, result.reason)
    else:
        # DEBUG: a healthy run's EMF line already says so (status, duration), and in Lambda a second
        # line would double the logs bill of a 1-minute check (infra.functions, quiet logs).
        logger.debug("check %s healthy in %.0f ms", result.check_id, result.duration_ms)
