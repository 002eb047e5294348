"""`python -m infra run CHECK_ID`: measure one check now, against its real target.

Prints the metrics a checker would emit and, for every alarm the stack builds for the check
(infra.signal_alarms: the same signals, series and rules), this run's datapoint and where the
alarm would end if it persisted. Exit code: 0 no alarm would fire, 1 one would (named), 2 could
not measure. AWS calls use the local credentials, or AWS_ENDPOINT_URL (moto_server, LocalStack);
secrets can be served locally (infra.local_checker: VIGIL_SECRET_<NAME>, .vigil-secrets.yaml).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from infra.alarm_model import AlarmState, Datapoint
from infra.catalog import Catalog
from infra.cli.common import load_or_report
from infra.local_checker import (
    SECRETS_FILES,
    LocalSecrets,
    LocalSecretsError,
    env_name,
    local_secrets,
    run_checker,
    secrets_of,
    visible_messages,
)
from infra.signal_alarms import checker_alarms, state_if_it_persists
from vigil.spec.common import CheckBase
from vigil.spec.sqs import SqsCheck, queue_name

OK, BREACH, FAILED = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("check_id", help="the id of the check to run")
    parser.add_argument("--catalog", default="checks", help="catalog directory (default: checks)")
    parser.add_argument(
        "--secrets",
        type=Path,
        default=None,
        help=f"a local secrets file (default: {' or '.join(SECRETS_FILES)} here, when present; git-ignored)",
    )


def run(args: argparse.Namespace) -> int:
    catalog = load_or_report(args.catalog)
    if catalog is None:
        return FAILED
    try:
        check = catalog.by_id(args.check_id)
    except KeyError:
        print(f"error: no check {args.check_id!r} in {args.catalog}; ids: {', '.join(c.id for c in catalog.checks)}")
        return FAILED
    try:
        local = local_secrets(secrets_of(check), args.secrets)
    except LocalSecretsError as exc:
        print(f"error: {exc}")
        return FAILED
    for name, origin in local.origins.items():
        print(f"secret {name}: from {origin}")
    values, reason = measure(check, catalog, local)
    if values is None:
        print(f"{check.id}: could not measure: {reason}")
        return FAILED
    return report(check, values, reason)


def measure(
    check: CheckBase, catalog: Catalog, local: LocalSecrets | None = None
) -> tuple[dict[str, Datapoint] | None, str | None]:
    """Active signal → this run's datapoint (None: no data), or (None, reason) when nothing could be measured.

    A signal left out could not be read here at all (an SQS age without CloudWatch).
    """
    if isinstance(check, SqsCheck) and not check.has_checker:  # a prefix check runs its checker below
        return _measure_sqs(check)
    if not check.has_checker:
        return None, (
            f"kind {check.kind} runs no checker: CloudWatch evaluates its alarms on AWS's own metrics or "
            "your log groups, so there is nothing to run here (`python -m infra plan` lists its alarms)"
        )
    run = run_checker(check, catalog, local)
    print("metrics the checker emits (EMF):")
    for line in run.emf_lines:
        print("  " + line)
    result = run.result
    if result["status"] == "failed":
        return None, f"{result['reason_code']}: {result['reason']}" + _secret_hint(check, result, local)
    written = run.datapoints()
    return {alarm.signal: alarm.datapoint(written) for alarm in checker_alarms(check)}, result.get("reason")


def _secret_hint(check: CheckBase, result: dict[str, Any], local: LocalSecrets | None) -> str:
    if result["reason_code"] != "secret":
        return ""
    missing = [name for name in secrets_of(check) if local is None or name not in local.values]
    if not missing:
        return ""
    ways = "; ".join(f"{env_name(name)}='{{...}}'" for name in missing)
    return f" (to run it here without Secrets Manager: {ways}, or add {', '.join(missing)} to {SECRETS_FILES[0]})"


def _measure_sqs(check: SqsCheck) -> tuple[dict[str, Datapoint] | None, str | None]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    sqs = boto3.client("sqs")
    # A list alarms on its worst queue, so the worst queue's depth is the value.
    readable = {"backlog": check.watched_queues(), "dlq": check.dead_letter_queues()}
    values: dict[str, Datapoint] = {}
    try:
        for signal, queues in readable.items():
            if signal in check.active_signals() and queues:
                values[signal] = max(_visible(sqs, ref) for ref in queues)
    except (BotoCoreError, ClientError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    print("(sqs is Lambda-free: depths read from the queues; ages and drain time need CloudWatch, not read here)")
    return values, None


def _visible(sqs: Any, ref: str) -> float:
    return visible_messages(sqs, sqs.get_queue_url(QueueName=queue_name(ref))["QueueUrl"])


def report(check: CheckBase, values: dict[str, Datapoint], reason: str | None) -> int:
    """Each active signal's datapoint and the alarm's state if it persisted; the exit code."""
    print(f"{check.id} ({check.kind}): " + json.dumps(values))
    if reason:
        print(f"reason: {reason}")
    width = max(8, *(len(name) for name in check.active_signals()))
    alarming = []
    for name in check.active_signals():
        rule = check.rule(name)
        words = rule.describe(check.signals[name].unit)
        if name not in values:
            print(f"  {name:<{width}} not read here    rule {words}")
            continue
        value = values[name]
        state = state_if_it_persists(rule, value)
        if state is AlarmState.ALARM:
            alarming.append(name)
        if value is None:
            # No datapoint: the alarm's missing-data treatment decides, as on AWS.
            verdict = f"{rule.missing_data.value} → {state.value}"
            print(f"  {name:<{width}} no data          rule {words} (missing data): {verdict}")
        else:
            verdict = "BREACHING" if state is AlarmState.ALARM else "ok"
            print(f"  {name:<{width}} {value:<16g} rule {words}: {verdict}")
    if alarming:
        print(f"alarm: {', '.join(alarming)}")
        return BREACH
    return OK
