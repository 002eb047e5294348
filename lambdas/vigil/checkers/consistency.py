"""Checker of kind `consistency`: compare the source and target of one check, report differences.

One function, three entry points (the event's "phase"):
  (none)   the scheduled run: plan (key anomalies, top-level buckets), then drill the mismatched
           buckets here, or hand them to the Step Functions state machine (mode step_functions, or
           auto when they hold more than AUTO_ROWS rows) and return;
  bucket   one Map iteration of the state machine: drill one bucket, return its tally;
  gather   the state machine's last state: add the tallies up and report, as a scheduled run does.
Every difference goes to a JSON Lines report in the reports bucket; the notification quotes a few.

DynamoDB and S3 sides are read in the service's access role the schedule names (`access_role`,
vigil.checkers.aws); the scheduled run passes it to the state machine, whose Map gives it to each
bucket. The reports bucket and Step Functions are the function's own: those calls use its role.
A role that cannot be assumed is a run that cannot measure (access_denied), never a clean one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from vigil.checkers import aws, runner
from vigil.checkers.runner import ACCESS_ROLE
from vigil.consistency.compare import Bucket, Comparison, Endpoint, Options, Tally
from vigil.consistency.model import Difference, FieldType, Key, Range, Summary, normalize_keys
from vigil.consistency.stream import ScanEndpoint, Shape
from vigil.result import CheckResult, Status
from vigil.spec.consistency import (
    DIFF_METRICS,
    MAX_SEGMENTS,
    TOTAL_METRIC,
    ConsistencyCheck,
    DynamoDbEndpoint,
    S3Endpoint,
    SearchEndpoint,
    SqlEndpoint,
)

KIND = "consistency"
# auto mode hands mismatched buckets to Step Functions when they hold more rows than this: about
# what one Lambda drills in a few minutes (docs/consistency.md, cost per run).
AUTO_ROWS = 2_000_000
REPORTS_BUCKET = "VIGIL_CONSISTENCY_REPORTS"
STATE_MACHINE = "VIGIL_CONSISTENCY_STATE_MACHINE"

parse = ConsistencyCheck.model_validate


def handler(event: Any, context: Any) -> dict[str, Any]:
    phase = event.get("phase") if isinstance(event, Mapping) else None
    if phase == "bucket":
        return drill_bucket(event)
    measure = partial(gather, event) if phase == "gather" else partial(scheduled, event)
    return runner.run(event, KIND, parse, measure)


# -- the scheduled run --------------------------------------------------------------------------


def scheduled(event: Mapping[str, Any], spec: ConsistencyCheck, resolve: runner.SecretsResolver) -> CheckResult:
    cutoff = datetime.now(UTC) - timedelta(seconds=spec.lag_seconds())
    run_id = cutoff.strftime("%Y%m%dT%H%M%SZ")
    role = aws.access_role(event)
    with comparing(spec, resolve, cutoff, f"{spec.id}/{run_id}.jsonl", role) as (comparison, report):
        tally = Tally(sample_size=spec.sample_size)
        buckets = comparison.plan(tally)
        if hand_off(spec, buckets):
            execution = start_execution(event, spec, cutoff, run_id, buckets, tally)
            return CheckResult(
                check_id=spec.id,
                kind=KIND,
                status=Status.ok,
                details={"handed_off": True, "execution": execution, "mismatched_buckets": len(buckets)},
            )
        comparison.drill(buckets, tally)
    return result(spec, tally, report.uri)


def hand_off(spec: ConsistencyCheck, buckets: list[Bucket]) -> bool:
    if spec.mode == "in_lambda" or not buckets:
        return False
    if spec.mode == "step_functions":
        return True
    return sum(max(b.source.count, b.target.count) for b in buckets) > AUTO_ROWS


def start_execution(
    event: Mapping[str, Any], spec: ConsistencyCheck, cutoff: datetime, run_id: str, buckets: list[Bucket], plan: Tally
) -> str:
    import boto3

    arn = os.environ.get(STATE_MACHINE)
    if not arn:
        raise RuntimeError(f"mode {spec.mode} needs the state machine, and {STATE_MACHINE} is not set")
    # The Map state's ItemSelector adds check, secrets, cutoff, run and the access role to each
    # bucket; the role's key is there even when null, since the Map fails on a missing path.
    payload = {
        "check": event["check"],
        "secrets": event.get("secrets") or {},
        "cutoff": cutoff.isoformat(),
        "run": run_id,
        ACCESS_ROLE: aws.access_role(event),
        "plan": plan.to_json(),
        "buckets": [bucket_json(b) for b in buckets],
    }
    started = boto3.client("stepfunctions").start_execution(
        stateMachineArn=arn, name=f"{spec.id}-{run_id}"[:80], input=json.dumps(payload)
    )
    return str(started["executionArn"])


# -- the state machine's steps ------------------------------------------------------------------


def drill_bucket(event: Mapping[str, Any]) -> dict[str, Any]:
    """One Map iteration: raises on trouble, so the Map fails and gather reports it."""
    spec = parse(event["check"])
    resolve = runner.resolver(event.get("secrets") or {})
    cutoff = datetime.fromisoformat(event["cutoff"])
    key = f"{spec.id}/{event['run']}/bucket-{int(event['index']):05d}.jsonl"
    with comparing(spec, resolve, cutoff, key, aws.access_role(event)) as (comparison, _):
        tally = Tally(sample_size=spec.sample_size)
        comparison.drill([bucket_from(event["bucket"], spec)], tally)
    return tally.to_json()


def gather(event: Mapping[str, Any], spec: ConsistencyCheck, resolve: runner.SecretsResolver) -> CheckResult:
    if event.get("error"):
        error = event["error"]
        cause = error.get("Cause") if isinstance(error, Mapping) else error
        raise RuntimeError(f"a bucket comparison failed: {runner.one_line(str(cause))}")
    tally = Tally.from_json(event["plan"], sample_size=spec.sample_size)
    for part in event.get("results") or []:
        tally.merge(Tally.from_json(part, sample_size=spec.sample_size))
    bucket = os.environ.get(REPORTS_BUCKET)
    return result(spec, tally, f"s3://{bucket}/{spec.id}/{event['run']}/" if bucket else None)


def bucket_json(bucket: Bucket) -> list[Any]:
    """Compact (Step Functions input is at most 256 KB): lo, hi (a composite key as a list), then
    count and checksum per side; checksums as text, since JSON numbers lose 64-bit precision in
    some readers."""
    s, t = bucket.source, bucket.target
    lo, hi = (list(end) if isinstance(end, tuple) else end for end in (bucket.range.lo, bucket.range.hi))
    return [lo, hi, s.count, str(s.checksum), t.count, str(t.checksum)]


def bucket_from(data: list[Any], spec: ConsistencyCheck) -> Bucket:
    def key(end: Any) -> Key | None:
        return None if end is None else normalize_keys(end, spec.key.types())

    lo, hi = (key(end) for end in data[:2])
    return Bucket(Range(lo, hi), Summary(int(data[2]), int(data[3])), Summary(int(data[4]), int(data[5])))


# -- what a run reports -------------------------------------------------------------------------


def result(spec: ConsistencyCheck, tally: Tally, report: str | None) -> CheckResult:
    values = {metric: float(tally.counts.get(name, 0)) for name, metric in DIFF_METRICS.items()}
    values[TOTAL_METRIC] = float(tally.total)
    values["SourceRows"] = float(tally.source_rows)
    values["TargetRows"] = float(tally.target_rows)
    found = [f"{tally.counts[name]} {name.replace('_', ' ')}" for name in DIFF_METRICS if tally.counts.get(name)]
    rows = f"source {tally.source_rows:,} rows, target {tally.target_rows:,}"
    return CheckResult(
        check_id=spec.id,
        kind=KIND,
        status=Status.ok,
        values=values,
        units={name: "Count" for name in values},
        reason_code="drift" if found else None,
        reason=f"{', '.join(found)} ({rows})" if found else None,
        details={
            "report": report,
            "buckets": tally.buckets,
            "mismatched_buckets": tally.mismatched_buckets,
            "row_buckets": tally.row_buckets,
            **({"key_order": tally.key_order} if tally.key_order else {}),
        },
        samples=tuple(tally.sample),
    )


class Report:
    """Every difference as one JSON line in a temporary file, uploaded when the run ends: memory
    holds none of them. Without a reports bucket (a local run) nothing is kept."""

    def __init__(self, key: str) -> None:
        self.bucket = os.environ.get(REPORTS_BUCKET)
        self.key = key
        self.uri = f"s3://{self.bucket}/{key}" if self.bucket else None
        # Open for the whole run, closed by close(): not a with block.
        self._file = tempfile.TemporaryFile(mode="w+b") if self.bucket else None  # noqa: SIM115
        self.written = 0

    def write(self, diff: Difference) -> None:
        if self._file is not None:
            self._file.write(json.dumps(diff.to_json()).encode() + b"\n")
            self.written += 1

    def close(self, upload: bool) -> None:
        if self._file is None:
            return
        try:
            if upload:
                import boto3

                self._file.seek(0)
                boto3.client("s3").upload_fileobj(self._file, self.bucket, self.key)
        finally:
            self._file.close()


@contextmanager
def comparing(
    spec: ConsistencyCheck, resolve: runner.SecretsResolver, cutoff: datetime, report_key: str, role: str | None
) -> Iterator[tuple[Comparison, Report]]:
    """`role`: the access role DynamoDB and S3 sides are read in; None reads them as the caller."""
    shape = Shape(spec.key.types(), tuple(FieldType.parse(t) for t in spec.fields.values()), cutoff)
    same_engine = isinstance(spec.source, SqlEndpoint) and isinstance(spec.target, SqlEndpoint)
    fast = same_engine and spec.source.engine == spec.target.engine == "postgresql"  # type: ignore[union-attr]
    report = Report(report_key)
    with ExitStack() as stack:
        source = endpoint("source", spec, resolve, shape, fast, stack, role)
        target = endpoint("target", spec, resolve, shape, fast, stack, role)
        options = Options(
            key_types=shape.key_types,
            buckets=spec.buckets,
            fanout=spec.fanout,
            row_threshold=spec.row_threshold,
            sample_size=spec.sample_size,
        )
        comparison = Comparison(source, target, options, report.write)
        stack.callback(comparison.close)
        ok = False
        try:
            yield comparison, report
            ok = True
        finally:
            report.close(upload=ok and report.written > 0)


def endpoint(
    side: str,
    spec: ConsistencyCheck,
    resolve: runner.SecretsResolver,
    shape: Shape,
    fast: bool,
    stack: ExitStack,
    role: str | None,
) -> Endpoint:
    config = spec.source if side == "source" else spec.target
    secret_name = spec.source_secret if side == "source" else spec.target_secret
    key = config.key or spec.key.column  # a composite key: its columns, in order
    updated_at = config.updated_at or spec.updated_at
    columns = tuple(config.columns.get(name, name) for name in spec.fields)
    if isinstance(config, SqlEndpoint):
        from vigil.consistency.connect import engine_from_secret
        from vigil.consistency.sql import Source
        from vigil.consistency.sql import SqlEndpoint as SqlSide

        assert secret_name is not None  # the spec requires it
        # Errors come out as sqlconn.SqlError with the password masked: reasons reach e-mails.
        engine, on_error = engine_from_secret(config.engine, resolve(secret_name), spec.timeout)
        stack.callback(engine.dispose)
        source = Source(key=key, columns=columns, table=config.table, query=config.query, updated_at=updated_at)
        # Reads what the key columns hold (uuid, text and its collation) from one row.
        return SqlSide(side, engine, source, shape, fast_hash=fast, on_error=on_error)
    from vigil.consistency import stores

    if isinstance(config, DynamoDbEndpoint):
        # One connection per scan segment; the client is kept across runs, so sized for the most.
        client = aws.client("dynamodb", role, max_pool=MAX_SEGMENTS)
        scan = stores.dynamodb_scan(client, config.table, key, columns, updated_at, config.segments)
    elif isinstance(config, S3Endpoint):
        client = aws.client("s3", role)
        scan = stores.s3_scan(client, config.bucket, config.prefix, config.format, key, columns, updated_at)
    else:
        assert isinstance(config, SearchEndpoint)
        secret = resolve(secret_name) if secret_name else {}
        search = stores.SearchClient(
            config.url,
            timeout=min(60.0, spec.timeout),
            username=secret.get("username"),
            password=secret.get("password"),
            api_key=secret.get("api_key"),
            flavor=config.flavor,
        )
        # Counts per bucket from _count, checksums from scans of the buckets whose counts agree.
        return stores.SearchIndexEndpoint(side, shape, search, config.index, key, columns, updated_at)
    return ScanEndpoint(side, shape, scan)
