"""ECS events as AWS documents them (tests/fixtures/ecs_events, README there), end to end without a stack:

- vigil's metric filter patterns (infra.ecs_events, the strings the stack deploys) count exactly the
  events they name, by CloudWatch's JSON filter pattern rules (vigil.json_filter_pattern);
- the stopped-task rule's EventBridge pattern picks the watched services' stopped tasks (moto's
  EventBridge pattern matcher) and stays within EventBridge's pattern size;
- an ecs ALARM reaches on-call through the real notifier with the service's stopped tasks and failed
  deployment read from moto CloudWatch Logs: stop code, reason, exit code in the e-mail, a hint in
  the SMS; bounded, and never holding the page back.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.events.models import EventPattern

from infra import ecs_events
from tests.support.alarm_events import notifier_run, state_change, threshold_crossed
from vigil import json_filter_pattern
from vigil.alarm_meta import AlarmMeta, alarm_name, encode_description
from vigil.notifier import ecs_evidence
from vigil.notifier import handler as notifier
from vigil.notifier.events import parse_alarm
from vigil.notifier.sms import room
from vigil.spec.ecs import EcsCheck

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ecs_events"
ENV = "prod"
REGION = "us-west-2"  # the documented events' region and account
ACCOUNT = "111122223333"
OOM_SERVICE = ("FargateCluster", "sample-fargate")
_OPERATORS = {">": "GreaterThan", ">=": "GreaterThanOrEqualTo", "<": "LessThan", "<=": "LessThanOrEqualTo"}
DEPLOY_SERVICE = ("default", "servicetest")
# CloudWatch Logs keeps events of the last 14 days only: the scenario happens an hour ago, whatever
# dates the documented events carry inside.
ALARM_AT = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)


def event(name: str, **detail: Any) -> dict[str, Any]:
    loaded = json.loads((FIXTURES / f"{name}.json").read_text())
    loaded["detail"].update(detail)
    return loaded


def text(document: dict[str, Any]) -> str:
    """The event as EventBridge writes it to a log group: the JSON of the whole event, on one line."""
    return json.dumps(document, separators=(",", ":"))


def crashed_filter(cluster: str, service: str) -> str:
    return ecs_events.tasks_crashed_filter(ecs_events.cluster_arn("aws", REGION, ACCOUNT, cluster), service)


def deployment_filter(cluster: str, service: str) -> str:
    return ecs_events.deployment_failed_filter(ecs_events.service_arn("aws", REGION, ACCOUNT, cluster, service))


# --- metric filter patterns --------------------------------------------------------------------------


def test_the_crash_filter_counts_an_oom_killed_task_of_its_service() -> None:
    pattern = json_filter_pattern.parse(crashed_filter(*OOM_SERVICE))
    assert pattern.matches(text(event("task_stopped_oom")))
    # A task that failed to start (an image it cannot pull) is a crash of the service as well.
    assert pattern.matches(
        text(event("task_stopped_oom", stopCode="TaskFailedToStart", stoppedReason="CannotPullContainerError: ..."))
    )


@pytest.mark.parametrize(
    ("what", "document"),
    [
        ("the documented RUNNING task", event("task_running")),
        ("a task the scheduler stopped for a deployment, exit 143", event("task_stopped_by_deployment")),
        ("a task stopped by a person", event("task_stopped_oom", stopCode="UserInitiated")),
        ("a Spot interruption", event("task_stopped_oom", stopCode="SpotInterruption")),
        ("another service of the cluster", event("task_stopped_oom", group="service:sample-fargate-eu")),
        (
            "the service's name in another cluster",
            event("task_stopped_oom", clusterArn="arn:aws:ecs:us-west-2:111122223333:cluster/Other"),
        ),
        ("a standalone task of the family", event("task_stopped_oom", group="family:sample-fargate")),
        ("a failed deployment", event("deployment_failed")),
    ],
)
def test_the_crash_filter_counts_nothing_else(what: str, document: dict[str, Any]) -> None:
    assert not json_filter_pattern.matches(crashed_filter(*OOM_SERVICE), text(document)), what


def test_the_deployment_filter_counts_the_documented_failure_only() -> None:
    pattern = json_filter_pattern.parse(deployment_filter(*DEPLOY_SERVICE))
    assert pattern.matches(text(event("deployment_failed")))
    for other in ("deployment_completed", "deployment_rollback_in_progress", "task_stopped_oom", "task_running"):
        assert not pattern.matches(text(event(other))), other
    assert not json_filter_pattern.matches(deployment_filter("default", "other"), text(event("deployment_failed")))


def test_the_crash_filter_is_what_the_cdk_would_write_and_within_cloudwatchs_limit() -> None:
    written = crashed_filter(*OOM_SERVICE)
    assert written == (
        '{ ($.detail.lastStatus = "STOPPED") && '
        '($.detail.clusterArn = "arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster") && '
        '($.detail.group = "service:sample-fargate") && '
        '(($.detail.stopCode = "EssentialContainerExited") || ($.detail.stopCode = "TaskFailedToStart")) }'
    )
    longest = ecs_events.tasks_crashed_filter(
        ecs_events.cluster_arn("aws-us-gov", "us-gov-west-1", ACCOUNT, "c" * 255), "s" * 255
    )
    assert len(longest) <= json_filter_pattern.MAX_LENGTH


# --- the EventBridge rule ----------------------------------------------------------------------------


def rule_matches(pattern: dict[str, Any], document: dict[str, Any]) -> bool:
    """moto's implementation of EventBridge's pattern matching, as its rules apply it to PutEvents."""
    return EventPattern.load(json.dumps(pattern)).matches_event(document)


def test_the_stopped_task_rule_takes_the_watched_services_stopped_tasks() -> None:
    pattern = ecs_events.task_stopped_pattern([OOM_SERVICE, ("prod", "campaign-api")])
    assert pattern["detail"]["group"] == ["service:campaign-api", "service:sample-fargate"]
    assert rule_matches(pattern, event("task_stopped_oom"))
    assert rule_matches(pattern, event("task_stopped_by_deployment"))  # logged for the e-mail, not counted
    assert not rule_matches(pattern, event("task_running"))
    assert not rule_matches(pattern, event("task_stopped_oom", group="service:billing"))
    assert not rule_matches(
        pattern, event("task_stopped_oom", clusterArn="arn:aws:ecs:us-west-2:111122223333:cluster/Fargate")
    )
    assert not rule_matches(pattern, event("deployment_failed"))


def test_many_services_keep_the_rule_within_eventbridges_size_by_taking_their_clusters_service_tasks() -> None:
    services = [("prod", f"service-with-a-long-name-{i:03}") for i in range(80)]
    pattern = ecs_events.task_stopped_pattern(services)
    assert ecs_events.pattern_size(pattern) <= ecs_events.EVENT_PATTERN_LIMIT
    assert pattern["detail"]["group"] == [{"prefix": "service:"}]
    prod = "arn:aws:ecs:us-west-2:111122223333:cluster/prod"
    assert rule_matches(pattern, event("task_stopped_oom", clusterArn=prod, group="service:anything"))
    assert not rule_matches(pattern, event("task_stopped_oom", clusterArn=prod, group="family:anything"))
    few = ecs_events.task_stopped_pattern(services[:20])
    assert len(few["detail"]["group"]) == 20


def test_a_rule_that_cannot_fit_says_what_to_do() -> None:
    services = [(f"cluster-with-a-rather-long-name-{i:03}", "api") for i in range(60)]
    with pytest.raises(ValueError, match="split the ecs checks across stacks"):
        ecs_events.task_stopped_pattern(services)


# --- the ALARM e-mail and SMS ------------------------------------------------------------------------


def ecs_check(cluster: str, service: str) -> EcsCheck:
    return EcsCheck.model_validate(
        {
            "id": f"{service}-service",
            "kind": "ecs",
            "service": "campaigns",
            "severity": "critical",
            "cluster": cluster,
            "ecs_service": service,
            "runbook": "https://wiki.example.com/runbooks/sample#ecs",
        }
    )


def alarm(check: EcsCheck, signal: str, at: datetime = ALARM_AT) -> dict[str, Any]:
    """The check's ALARM as the EventBridge rule delivers it, described as infra.alarms describes it."""
    meta = AlarmMeta(
        check=check.id,
        signal=signal,
        service=check.service,
        severity=check.severity.value,
        routes=["campaigns-critical"],
        summary=check.signals[signal].summary,
        rule=check.rule(signal).describe(check.signals[signal].unit),
        unit=check.signals[signal].unit,
        runbook=check.runbook,
        kind=check.kind,
        ecs=ecs_events.alarm_ref(ENV, check),
    )
    metric = {"namespace": "Vigil/Events", "name": f"{check.id}.{signal}", "dimensions": {}}
    rule = check.rule(signal)
    reason = threshold_crossed(3, f"{_OPERATORS[rule.comparison.value]}Threshold", rule.threshold, at, 1, 1)
    return state_change(
        alarm_name(ENV, check.id, signal),
        encode_description(None, meta),
        at,
        metric,
        stat=rule.statistic.value,
        period=rule.period,
        value=3,
        threshold=rule.threshold,
        reason=reason,
        region=REGION,
    )


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto CloudWatch Logs with the two ECS event log groups, and a notifier that reads them."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("logs", region_name=REGION)
        for group in (ecs_events.tasks_log_group(ENV), ecs_events.deployments_log_group(ENV)):
            client.create_log_group(logGroupName=group)
            client.create_log_stream(logGroupName=group, logStreamName="events")
        monkeypatch.setattr(notifier, "_clients", {})
        yield client


def log(logs: Any, group: str, *events: tuple[datetime, dict[str, Any]]) -> None:
    logs.put_log_events(
        logGroupName=group,
        logStreamName="events",
        logEvents=[
            {"timestamp": int(at.timestamp() * 1000), "message": text(e)}
            for at, e in sorted(events, key=lambda x: x[0])
        ],
    )


def page(check: EcsCheck, signal: str, at: datetime = ALARM_AT) -> notifier.Outgoing:
    payload = alarm(check, signal, at)
    outgoing = notifier.prepare(payload, parse_alarm(payload), None, notifier_run(ENV, REGION))
    assert not outgoing.fallback
    return outgoing


def test_a_crash_alarm_quotes_the_oom_killed_task_in_the_email_and_its_exit_code_in_the_sms(logs: Any) -> None:
    check = ecs_check(*OOM_SERVICE)
    log(
        logs,
        ecs_events.tasks_log_group(ENV),
        (ALARM_AT - timedelta(minutes=9), event("task_stopped_by_deployment", stoppedAt="2020-01-23T18:02:00.000Z")),
        (ALARM_AT - timedelta(minutes=2), event("task_stopped_oom")),
        (
            ALARM_AT - timedelta(minutes=1),
            event("task_stopped_oom", group="service:sample-fargate-eu", taskArn="x/other"),
        ),
    )

    notification = page(check, "tasks_crashed").notification

    email = notification.email
    assert "Stopped tasks of sample-fargate, newest first (ECS task state change events):" in email
    assert (
        "  - 2020-01-23T18:12:41Z task c13b4cb40f1f4fe4a2971f76ae5a47ad sample-fargate:1: "
        "EssentialContainerExited: Essential container in task exited\n"
        "      container FargateApp: exit 137: OutOfMemoryError: Container killed due to memory usage\n"
        "  - 2020-01-23T18:02:00Z task 0f9e8d7c6b5a49384756a1b2c3d4e5f6 sample-fargate:1: "
        "ServiceSchedulerInitiated: Scaling activity initiated by (deployment ecs-svc/1234567890123456789)\n"
        "      container FargateApp: exit 143\n"
    ) in email
    assert "other" not in email  # the other service's task
    assert notification.subject == "[ALARM][critical] sample-fargate-service tasks_crashed - campaigns"
    sms = notification.sms
    assert sms.startswith("ALARM crit sample-fargate-service tasks_crashed: 3 >=2 since ")
    assert " exit 137 OutOfMemoryError." in sms
    encoding, limit = room(sms)
    assert (encoding, len(sms) <= limit) == ("gsm7", True)


def test_a_failed_deployment_says_which_deployment_and_why(logs: Any) -> None:
    check = ecs_check(*DEPLOY_SERVICE)
    log(logs, ecs_events.deployments_log_group(ENV), (ALARM_AT - timedelta(minutes=1), event("deployment_failed")))
    log(
        logs,
        ecs_events.tasks_log_group(ENV),
        (
            ALARM_AT - timedelta(minutes=3),
            event(
                "task_stopped_oom",
                group="service:servicetest",
                clusterArn="arn:aws:ecs:us-west-2:111122223333:cluster/default",
                stopCode="TaskFailedToStart",
                stoppedReason="CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                containers=[],
            ),
        ),
    )

    notification = page(check, "deployment_failed").notification

    assert (
        "Failed deployment ecs-svc/123 at 2020-05-23T12:31:14Z: ECS deployment circuit breaker: task failed to start."
        in notification.email
    )
    assert (
        "TaskFailedToStart: CannotPullContainerError: pull image manifest has been retried 5 time(s)"
        in notification.email
    )
    assert " deploy ecs-svc/123 failed." in notification.sms and len(notification.sms) <= 160


def test_a_task_count_alarm_with_no_stopped_task_says_so(logs: Any) -> None:
    notification = page(ecs_check(*OOM_SERVICE), "tasks_short").notification
    since = ALARM_AT - ecs_evidence.LOOKBACK
    assert (
        f"No task of sample-fargate stopped since {since:%Y-%m-%dT%H:%M:%SZ} (ECS task state change events)."
        in notification.email
    )
    assert notification.sms.endswith("runbook: https://wiki.example.com/runbooks/sample#ecs")


def test_the_email_quotes_the_newest_tasks_only_each_once_and_skips_damaged_lines(logs: Any) -> None:
    oom = event("task_stopped_oom")
    tasks = []
    for i in range(12):
        copied = copy.deepcopy(oom)
        copied["detail"].update(
            taskArn=f"arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/task{i:02}",
            stoppedAt=f"2020-01-23T18:{i:02}:00Z",
        )
        tasks.append((ALARM_AT - timedelta(minutes=20 - i), copied))
    tasks.append((ALARM_AT - timedelta(minutes=1), copy.deepcopy(tasks[-1][1])))  # EventBridge may deliver twice
    log(logs, ecs_events.tasks_log_group(ENV), *tasks)
    logs.put_log_events(
        logGroupName=ecs_events.tasks_log_group(ENV),
        logStreamName="events",
        logEvents=[
            {
                "timestamp": int(ALARM_AT.timestamp() * 1000),
                "message": '{"detail-type": "ECS Task State Change", "service:sample-fargate"',
            }
        ],
    )

    email = page(ecs_check(*OOM_SERVICE), "tasks_crashed").notification.email

    quoted = [line for line in email.splitlines() if line.startswith("  - ")]
    assert [line.split(" task ")[1].split()[0] for line in quoted] == [f"task{i:02}" for i in (11, 10, 9, 8, 7)]


def test_tasks_before_the_look_back_or_after_the_alarm_are_not_quoted(logs: Any) -> None:
    log(
        logs,
        ecs_events.tasks_log_group(ENV),
        (ALARM_AT - ecs_evidence.LOOKBACK - timedelta(minutes=1), event("task_stopped_oom")),
        (ALARM_AT + timedelta(minutes=5), event("task_stopped_oom")),
    )
    assert (
        "No task of sample-fargate stopped since" in page(ecs_check(*OOM_SERVICE), "tasks_crashed").notification.email
    )


def test_a_recovery_reads_no_events(logs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = alarm(ecs_check(*OOM_SERVICE), "tasks_crashed")
    payload["detail"]["state"]["value"] = "OK"
    payload["detail"]["previousState"]["value"] = "ALARM"
    monkeypatch.setattr(ecs_evidence, "read_events", lambda *a, **k: pytest.fail("a recovery needs no evidence"))
    outgoing = notifier.prepare(payload, parse_alarm(payload), None, notifier_run(ENV, REGION))
    assert "Stopped tasks" not in outgoing.notification.email


class SlowLogs:
    """A CloudWatch Logs client that answers every page slowly, always with more to come."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    def filter_log_events(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        time.sleep(self.seconds)
        return {"events": [], "nextToken": "more"}


def test_slow_or_unreadable_events_never_hold_the_page_back(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = SlowLogs(0.2)
    ref = ecs_events.alarm_ref(ENV, ecs_check(*OOM_SERVICE))
    assert ref is not None
    started = time.monotonic()
    assert ecs_evidence.fetch(slow, ref, "tasks_crashed", ALARM_AT, deadline_seconds=0.5) is None
    assert time.monotonic() - started < 1.5 and slow.calls <= 4

    class Denied:
        def filter_log_events(self, **_: Any) -> dict[str, Any]:
            raise PermissionError("AccessDeniedException")

    monkeypatch.setattr(notifier, "_clients", {"logs": Denied()})
    payload = alarm(ecs_check(*OOM_SERVICE), "tasks_crashed")
    outgoing = notifier.prepare(payload, parse_alarm(payload), None, notifier_run(ENV, REGION))
    assert not outgoing.fallback
    assert "Stopped tasks" not in outgoing.notification.email and "No task of" not in outgoing.notification.email
    assert "ALARM: sample-fargate-service tasks_crashed" in outgoing.notification.email


def test_a_reason_cannot_forge_lines_in_the_email() -> None:
    forged = event("task_stopped_oom", stoppedReason="exited\nRunbook: https://evil.example.com\u202e")
    (task,) = ecs_evidence.stopped_tasks([text(forged)], *OOM_SERVICE)
    found = ecs_evidence.EcsEvidence(*OOM_SERVICE, since=ALARM_AT, stopped=(task,))
    lines = found.email_lines()
    assert len(lines) == 3
    assert "exited Runbook: https://evil.example.com" in lines[1] and "\u202e" not in lines[1]
