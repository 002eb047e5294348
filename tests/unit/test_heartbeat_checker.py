"""Heartbeats end to end in-process: jobs ping the real endpoint (function URL events), the real checker runs
on its cadence against moto, its metrics go through vigil's model of CloudWatch's alarm evaluation, and its
EMF line reaches the ALARM e-mail through the real notifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from infra.alarm_model import AlarmState, evaluate
from infra.placement import check_log_group
from tests.support.alarm_events import notifier_run, state_change
from tests.support.emf import assert_vigil_emf, only_emf
from tests.support.heartbeat import TABLE, aws, catalog, check, ping, run_checker  # noqa: F401 (fixture)
from vigil.alarm_meta import AlarmMeta, alarm_name, encode_description
from vigil.notifier import handler as notifier
from vigil.notifier.events import parse_alarm
from vigil.spec.heartbeat import FAILED_METRIC, MISSED_METRIC, HeartbeatCheck

ENV = "demo"
MIN = timedelta(minutes=1)
# 2026-11-27 02:30 in Europe/London is 02:30Z (GMT); nightly-export is due then, with 15m grace.
DUE = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
WATCHING = DUE - timedelta(hours=12)  # the checker's first run: the night before is not due


def cadence_runs(monkeypatch, c: HeartbeatCheck, start: datetime, end: datetime, pings: dict | None = None):
    """The checker every cadence from start to end (pings sent just before the run at their time):
    the (time, result) of each run."""
    db = boto3.client("dynamodb")
    runs = []
    at = start
    while at <= end:
        for path, (when, body) in (pings or {}).items():
            if at - timedelta(seconds=c.cadence) < when <= at:
                assert ping(db, path, when, body=body).status == 200
        runs.append((at, run_checker(monkeypatch, c, at)))
        at += timedelta(seconds=c.cadence)
    return runs


def states(c: HeartbeatCheck, signal: str, runs) -> list[AlarmState]:
    """The alarm's state after each run, from the metric the run wrote for that signal."""
    metric = c.signals[signal].metric
    # MeasureFailed is the runner's, from the run's status (vigil.metrics); the rest are the checker's values.
    values = [float(r["status"] == "failed") if metric == "MeasureFailed" else r["values"].get(metric) for _, r in runs]
    return evaluate(c.rule(signal), values, AlarmState.OK)


def first_alarm(runs, alarm_states) -> datetime | None:
    return next((at for (at, _), s in zip(runs, alarm_states, strict=True) if s is AlarmState.ALARM), None)


def test_a_late_ping_alarms_and_the_next_ping_recovers(aws, monkeypatch):  # noqa: F811
    c = check("hourly-sync")
    t0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    run_checker(monkeypatch, c, t0 - timedelta(hours=1))  # the first run registers the check
    pings = {
        "/ping/hourly-sync/start": (t0 + 1 * MIN - timedelta(seconds=30), b""),
        "/ping/hourly-sync/0": (t0 + 2 * MIN - timedelta(seconds=30), b"synced 120 rows\n"),
    }
    # Due again by 10:01:30 + 1h + 10m grace = 11:11:30; the job is late and pings at 11:20.
    runs = cadence_runs(monkeypatch, c, t0, t0 + 80 * MIN, pings)
    late_start = {"/ping/hourly-sync/start": (t0 + 80 * MIN + timedelta(seconds=30), b"")}
    late = cadence_runs(monkeypatch, c, t0 + 81 * MIN, t0 + 82 * MIN, late_start)

    missed = states(c, "missed", runs + late)
    assert first_alarm(runs, missed[: len(runs)]) == t0 + 72 * MIN  # the first run after 11:11:30
    assert missed[len(runs) - 1] is AlarmState.ALARM and missed[-1] is AlarmState.OK
    assert set(states(c, "failed", runs)) == {AlarmState.OK}
    assert set(states(c, "measure", runs + late)) == {AlarmState.OK}


def test_a_start_without_a_success_alarms_after_the_grace_time_as_failed_not_missed(aws, monkeypatch):  # noqa: F811
    c = check("nightly-export")
    run_checker(monkeypatch, c, WATCHING)
    runs = cadence_runs(monkeypatch, c, DUE, DUE + 45 * MIN, {"/ping/nightly-export/start": (DUE + 1 * MIN, b"")})

    failed = states(c, "failed", runs)
    # Started 02:31; no success or fail within max_runtime (the grace, 15m) → 02:46: the 02:50 run says so.
    assert first_alarm(runs, failed) == DUE + 20 * MIN
    assert set(states(c, "missed", runs)) == {AlarmState.OK}
    reason = runs[-1][1]["reason"]
    assert reason.startswith("started at 2026-11-27T02:31:00Z and sent no success or fail ping within 15m")


def test_did_not_start_is_told_apart_from_failed(aws, monkeypatch):  # noqa: F811
    c = check("nightly-export")
    run_checker(monkeypatch, c, WATCHING)

    silent = cadence_runs(monkeypatch, c, DUE, DUE + 20 * MIN)
    assert first_alarm(silent, states(c, "missed", silent)) == DUE + 15 * MIN
    assert set(states(c, "failed", silent)) == {AlarmState.OK}
    assert silent[-1][1]["reason"].startswith("did not start: no ping for the 2026-11-27 02:30 Europe/London run")

    next_day = DUE + timedelta(days=1)
    pings = {
        "/ping/nightly-export/start": (next_day + 1 * MIN, b""),
        "/ping/nightly-export/1": (next_day + 4 * MIN, b"ERROR: upstream refused\n"),
    }
    failing = cadence_runs(monkeypatch, c, next_day, next_day + 20 * MIN, pings)
    assert first_alarm(failing, states(c, "failed", failing)) == next_day + 5 * MIN
    assert states(c, "missed", silent + failing)[-1] is AlarmState.OK  # it ran: the miss recovered
    assert failing[-1][1]["reason_code"] == "failed"


def test_each_run_writes_one_emf_line_with_the_verdict_and_the_evidence(aws, monkeypatch, capsys):  # noqa: F811
    c = check("nightly-export")
    db = boto3.client("dynamodb")
    run_checker(monkeypatch, c, WATCHING)
    ping(db, "/ping/nightly-export/start", DUE + 1 * MIN)
    ping(db, "/ping/nightly-export/137", DUE + 9 * MIN, body=b"loading part 7/9\nKilled\n")
    capsys.readouterr()

    result = run_checker(monkeypatch, c, DUE + 10 * MIN)

    document = only_emf(capsys.readouterr().out)
    assert_vigil_emf(document, c.id, {"MeasureFailed": 0, MISSED_METRIC: 0, FAILED_METRIC: 1})
    assert (
        document["reason"]
        == result["reason"]
        == ("failed with exit code 137 at 2026-11-27T02:39:00Z (started 2026-11-27T02:31:00Z)")
    )
    assert document["samples"] == ["loading part 7/9", "Killed"]


def test_a_table_it_cannot_read_is_could_not_measure(aws, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("VIGIL_HEARTBEAT_TABLE", "no-such-table")

    result = run_checker(monkeypatch, check("nightly-export"), DUE)

    assert (result["status"], result["reason_code"]) == ("failed", "no_table")
    assert_vigil_emf(only_emf(capsys.readouterr().out), "nightly-export", {"MeasureFailed": 1})


def test_an_unset_table_is_could_not_measure(aws, monkeypatch):  # noqa: F811
    monkeypatch.delenv("VIGIL_HEARTBEAT_TABLE")

    result = run_checker(monkeypatch, check("nightly-export"), DUE)

    assert (result["status"], result["reason_code"]) == ("failed", "config")


def test_the_alarm_email_quotes_the_exit_code_and_the_last_log_lines(aws, monkeypatch, capsys):  # noqa: F811
    """The checker's EMF line in its log group, an ALARM of the check's failed signal, the real notifier."""
    c = check("hourly-sync")
    db = boto3.client("dynamodb")
    # CloudWatch Logs keeps events from the last 14 days only: this scenario happens an hour ago.
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    run_checker(monkeypatch, c, now - timedelta(hours=2))
    ping(db, "/ping/hourly-sync/start", now - 6 * MIN)
    output = "".join(f"row batch {i} ok\n" for i in range(30)) + "java.lang.OutOfMemoryError: Java heap space\n"
    ping(db, "/ping/hourly-sync/137", now - 1 * MIN, body=output.encode())
    capsys.readouterr()
    run_checker(monkeypatch, c, now)
    (line,) = [text for text in capsys.readouterr().out.splitlines() if text.startswith("{")]

    group = check_log_group(ENV, c)
    assert group == "/vigil/demo/checkers/heartbeat"
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="run")
    logs.put_log_events(
        logGroupName=group, logStreamName="run", logEvents=[{"timestamp": int(now.timestamp() * 1000), "message": line}]
    )
    monkeypatch.setattr(notifier, "_clients", {})

    payload = alarm_event(c, "failed", now + 1 * MIN)
    outgoing = notifier.prepare(payload, parse_alarm(payload), None, notifier_run(ENV))

    assert not outgoing.fallback and outgoing.routes == ("data-warning",)
    email = outgoing.notification.email
    assert "Last check run" in email
    assert f"failed with exit code 137 at {now - 1 * MIN:%Y-%m-%dT%H:%M:%SZ}" in email
    assert "  - java.lang.OutOfMemoryError: Java heap space" in email
    assert "  - row batch 29 ok" in email and "row batch 20 ok" not in email  # the last ten lines
    assert outgoing.notification.subject == "[ALARM][warning] hourly-sync failed - reporting"


def alarm_event(c: HeartbeatCheck, signal: str, at: datetime) -> dict:
    """The EventBridge alarm event for the check's alarm, described as infra.alarms describes it."""
    meta = AlarmMeta(
        check=c.id,
        signal=signal,
        service=c.service,
        severity=c.severity.value,
        routes=catalog().routes_for_signal(c, signal),
        summary=c.signals[signal].summary,
        rule=c.rule(signal).describe(),
        kind=c.kind,
        logs=check_log_group(ENV, c),
    )
    metric = {"dimensions": {"Check": c.id}, "name": c.signals[signal].metric, "namespace": "Vigil"}
    return state_change(alarm_name(ENV, c.id, signal), encode_description(None, meta), at, metric)
