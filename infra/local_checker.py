"""Running a check on this machine, as its Lambda would: `python -m infra run` and the demo.

Checker kinds go through their real handler (with the event the schedule would carry); the
metrics line it prints is captured instead of going to CloudWatch Logs. Lambda-free kinds have
no handler: their values are read from the AWS resources themselves.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

from infra.catalog import Catalog, secret_ids
from infra.kinds import KINDS
from vigil.checkers.runner import make_event
from vigil.spec.common import CheckBase


@dataclass(frozen=True)
class LocalRun:
    result: dict[str, Any]  # the handler's CheckResult, as JSON
    emf_lines: list[str]  # the Embedded Metric Format lines it printed


def run_checker(check: CheckBase, catalog: Catalog) -> LocalRun:
    handler = KINDS[check.kind].checker().handler
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        result = handler(make_event(check, secret_ids(check, catalog)), None)
    return LocalRun(result, [line for line in stdout.getvalue().splitlines() if '"_aws"' in line])


def visible_messages(sqs: Any, queue_url: str) -> float:
    """What SQS's ApproximateNumberOfMessagesVisible metric reports, read from the queue itself."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return float(attributes["Attributes"]["ApproximateNumberOfMessages"])
