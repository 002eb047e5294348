"""Issue 12, "Done when": the newcomer's list can be written and run, and each failure pages with its reason.

tests/fixtures/newcomer is exactly that list (docs/catalog.md, "Monitoring a service end to end"): an
ECS service whose tasks crash, an EC2 instance failing its status check, a target group with
unhealthy hosts, a nightly job that did not run. It validates, its alarm tests pass, it synthesizes;
then each failure goes through vigil's model of CloudWatch's evaluation (the check's own rule) to
ALARM, and the synthesized alarm's state change (its name, description, metric and threshold from the
template) through the real notifier, with the evidence where it really is in moto: the documented ECS
stopped-task event in the stack's log group, the heartbeat checker's own run in its log group.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from conftest import ENV, Synth, synth

from infra.__main__ import main
from infra.alarm_model import AlarmState, evaluate
from infra.catalog import load_catalog
from tests.support.alarm_events import notifier_run, state_change, threshold_crossed
from tests.support.heartbeat import aws, run_checker  # noqa: F401 (fixture)
from vigil.alarm_meta import AlarmMeta, alarm_name, decode_description
from vigil.notifier import handler as notifier
from vigil.notifier.events import parse_alarm
from vigil.notifier.render import Notification
from vigil.spec.heartbeat import HeartbeatCheck

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NEWCOMER = FIXTURES / "newcomer"
REGION = "eu-west-1"  # tests.support.heartbeat's moto region
LONDON = ZoneInfo("Europe/London")
# CloudWatch Logs keeps 14 days: everything happens last night. The job is due at 02:30 London time.
LAST_NIGHT = (datetime.now(LONDON) - timedelta(days=1)).date()
DUE = datetime.combine(LAST_NIGHT, time(2, 30), tzinfo=LONDON).astimezone(UTC)


@pytest.fixture(scope="module")
def built(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synth(NEWCOMER, tmp_path_factory.mktemp("cdk.out"), asset_dir)


def deployed(built: Synth, check: str, signal: str) -> tuple[dict[str, Any], AlarmMeta]:
    """The synthesized alarm's properties and its metadata."""
    (props,) = [
        a["Properties"]
        for a in built.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == alarm_name(ENV, check, signal)
    ]
    _, meta = decode_description(props["AlarmDescription"])
    assert meta is not None
    return props, meta


def page(built: Synth, check_id: str, signal: str, values: list[float | None], at: datetime) -> Notification:
    """The values through the check's rule to ALARM, then the deployed alarm's state change through the
    real notifier: what on-call receives."""
    check = load_catalog(NEWCOMER).by_id(check_id)
    rule = check.rule(signal)
    assert evaluate(rule, values, AlarmState.OK)[-1] is AlarmState.ALARM, (check_id, signal, values)
    props, meta = deployed(built, check_id, signal)
    dimensions = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
    metric = {"namespace": props["Namespace"], "name": props["MetricName"], "dimensions": dimensions}
    value = values[-1]
    assert value is not None
    reason = threshold_crossed(
        value, props["ComparisonOperator"], props["Threshold"], at, rule.datapoints_to_alarm, rule.evaluation_periods
    )
    payload = state_change(
        props["AlarmName"],
        props["AlarmDescription"],
        at,
        metric,
        stat=props["Statistic"],
        period=props["Period"],
        value=value,
        threshold=props["Threshold"],
        reason=reason,
        region=REGION,
    )
    outgoing = notifier.prepare(payload, parse_alarm(payload), None, notifier_run(ENV, REGION))
    assert not outgoing.fallback and outgoing.routes == tuple(meta.routes)
    return outgoing.notification


def test_the_newcomers_list_validates_passes_its_alarm_tests_and_synthesizes(built: Synth, capsys) -> None:
    assert main(["validate", str(NEWCOMER)]) == 0
    assert main(["test-alarms", str(NEWCOMER)]) == 0
    assert "4 checks (alb, ec2, ecs, heartbeat)" in capsys.readouterr().out
    names = {a["Properties"]["AlarmName"] for a in built.of_type("AWS::CloudWatch::Alarm").values()}
    for check, signal in [
        ("campaign-api-service", "tasks_crashed"),
        ("campaign-api-service", "tasks_short"),
        ("campaign-events-host", "system_status"),
        ("campaign-api-targets", "unhealthy_hosts"),
        ("nightly-export", "missed"),
    ]:
        assert alarm_name(ENV, check, signal) in names
    recover, _ = deployed(built, "campaign-events-host", "system_status")
    assert any("ec2:recover" in json.dumps(action) for action in recover["AlarmActions"])


@pytest.fixture
def logs(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811 (the fixture)
    monkeypatch.setattr(notifier, "_clients", {})
    return boto3.client("logs", region_name=REGION)


def log(logs: Any, group: str, at: datetime, *messages: str) -> None:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": int(at.timestamp() * 1000) + i, "message": m} for i, m in enumerate(messages)],
    )


def test_an_ecs_service_whose_tasks_crash_pages_with_the_stop_reason_and_exit_code(built: Synth, logs: Any) -> None:
    at = DUE + timedelta(hours=6)
    _, meta = deployed(built, "campaign-api-service", "tasks_crashed")
    assert meta.ecs is not None
    oom = json.loads((FIXTURES / "ecs_events" / "task_stopped_oom.json").read_text())
    oom["detail"].update(
        clusterArn="arn:aws:ecs:eu-west-1:123456789012:cluster/campaigns-prod", group="service:campaign-api"
    )
    log(logs, meta.ecs.tasks, at - timedelta(minutes=3), *[json.dumps(oom)] * 3)

    notification = page(built, "campaign-api-service", "tasks_crashed", [None, 3], at)

    assert notification.subject == "[ALARM][critical] campaign-api-service tasks_crashed - campaign-api"
    assert "Signal means: tasks that stopped on their own: an essential container exited (a crash, an OOM kill)" in (
        notification.email
    )
    assert "EssentialContainerExited: Essential container in task exited" in notification.email
    assert (
        "container FargateApp: exit 137: OutOfMemoryError: Container killed due to memory usage" in notification.email
    )
    assert notification.sms.startswith("ALARM crit campaign-api-service tasks_crashed: 3 >=2 since ")
    assert "exit 137 OutOfMemoryError." in notification.sms and len(notification.sms) <= 160


def test_an_ec2_instance_failing_its_system_status_check_pages_with_what_that_means(built: Synth, logs: Any) -> None:
    notification = page(built, "campaign-events-host", "system_status", [0, 1, 1], DUE)

    assert notification.subject == "[ALARM][critical] campaign-events-host system_status - campaign-api"
    assert (
        "Signal means: the AWS system status check failed: host hardware, power or network; AWS must repair or move it"
    ) in notification.email
    assert "latest value 1 (rule: >= 1 for 2 of 2 minutes)" in notification.email
    assert notification.sms.startswith(f"ALARM crit campaign-events-host system_status: 1 >=1 since {DUE:%H:%M}Z.")
    assert notification.sms.endswith("runbook: https://wiki.example.com/runbooks/campaign-events#host")


def test_a_target_group_with_unhealthy_hosts_pages_with_how_many(built: Synth, logs: Any) -> None:
    notification = page(built, "campaign-api-targets", "unhealthy_hosts", [0, 2, 2, 2], DUE)

    assert notification.subject == "[ALARM][critical] campaign-api-targets unhealthy_hosts - campaign-api"
    assert "Signal means: targets failing their health checks" in notification.email
    assert "latest value 2 targets (rule: > 0 targets for 3 of 3 minutes)" in notification.email
    assert notification.sms.startswith("ALARM crit campaign-api-targets unhealthy_hosts: 2 >0 since ")


def test_a_nightly_job_that_did_not_run_pages_did_not_start_with_its_deadline(
    built: Synth, logs: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    check = load_catalog(NEWCOMER).by_id("nightly-export")
    assert isinstance(check, HeartbeatCheck)
    _, meta = deployed(built, "nightly-export", "missed")
    assert meta.logs is not None
    # The checker's first run registers the check the evening before; then the job never pings.
    runs = [DUE - timedelta(hours=12), DUE + timedelta(minutes=5), DUE + timedelta(minutes=20)]
    results = []
    for at in runs:
        capsys.readouterr()
        results.append(run_checker(monkeypatch, check, at))
        (line,) = [text for text in capsys.readouterr().out.splitlines() if text.startswith("{")]
    log(logs, meta.logs, runs[-1], line)

    notification = page(built, "nightly-export", "missed", [r["values"]["HeartbeatMissed"] for r in results], runs[-1])

    assert notification.subject == "[ALARM][warning] nightly-export missed - campaign-api"
    deadline = DUE + timedelta(minutes=15)
    assert (
        f"did not start: no ping for the {LAST_NIGHT:%Y-%m-%d} 02:30 Europe/London run of cron 30 2 * * * "
        f"by {deadline:%Y-%m-%dT%H:%M:%SZ} (15m grace); no ping since vigil began watching at "
        f"{runs[0]:%Y-%m-%dT%H:%M:%SZ}"
    ) in notification.email
    assert notification.sms.startswith("ALARM warn nightly-export missed: 1 >=1 since ")
