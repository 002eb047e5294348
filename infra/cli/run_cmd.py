"""`python -m infra run CHECK_ID`: measure one check now, against its real target.

Prints the values measured, the metrics a checker would emit and each signal's verdict for
that single datapoint. Exit code: 0 ok, 1 a signal's rule breaches, 2 could not measure.
AWS calls use the local credentials, or AWS_ENDPOINT_URL (moto_server, LocalStack).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from infra.catalog import Catalog
from infra.cli.common import load_or_report
from infra.local_checker import run_checker, visible_messages
from vigil.spec.common import MEASURE_SIGNAL, CheckBase
from vigil.spec.sqs import SqsCheck, queue_name

OK, BREACH, FAILED = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("check_id", help="the id of the check to run")
    parser.add_argument("--catalog", default="checks", help="catalog directory (default: checks)")


def run(args: argparse.Namespace) -> int:
    catalog = load_or_report(args.catalog)
    if catalog is None:
        return FAILED
    try:
        check = catalog.by_id(args.check_id)
    except KeyError:
        print(f"error: no check {args.check_id!r} in {args.catalog}; ids: {', '.join(c.id for c in catalog.checks)}")
        return FAILED
    values, reason = measure(check, catalog)
    if values is None:
        print(f"{check.id}: could not measure: {reason}")
        return FAILED
    return report(check, values, reason)


def measure(check: CheckBase, catalog: Catalog) -> tuple[dict[str, float | None] | None, str | None]:
    """Signal name → latest value (None: no data), or (None, reason) when nothing could be measured."""
    if isinstance(check, SqsCheck) and not check.has_checker:  # a prefix check runs its checker below
        return _measure_sqs(check)
    if not check.has_checker:
        return None, (
            f"kind {check.kind} runs no checker: CloudWatch evaluates its alarms on AWS's own metrics or "
            "your log groups, so there is nothing to run here (`python -m infra plan` lists its alarms)"
        )
    run = run_checker(check, catalog)
    print("metrics the checker emits (EMF):")
    for line in run.emf_lines:
        print("  " + line)
    result = run.result
    if result["status"] == "failed":
        return None, f"{result['reason_code']}: {result['reason']}"
    by_metric = result["values"]
    values = {
        name: by_metric.get(signal.metric) for name, signal in check.signals.items() if name != MEASURE_SIGNAL.name
    }
    return values, result.get("reason")


def _measure_sqs(check: SqsCheck) -> tuple[dict[str, float | None] | None, str | None]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    sqs = boto3.client("sqs")
    # A list alarms on its worst queue, so the worst queue's depth is the value.
    readable = {"backlog": check.watched_queues(), "dlq": check.dead_letter_queues()}
    values: dict[str, float | None] = {name: None for name in check.active_signals()}
    try:
        for signal, queues in readable.items():
            if signal in values and queues:
                values[signal] = max(_visible(sqs, ref) for ref in queues)
    except (BotoCoreError, ClientError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    print("(sqs is Lambda-free: depths read from the queues; ages and drain time need CloudWatch, shown as no data)")
    return values, None


def _visible(sqs: Any, ref: str) -> float:
    return visible_messages(sqs, sqs.get_queue_url(QueueName=queue_name(ref))["QueueUrl"])


def report(check: CheckBase, values: dict[str, float | None], reason: str | None) -> int:
    print(f"{check.id} ({check.kind}): " + json.dumps(values))
    if reason:
        print(f"reason: {reason}")
    worst = OK
    for name, value in values.items():
        rule = check.rule(name)
        words = rule.describe(check.signals[name].unit)
        if value is None:
            print(f"  {name:<8} no data          rule {words} (missing data: {rule.missing_data.value})")
            continue
        breaching = rule.comparison.breaches(value, rule.threshold)
        verdict = "BREACHING" if breaching else "ok"
        print(f"  {name:<8} {value:<16g} rule {words}: {verdict}")
        worst = max(worst, BREACH if breaching else OK)
    return worst
