"""Checker for kind `heartbeat`: every cadence, judge the check's stored pings against its schedule.

CloudWatch cannot alarm on a deadline that follows a cron in a time zone, so this checker turns the
pings into two numbers each run (vigil.heartbeat.state): HeartbeatMissed and HeartbeatFailed, 1 or 0.
Ordinary alarms watch them. The run's reason (what was due, when the job was last heard of, the
exit code) and the failed run's last log lines ride in its EMF line, where the notifier finds them
for the ALARM e-mail like any checker's.

One GetItem per run; the first run of a check registers it (vigil.heartbeat.store.register), which
is what lets the endpoint accept its pings.

Cannot measure (MeasureFailed=1, never a healthy value): the table unreadable or misnamed; a time
zone the runtime's database lacks fails the spec's own validation first ("invalid check: timezone").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from vigil.checkers import runner
from vigil.checkers.aws import aws_failure
from vigil.checkers.runner import CannotMeasure, SecretsResolver
from vigil.heartbeat import store
from vigil.heartbeat.state import evaluate
from vigil.result import CheckResult
from vigil.spec.heartbeat import FAILED_METRIC, MISSED_METRIC, HeartbeatCheck

KIND = "heartbeat"
UNITS = {MISSED_METRIC: "None", FAILED_METRIC: "None"}
_CLIENT_ERRORS = {
    "AccessDeniedException": "access_denied",
    "ResourceNotFoundException": "no_table",
    "ProvisionedThroughputExceededException": "throttled",
    "ThrottlingException": "throttled",
    "RequestLimitExceeded": "throttled",
}


def parse(check: Mapping[str, Any]) -> HeartbeatCheck:
    return HeartbeatCheck.model_validate(check)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return runner.run(event, KIND, parse, measure)


def now() -> datetime:
    return datetime.now(UTC)


def measure(check: HeartbeatCheck, secrets: SecretsResolver) -> CheckResult:
    try:
        table = store.table_name()
    except RuntimeError as exc:
        raise CannotMeasure("config", str(exc)) from None
    from botocore.exceptions import BotoCoreError, ClientError

    at = now()
    try:
        pings = store.register(store.client(), table, check.id, check.token_secret_name, at)
    except (ClientError, BotoCoreError) as exc:
        raise aws_failure(exc, _CLIENT_ERRORS) from None
    verdict = evaluate(check.schedule(), pings, at)
    return runner.measured(
        check.id,
        KIND,
        {MISSED_METRIC: float(verdict.missed), FAILED_METRIC: float(verdict.failed)},
        UNITS,
        reason_code=verdict.reason_code,
        reason=verdict.reason,
        samples=verdict.samples,
    )
