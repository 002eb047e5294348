"""`make demo`: vigil end to end on this machine, with no AWS account.

1. moto_server on 127.0.0.1 stands in for AWS; the real CDK CLI bootstraps it and deploys the
   stack for a demo catalog whose targets are local.
2. Demo targets: a healthy, a failing and a slow HTTP service on loopback, an SQS queue with a
   growing backlog and a dead-letter queue holding a message, a SQL Server error log in moto
   CloudWatch Logs with a burst of failed logins and one 823 I/O error, and, when this machine
   runs RabbitMQ with its management API (127.0.0.1:15672, guest/guest), a queue that fills while
   nobody consumes it (without a broker, the SQS queue shows the same failure).
3. Simulated minutes: the checkers run in-process (moto cannot run Lambda code without Docker),
   their values go through the alarm model (moto does not evaluate alarms), and every state
   change goes through the real notifier into moto SNS twice, as in AWS: as CloudWatch's SNS
   notification built from the *deployed* alarm (the alarm action) and as the EventBridge state
   change event (the rule); the deployed state table makes that one page. What the notifier
   published is printed as on-call receives it.
   Each checker run's log line goes to its log group in moto CloudWatch Logs, as in Lambda, so the
   ALARM e-mails quote the checker's last reason and samples.
   moto does not evaluate metric filters either: the log lines are read back from moto and counted
   per pattern with vigil.filter_pattern, the implementation the catalog validates patterns with.
4. The failing service, the queues' consumers and the database come back: the recoveries follow.

Issue 12's newcomer failures have their own steps (start_runtime, runtime_minute): an ECS service in
moto ECS whose tasks are OOM-killed (exit 137) and replaced, its stopped-task events written to the
stack's log group as EventBridge would (infra.demo_ecs), and a job that pings its heartbeat check
through the real ping endpoint, then misses a run (infra.demo_heartbeat).

5. Alert-life steps, each in its own module: a maintenance window silences an alarm
   (infra/demo_silences.py), a ServiceNow incident is created, updated and resolved on a fake
   instance (infra/demo_servicenow.py), a burst of 4 alarms of one service becomes 1 grouped
   page (infra/demo_grouping.py), a repeat fires twice then stops on acknowledgement
   (infra/demo_repeats.py), and an alarm still in ALARM when its ad-hoc silence ends pages then
   (infra/demo_silence_end.py).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from infra import demo_ecs, demo_grouping, demo_repeats, demo_servicenow, demo_silence_end, demo_silences, local_aws
from infra.alarm_events import eventbridge_event
from infra.alarm_model import AlarmState, evaluate
from infra.catalog import Catalog, load_catalog
from infra.demo_ecs import CrashingService
from infra.demo_heartbeat import PingingJob, simulated_clock
from infra.demo_targets import DemoServices, LocalBroker, SqlServerErrorLog
from infra.fake_servicenow import FakeServiceNow, fake_servicenow
from infra.local_checker import run_checker, visible_messages
from infra.placement import check_log_group
from infra.signal_alarms import checker_alarms
from vigil import filter_pattern
from vigil.alarm_meta import alarm_name
from vigil.notifier.repeats import ENVIRONMENT as PAGING_ENVS
from vigil.notifier.route_outputs import OUTPUT_SECRETS_ENV, ROUTE_OUTPUTS_ENV
from vigil.notifier.silencing import WINDOWS_ENV
from vigil.notifier.state import table_name
from vigil.spec.common import CheckBase
from vigil.spec.ecs import EcsCheck
from vigil.spec.heartbeat import HeartbeatCheck
from vigil.spec.log_pattern import PRESET_PATTERNS, LogPatternCheck
from vigil.spec.rabbitmq import NO_CONSUMERS
from vigil.spec.sqs import SqsCheck

ENV = "demo"
STACK = f"Vigil-{ENV}"
MINUTES = 10
FIX_AT = 6  # the minute the failing service, the queue's consumer and the database come back
BACKLOG_PER_MINUTE = 200
SLOW_SECONDS = 2.5
DB_CHECK = "campaign-db-errors"
DB_LOG_GROUP = "/aws/rds/instance/demo-sql/error"
DB_LOG_STREAM = "demo-sql.error"
FAILED_LOGINS_PER_MINUTE = 12
IO_ERROR_MINUTE = 3
BROKER_CHECK = "campaign-events-broker"
# One queue per run, so that demos sharing one broker (two worktrees, CI beside a developer) never
# empty or delete each other's queue.
BROKER_QUEUE_PREFIX = "demo-campaign-events-"
BROKER_SECRET = "vigil/demo/rabbitmq"
EVENTS_WAITING = 25
ECS_CHECK = "campaign-worker-ecs"
OOM_MINUTES = {2: 2, 3: 2}  # minute: tasks OOM-killed (and replaced by ECS) in it
JOB_CHECK = "report-export"
JOB_RUNS = {1, 3, 7, 9}  # it should run every 2 minutes: the run due at minute 5 never happens
STORY_CHECK = "campaign-api-health"  # the alarm of the ServiceNow and repeat steps' stories
STORY_SIGNAL = "down"


def demo_catalog(
    root: Path,
    services: DemoServices,
    broker: LocalBroker | None = None,
    *,
    start: datetime | None = None,
    servicenow: str | None = None,
) -> Path:
    """The demo's catalog: the sample settings, and checks pointing at the local targets.

    `start`: the simulation's first minute, for the maintenance window; `servicenow`: the fake
    instance's base URL, for the route's ServiceNow output.
    """
    root.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "defaults": {"cadence": "1m"},
        "contacts": {"oncall": {"email": "oncall@example.com", "sms": "+447700900123"}},
        "routes": {"oncall": {"email": ["oncall"], "sms": ["oncall"]}},
        "secrets": {},
        "self_monitoring_route": "oncall",
    }
    if servicenow is not None:
        settings["routes"]["oncall"]["outputs"] = [demo_servicenow.output_spec(servicenow)]
        settings["secrets"][demo_servicenow.SECRET_NAME] = demo_servicenow.SECRET_ID
    # The demo's services listen on loopback, which a check may call only with allow_private.
    http = {"kind": "http", "severity": "critical", "timeout": 2, "max_latency_ms": 1500, "allow_private": True}
    checks = [
        {**http, "id": "checkout-health", "url": services.url("/healthy"), "description": "Checkout service health."},
        {
            **http,
            "id": "campaign-api-health",
            "url": services.url("/failing"),
            "json_assert": {"path": "status", "equals": "ok"},
            "description": "Public health endpoint of the campaign API.",
            "runbook": "https://wiki.example.com/runbooks/campaign-api#health",
        },
        {
            **http,
            "id": "reporting-health",
            "severity": "warning",
            "url": services.url("/slow"),
            "description": "Reporting service health.",
        },
        {
            "id": "orders-queue",
            "kind": "sqs",
            "severity": "critical",
            "queue": "demo-orders",
            "dlq": "demo-orders-dlq",
            "description": "Orders waiting for the order-worker.",
            "runbook": "https://wiki.example.com/runbooks/orders#queue",
            "alarms": {"backlog": {"threshold": 500}},
        },
        {
            "id": DB_CHECK,
            "kind": "log_pattern",
            "severity": "warning",
            "log_group": DB_LOG_GROUP,
            "preset": "sqlserver",
            "description": "SQL Server error log of the campaign database.",
            "runbook": "https://wiki.example.com/runbooks/campaign-db#error-log",
            # One-minute windows (the preset counts over 5m) so alarms and recoveries fit in the demo.
            "alarms": {p.name: {"period": "1m"} for p in PRESET_PATTERNS["sqlserver"]},
        },
    ]
    checks += runtime_checks()
    if broker is not None:
        settings["secrets"]["demo-rabbitmq"] = BROKER_SECRET
        checks.append(
            {
                "id": BROKER_CHECK,
                "kind": "rabbitmq",
                "severity": "critical",
                "url": broker.url,
                "credentials_secret": "demo-rabbitmq",
                "vhost": "/",
                "pattern": f"^{broker.queue}$",  # letters, digits and '-': nothing to escape
                "timeout": 10,
                "description": "Campaign events for the notification service.",
                "runbook": "https://wiki.example.com/runbooks/campaign-events#consumers",
            }
        )
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    service: dict[str, Any] = {"service": "campaigns", "team": "campaigns", "checks": checks}
    if start is not None:
        service["windows"] = {demo_silences.WINDOW: demo_silences.window_spec(start, DB_CHECK)}
    (root / "demo.yaml").write_text(yaml.safe_dump(service, sort_keys=False))
    return root


def runtime_checks() -> list[dict[str, Any]]:
    """Issue 12's newcomer failures the demo shows: an ECS service whose tasks are OOM-killed, a job that
    does not run."""
    return [
        {
            "id": ECS_CHECK,
            "kind": "ecs",
            "severity": "critical",
            "cluster": demo_ecs.CLUSTER,
            "ecs_service": demo_ecs.SERVICE,
            "description": "The campaign worker's ECS service.",
            "runbook": "https://wiki.example.com/runbooks/campaign-worker#ecs",
            # The default rule (>= 2 crashed tasks) on one-minute periods, so the demo's minutes show it.
            "alarms": {"tasks_crashed": {"period": "1m"}},
        },
        {
            "id": JOB_CHECK,
            "kind": "heartbeat",
            "severity": "warning",
            "period": "2m",
            "grace": "1m",
            "cadence": "1m",
            "token_secret_name": f"vigil/heartbeat/demo-{JOB_CHECK}",
            "description": "The campaign report export (every 2 minutes in the demo, nightly in production).",
        },
    ]


@dataclass
class Delivered:
    minute: int
    topic: str
    subject: str
    email: str
    sms: str


@dataclass
class Track:
    """One alarm as the demo models it: its rule, its datapoints so far and its state."""

    check: CheckBase
    signal: str
    series: list[float | None] = field(default_factory=list)
    state: AlarmState = AlarmState.OK
    last_value: float | None = None


class Publications:
    """Records every SNS Publish the notifier makes, exactly as sent (moto keeps no SMS from topics)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.items.append(dict(params))


def run_demo(out: Any = print) -> int:
    started = time.monotonic()
    services = DemoServices(slow_seconds=SLOW_SECONDS)
    local_broker = LocalBroker(BROKER_QUEUE_PREFIX + secrets.token_hex(3))
    broker = local_broker if local_broker.available() else None
    # The simulated clock: its minutes are the alarms' and the maintenance window's.
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    with (
        services.running(),
        tempfile.TemporaryDirectory(prefix="vigil-demo-") as tmp,
        contextlib.closing(broker) if broker else contextlib.nullcontext(),
        fake_servicenow(demo_servicenow.authorization()) as servicenow,
    ):
        catalog_dir = demo_catalog(Path(tmp) / "checks", services, broker, start=start, servicenow=servicenow.base_url)
        catalog = load_catalog(catalog_dir)
        out(f"== vigil demo: {len(catalog.checks)} checks, local targets on 127.0.0.1:{services.port}")
        out(
            f"== RabbitMQ found at {broker.url}: queue {broker.queue} fills with nobody consuming"
            if broker
            else "== no RabbitMQ with its management API on 127.0.0.1:15672: the SQS queue shows a stopped consumer"
        )
        with local_aws.start_moto_server() as endpoint:
            out(f"== local AWS (moto_server) at {endpoint}")
            deploy_stack(endpoint, catalog_dir, Path(tmp) / "cdk.out", out)
            setup_started = time.monotonic()
            with aws_environment(endpoint):
                code = simulate(catalog, services, broker, endpoint, out, start=start, servicenow=servicenow)
            out(
                f"\n== done: simulation took {time.monotonic() - setup_started:.0f}s, whole demo {time.monotonic() - started:.0f}s"
            )
        out("== moto_server stopped; demo services stopped")
    return code


def deploy_stack(endpoint: str, catalog_dir: Path, output_dir: Path, out: Any) -> None:
    t0 = time.monotonic()
    local_aws.bootstrap(endpoint)
    out(f"== cdk bootstrap: done in {time.monotonic() - t0:.0f}s")
    t0 = time.monotonic()
    local_aws.deploy(endpoint, STACK, output_dir=output_dir, context={"env": ENV, "catalog": str(catalog_dir)})
    out(f"== cdk deploy {STACK}: done in {time.monotonic() - t0:.0f}s")
    summary = local_aws.deployed_resources(endpoint, STACK)
    out(summary.format())


@contextlib.contextmanager
def aws_environment(endpoint: str):
    import os

    saved = dict(os.environ)
    os.environ.update(local_aws.aws_env(endpoint))
    os.environ.update(
        {
            "TOPIC_ARN_PREFIX": f"arn:aws:sns:{local_aws.REGION}:{local_aws.ACCOUNT}:vigil-{ENV}-",
            "FALLBACK_ROUTE": "oncall",
            "DASHBOARD_NAME": f"vigil-{ENV}",
            "STACK_REGION": local_aws.REGION,
            "STATE_TABLE": table_name(ENV),
            "VIGIL_ENV": ENV,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    # What the stack hands the notifier from the catalog (windows, outputs, their secrets), as deployed.
    os.environ.update(deployed_notifier_settings(endpoint))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def deployed_notifier(endpoint: str) -> dict[str, Any]:
    """The deployed notifier's configuration (the function with FALLBACK_ROUTE)."""
    found = [
        fn
        for page in local_aws.client("lambda", endpoint).get_paginator("list_functions").paginate()
        for fn in page["Functions"]
        if "FALLBACK_ROUTE" in fn.get("Environment", {}).get("Variables", {})
    ]
    if len(found) != 1:
        raise RuntimeError(f"expected one deployed notifier function, found {len(found)}")
    return found[0]


def deployed_notifier_variables(endpoint: str) -> dict[str, str]:
    """The deployed notifier's environment."""
    return dict(deployed_notifier(endpoint)["Environment"]["Variables"])


def deployed_notifier_settings(endpoint: str) -> dict[str, str]:
    """The deployed notifier's windows, route outputs and output secrets, and its repeats (Scheduler group,
    role, acknowledgement URL and key)."""
    variables = deployed_notifier_variables(endpoint)
    names = (WINDOWS_ENV, ROUTE_OUTPUTS_ENV, OUTPUT_SECRETS_ENV, *PAGING_ENVS)
    return {name: variables[name] for name in names if name in variables}


def simulate(
    catalog: Catalog,
    services: DemoServices,
    broker: LocalBroker | None,
    endpoint: str,
    out: Any,
    *,
    start: datetime,
    servicenow: FakeServiceNow,
) -> int:
    import boto3

    from vigil.notifier import handler as notifier

    session = boto3.session.Session()
    sqs = session.client("sqs", endpoint_url=endpoint)
    cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)
    logs = session.client("logs", endpoint_url=endpoint)
    # The notifier creates its own client from the default session: listen there.
    boto3.setup_default_session()
    publications = Publications()
    boto3.DEFAULT_SESSION.events.register("provide-client-params.sns.Publish", publications)
    notifier._clients.clear()
    # The deployed stack's table, as the notifier in AWS uses it: the demo fails if it is missing.
    session.client("dynamodb", endpoint_url=endpoint).describe_table(TableName=table_name(ENV))

    queue = sqs.create_queue(QueueName="demo-orders")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="demo-orders-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"order": 4711, "error": "schema mismatch"}))
    # The database's log group exists before vigil (RDS creates it); here the demo stands in for RDS.
    logs.create_log_group(logGroupName=DB_LOG_GROUP)
    logs.create_log_stream(logGroupName=DB_LOG_GROUP, logStreamName=DB_LOG_STREAM)
    error_log = SqlServerErrorLog(FAILED_LOGINS_PER_MINUTE, IO_ERROR_MINUTE)
    demo_servicenow.create_secret(session.client("secretsmanager", endpoint_url=endpoint))
    if broker is not None:
        session.client("secretsmanager", endpoint_url=endpoint).create_secret(
            Name=BROKER_SECRET, SecretString=json.dumps({"username": broker.USER, "password": broker.PASSWORD})
        )
        broker.declare()
        broker.publish(EVENTS_WAITING)
        broker.wait_until(lambda queue: queue.get("messages", 0) >= EVENTS_WAITING)

    service, job = start_runtime(catalog, session, endpoint, out)

    tracks = [Track(check, signal) for check in catalog.checks for signal in check.active_signals()]
    mutes = demo_silences.CloudWatchMutes(catalog.windows)
    delivered: list[Delivered] = []
    transitions = duplicates = 0
    emf_sample = ""
    out(
        f"\n== {MINUTES} simulated minutes (the failing service, the queue consumer and the database "
        f"come back at minute {FIX_AT})"
    )
    out(
        f"   SQL Server error log lines go to moto CloudWatch Logs ({DB_LOG_GROUP}); moto does not evaluate "
        "metric filters, so vigil reads the lines back and counts the matches per pattern with "
        "vigil.filter_pattern (the implementation the catalog validates patterns with)"
    )
    for minute in range(MINUTES):
        now = start + timedelta(minutes=minute)
        state_of = {alarm_name(ENV, t.check.id, t.signal): t.state.value for t in tracks}
        for action in mutes.ended(state_of.__getitem__, minute, now):
            before = len(publications.items)
            notifier.handler(action, None)
            delivered += [_delivered(minute, params) for params in publications.items[before:]]
        if minute == FIX_AT:
            services.fix()
            error_log.fix()
            sqs.purge_queue(QueueUrl=queue)
            sqs.purge_queue(QueueUrl=dlq)
            if broker is not None:
                broker.attach_consumer()
            out(
                f"-- minute {minute}: campaign-api fixed, order-worker drained the queue, DLQ redriven, "
                "the password-guessing client blocked"
                + (", the notification service consumes campaign events again" if broker else "")
            )
        elif minute < FIX_AT:
            sqs.send_message_batch(
                QueueUrl=queue,
                Entries=[{"Id": str(i), "MessageBody": f"order {minute}-{i}"} for i in range(10)],
            )
            for _ in range(BACKLOG_PER_MINUTE // 10 - 1):
                sqs.send_message_batch(
                    QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": "order"} for i in range(10)]
                )
        written = error_log.lines(minute, now)
        logs.put_log_events(
            logGroupName=DB_LOG_GROUP,
            logStreamName=DB_LOG_STREAM,
            logEvents=[{"timestamp": _ms(now) + i, "message": m} for i, m in enumerate(written)],
        )
        for line in runtime_minute(service, job, minute, now):
            out(f"-- minute {minute}: {line}")
        values, emf = measure_all(catalog, sqs, logs, queue, dlq, now, minute, service)
        emf_sample = emf_sample or emf
        for track in tracks:
            value = values.get((track.check.id, track.signal))
            track.series.append(value)
            track.last_value = value if value is not None else track.last_value
            new = evaluate(track.check.rule(track.signal), track.series, initial=AlarmState.OK)[-1]
            if new is not track.state:
                before = len(publications.items)
                by_action = sns_event(cloudwatch, track, new, now)
                name = alarm_name(ENV, track.check.id, track.signal)
                acts = mutes.act(track.check, name, new.value, by_action, minute, now)
                if acts:  # a mute rule in force runs no action (CloudWatch's part, played by the demo)
                    notifier.handler(by_action, None)
                copy = notifier.handler(eventbridge_event(by_action), None)["skipped"]
                if copy and not acts:
                    mutes.held(minute, name)
                duplicates += copy
                transitions += 1
                for params in publications.items[before:]:
                    delivered.append(_delivered(minute, params))
                track.state = new
        out(
            f"   minute {minute}: "
            + ", ".join(
                f"{t.check.id}/{t.signal}={_fmt(t.last_value)} {t.state.value}"
                for t in tracks
                if t.signal != "measure" and t.check.kind != "log_pattern"
            )
        )
        # Seven patterns would drown the line above: only those that matched or are in ALARM.
        matched = [t for t in tracks if t.check.kind == "log_pattern" and (t.last_value or t.state is AlarmState.ALARM)]
        out(
            f"   minute {minute}: {len(written)} SQL Server log lines, matches per pattern: "
            + (", ".join(f"{t.signal}={_fmt(t.last_value)} {t.state.value}" for t in matched) or "none")
        )

    story = demo_servicenow.run_story(
        lambda new, old, minute: delivered.extend(
            _notify_story(notifier, publications, cloudwatch, tracks, start, new, old, minute)
        ),
        servicenow,
        MINUTES,
    )

    out("\n== one checker's metrics line (Embedded Metric Format, as CloudWatch Logs receives it)")
    out("   " + emf_sample)
    print_summary(tracks, out)
    print_notifications(delivered, out)
    print_first_alarm_email(delivered, DB_CHECK, out)
    if broker is not None:
        print_first_alarm_email(delivered, f"{BROKER_CHECK} {NO_CONSUMERS}", out)
    print_first_alarm_email(delivered, f"{ECS_CHECK} tasks_crashed", out)
    print_first_alarm_email(delivered, f"{JOB_CHECK} missed", out)
    footers = demo_silences.footers([(d.minute, d.email) for d in delivered])
    window_shown = demo_silences.print_window_step(mutes, footers, out)
    servicenow_shown = demo_servicenow.print_servicenow_step(servicenow, story, out)
    # A failing disk: the database's error log matches four patterns within seconds.
    burst = [t for t in tracks if t.check.id == DB_CHECK and t.state is AlarmState.OK][: demo_grouping.BURST]
    burst_start = start + timedelta(minutes=MINUTES + 1)
    grouped_shown = demo_grouping.run_grouping_step(
        notifier,
        publications.items,
        lambda track, new, seconds: _burst_change(cloudwatch, track, new, burst_start + timedelta(seconds=seconds)),
        burst,
        [alarm_name(ENV, t.check.id, t.signal) for t in burst],
        deployed_notifier_variables(endpoint),
        out,
    )
    stage = demo_repeats.Stage(
        cloudwatch,
        session.client("scheduler", endpoint_url=endpoint),
        alarm_name(ENV, STORY_CHECK, STORY_SIGNAL),
        lambda state, at: _story_event(cloudwatch, tracks, AlarmState(state), at),
        publications.items,
        deployed_notifier(endpoint)["FunctionArn"],
    )
    repeats_start = start + timedelta(minutes=MINUTES + len(demo_servicenow.STORY) + 1)  # after the ServiceNow story
    repeats_shown = demo_repeats.print_repeats_step(demo_repeats.run_story(stage, repeats_start), out)
    silence_end_story = demo_silence_end.run_story(
        stage,
        session.client("dynamodb", endpoint_url=endpoint),
        table_name(ENV),
        STORY_CHECK,
        repeats_start + timedelta(hours=4),  # the repeats story is over by then
    )
    silence_end_shown = demo_silence_end.print_step(silence_end_story, out)
    alarms = sum(1 for d in delivered if "ALARM" in d.subject)
    oks = sum(1 for d in delivered if d.subject.startswith("[OK"))
    out(f"\n== {len(delivered)} notifications published: {alarms} ALARM, {oks} OK (recovery)")
    out(
        f"== each of the {transitions} state changes reached the notifier twice (alarm action through SNS, "
        f"EventBridge rule); second copies that paged again: {transitions - duplicates} "
        f"(state table {table_name(ENV)})"
    )
    steps = window_shown and servicenow_shown and grouped_shown and repeats_shown and silence_end_shown
    return 0 if alarms and oks and duplicates == transitions and steps else 1


def _notify_story(
    notifier: Any,
    publications: Publications,
    cloudwatch: Any,
    tracks: list[Track],
    start: datetime,
    new: AlarmState,
    old: AlarmState,
    minute: int,
) -> list[Delivered]:
    """One change of the ServiceNow story's alarm (campaign-api-health down), through both paths."""
    before = len(publications.items)
    by_action = _story_event(cloudwatch, tracks, new, start + timedelta(minutes=minute), old)
    notifier.handler(by_action, None)
    notifier.handler(eventbridge_event(by_action), None)
    return [_delivered(minute, params) for params in publications.items[before:]]


def _story_event(
    cloudwatch: Any, tracks: list[Track], new: AlarmState, at: datetime, old: AlarmState | None = None
) -> dict[str, Any]:
    """The story alarm's (campaign-api-health down) SNS notification of entering `new` at `at`, from `old`
    (default: the other of ALARM and OK)."""
    track = next(t for t in tracks if t.check.id == STORY_CHECK and t.signal == STORY_SIGNAL)
    rule = track.check.rule(track.signal)
    failing = new is AlarmState.ALARM
    before = old or (AlarmState.OK if failing else AlarmState.ALARM)
    story = replace(track, state=before, series=[*track.series, *[0.0 if failing else 1.0] * rule.evaluation_periods])
    return sns_event(cloudwatch, story, new, at)


def _burst_change(cloudwatch: Any, track: Track, new: AlarmState, at: datetime) -> dict[str, Any]:
    """The alarm action of the grouping step's change of `track` to `new`, with values that make it so."""
    rule = track.check.rule(track.signal)
    above = rule.comparison.value in (">", ">=")
    breaching = rule.threshold + 1 if above else max(rule.threshold - 1, 0.0)
    healthy = max(rule.threshold - 1, 0.0) if above else rule.threshold + 1
    value = breaching if new is AlarmState.ALARM else healthy
    old = AlarmState.OK if new is AlarmState.ALARM else AlarmState.ALARM
    series = [*track.series, *[value] * rule.evaluation_periods]
    return sns_event(cloudwatch, replace(track, state=old, series=series), new, at)


def measure_all(
    catalog: Catalog,
    sqs: Any,
    logs: Any,
    queue: str,
    dlq: str,
    now: datetime,
    minute: int,
    service: CrashingService,
) -> tuple[dict[tuple[str, str], float | None], str]:
    values: dict[tuple[str, str], float | None] = {}
    emf = ""
    for check in catalog.checks:
        if isinstance(check, LogPatternCheck):
            values.update({(check.id, name): n for name, n in count_matches(logs, check, now).items()})
            continue
        if isinstance(check, EcsCheck):
            measured = service.measure(check, lambda group: minute_messages(logs, group, now))
            values.update({(check.id, signal): value for signal, value in measured.items()})
            continue
        if isinstance(check, SqsCheck):
            # moto publishes no SQS metrics: read the same quantities from the queues themselves.
            backlog = visible_messages(sqs, queue)
            values[(check.id, "backlog")] = backlog
            values[(check.id, "age")] = 60.0 * minute if backlog and minute < FIX_AT else 0.0
            values[(check.id, "dlq")] = visible_messages(sqs, dlq)
            continue
        with simulated_clock(check, now):
            run = run_checker(check, catalog)
        emf = emf or next(iter(run.emf_lines), "")
        log_run(logs, check, run.emf_lines, now)
        # The series each deployed alarm watches, as `python -m infra run` reads them.
        written = run.datapoints()
        values.update({(check.id, alarm.signal): alarm.datapoint(written) for alarm in checker_alarms(check)})
    return values, emf


def log_run(logs: Any, check: CheckBase, lines: list[str], at: datetime) -> None:
    """What Lambda does with a checker's stdout: its log group, where the notifier finds the evidence."""
    group = check_log_group(ENV, check)
    assert group is not None
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=check.id)
    if lines:
        logs.put_log_events(
            logGroupName=group, logStreamName=check.id, logEvents=[{"timestamp": _ms(at), "message": m} for m in lines]
        )


def count_matches(logs: Any, check: LogPatternCheck, minute: datetime) -> dict[str, float]:
    """Per pattern, the lines of this minute that match: what the metric filter would publish (0 if none)."""
    messages = minute_messages(logs, check.log_group, minute)
    parsed = {p.name: filter_pattern.parse(p.pattern) for p in check.all_patterns()}
    return {name: float(sum(1 for m in messages if pattern.matches(m))) for name, pattern in parsed.items()}


def minute_messages(logs: Any, log_group: str, minute: datetime) -> list[str]:
    """The log events of one minute in a log group, all its streams: what its metric filters see."""
    start = _ms(minute)
    messages: list[str] = []
    for stream in logs.describe_log_streams(logGroupName=log_group)["logStreams"]:
        events = logs.get_log_events(
            logGroupName=log_group,
            logStreamName=stream["logStreamName"],
            startTime=start,
            endTime=start + 60_000,
            startFromHead=True,
        )["events"]
        messages += [e["message"] for e in events]
    return messages


def start_runtime(catalog: Catalog, session: Any, endpoint: str, out: Any) -> tuple[CrashingService, PingingJob]:
    """The ECS service of the ecs check in moto, and the job of the heartbeat check with its token."""
    service = CrashingService(
        session.client("ecs", endpoint_url=endpoint),
        session.client("logs", endpoint_url=endpoint),
        ENV,
        local_aws.REGION,
        local_aws.ACCOUNT,
    )
    out(service.start())
    check = catalog.by_id(JOB_CHECK)
    assert isinstance(check, HeartbeatCheck)
    job = PingingJob(check, JOB_RUNS)
    out(
        job.start(
            session.client("cloudformation", endpoint_url=endpoint),
            session.client("secretsmanager", endpoint_url=endpoint),
            session.client("dynamodb", endpoint_url=endpoint),
            STACK,
        )
    )
    return service, job


def runtime_minute(service: CrashingService, job: PingingJob, minute: int, now: datetime) -> list[str]:
    """What happens to the ECS service and the job this minute, before the checks look."""
    lines = []
    if minute in OOM_MINUTES:
        lines.append(service.oom_kill(now, OOM_MINUTES[minute]))
    elif minute == max(OOM_MINUTES) + 1:
        lines.append(f"{demo_ecs.SERVICE} redeployed with more memory: no more OOM kills")
    pinged = job.minute(minute, now)
    if pinged:
        lines.append(pinged)
    elif minute > min(job.runs_at) and minute % 2 == 1:
        lines.append(f"job {job.check.id} did not run (its host was being patched): no ping")
    return lines


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def sns_event(cloudwatch: Any, track: Track, new: AlarmState, now: datetime) -> dict[str, Any]:
    """CloudWatch's SNS alarm notification for this transition, built from the deployed alarm."""
    name = alarm_name(ENV, track.check.id, track.signal)
    found = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if not found:
        raise RuntimeError(f"alarm {name} was not deployed: the stack and the demo catalog disagree")
    alarm = found[0]
    rule = track.check.rule(track.signal)
    recent = [v for v in track.series[-rule.evaluation_periods :] if v is not None]
    stamp = now.strftime("%d/%m/%y %H:%M:%S")
    verb = {">": "greater than", ">=": "greater than or equal to", "<": "less than", "<=": "less than or equal to"}
    points = ", ".join(f"{v:.1f} ({stamp})" for v in reversed(recent))
    crossed = "were" if new is AlarmState.ALARM else "were not all"
    reason = (
        f"Threshold Crossed: {len(recent)} out of the last {rule.evaluation_periods} datapoints [{points}] "
        f"{crossed} {verb[rule.comparison.value]} the threshold ({rule.threshold:.1f}) "
        f"(minimum {rule.datapoints_to_alarm} datapoints for OK -> ALARM transition)."
    )
    message = {
        "AlarmName": name,
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": local_aws.ACCOUNT,
        "AlarmConfigurationUpdatedTimestamp": now.isoformat(timespec="milliseconds"),
        "NewStateValue": new.value,
        "NewStateReason": reason,
        "StateChangeTime": now.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "Region": "US East (N. Virginia)",
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": track.state.value,
        "OKActions": alarm.get("OKActions", []),
        "AlarmActions": alarm.get("AlarmActions", []),
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": alarm.get("MetricName"),
            "Namespace": alarm.get("Namespace"),
            "StatisticType": "Statistic",
            "Statistic": str(alarm.get("Statistic", "Maximum")).upper(),
            "Unit": None,
            "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])],
            "Period": alarm.get("Period"),
            "EvaluationPeriods": alarm.get("EvaluationPeriods"),
            "DatapointsToAlarm": alarm.get("DatapointsToAlarm"),
            "ComparisonOperator": alarm.get("ComparisonOperator"),
            "Threshold": alarm.get("Threshold"),
            "TreatMissingData": alarm.get("TreatMissingData"),
            "EvaluateLowSampleCountPercentile": "",
        },
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "Sns": {"Type": "Notification", "Subject": f'{new.value}: "{name}"', "Message": json.dumps(message)},
            }
        ]
    }


def _delivered(minute: int, params: dict[str, Any]) -> Delivered:
    body = json.loads(params["Message"])
    return Delivered(
        minute, params["TopicArn"].rsplit(":", 1)[-1], params.get("Subject", ""), body["default"], body["sms"]
    )


def print_summary(tracks: list[Track], out: Any) -> None:
    out("\n== summary after the last minute")
    width = max(len(t.signal) for t in tracks)
    out(f"   {'check':<22} {'signal':<{width}} {'rule':<36} {'value':>8}  state")
    for t in tracks:
        rule = t.check.rule(t.signal).describe(t.check.signals[t.signal].unit)
        out(f"   {t.check.id:<22} {t.signal:<{width}} {rule:<36} {_fmt(t.last_value):>8}  {t.state.value}")


def print_notifications(delivered: list[Delivered], out: Any) -> None:
    out("\n== what on-call received (topic, e-mail subject, SMS text), in order")
    for d in delivered:
        out(f"\n-- minute {d.minute} → {d.topic}")
        out(f"   e-mail subject: {d.subject}")
        out(f"   SMS ({len(d.sms)} chars): {d.sms}")
    print_first_alarm_email(delivered, "", out)


def print_first_alarm_email(delivered: list[Delivered], check_id: str, out: Any) -> None:
    """The first ALARM's whole e-mail; with a check id, the first of that check's."""
    first = next((d for d in delivered if "ALARM" in d.subject and check_id in d.subject), None)
    if first:
        of = f" of {check_id}" if check_id else ""
        out(f"\n== the full e-mail of the first ALARM{of} (minute {first.minute})")
        out("\n".join("   | " + line for line in first.email.splitlines()))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
