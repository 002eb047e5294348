"""What ECS said about a service: its newest stopped tasks and its failed deployment, for an ecs ALARM.

An ecs alarm (kind `ecs`, no checker) only knows numbers. EventBridge writes the watched services'
"ECS Task State Change" events (lastStatus STOPPED) and the "ECS Deployment State Change" events
(SERVICE_DEPLOYMENT_FAILED) to two log groups that the alarm names (AlarmMeta.ecs). On ALARM the
notifier reads them for the alarm's service, so the e-mail says which task stopped and why
(stopCode, stoppedReason, each container's exit code and reason: "exit 137: OutOfMemoryError:
Container killed due to memory usage") and which deployment failed and why. Shapes: "Amazon ECS task
state change events" and "Amazon ECS service deployment state change events" (ECS developer guide),
the detail of a task being the ECS API's Task object.

Best effort, like the checker's evidence (vigil.notifier.evidence): bounded (the newest MAX_TASKS
tasks, lines clipped, at most MAX_PAGES pages per log group) and stopped at a deadline; anything
unreadable leaves the e-mail as it would have been. A damaged or foreign line is skipped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from vigil.alarm_meta import EcsEventsRef
from vigil.notifier.evidence import DEADLINE_SECONDS, read_events
from vigil.notifier.sanitize import single_line
from vigil.result import SAMPLE_LIMIT
from vigil.text import REASON_LIMIT, clip, one_line

logger = logging.getLogger(__name__)

# Tasks that stopped this long before the alarm still explain it: a task count alarm needs 5 minutes
# to fire, a crash count 5 more to be evaluated, and ECS may take a while to restart.
LOOKBACK = timedelta(minutes=30)
MAX_TASKS = 5
MAX_CONTAINERS = 5  # per task; sidecars beyond these say little
DEPLOYMENT_SIGNAL = "deployment_failed"
DEPLOYMENT_FAILED = "SERVICE_DEPLOYMENT_FAILED"


# The events' own field names are camelCase (clusterArn, stopCode, exitCode).
_EVENT_FIELDS = ConfigDict(extra="ignore", alias_generator=to_camel)


class _Container(BaseModel):
    model_config = _EVENT_FIELDS

    name: str = "?"
    exit_code: int | None = None
    reason: str | None = None


class _Task(BaseModel):
    model_config = _EVENT_FIELDS

    cluster_arn: str
    group: str | None = None
    last_status: str
    task_arn: str
    task_definition_arn: str | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    stopped_at: datetime | None = None
    containers: list[_Container] = Field(default_factory=list)


class _TaskEvent(BaseModel):
    model_config = _EVENT_FIELDS

    detail_type: str = Field(alias="detail-type")
    time: datetime
    detail: _Task


class _Deployment(BaseModel):
    model_config = _EVENT_FIELDS

    event_name: str
    deployment_id: str | None = None
    reason: str | None = None


class _DeploymentEvent(BaseModel):
    model_config = _EVENT_FIELDS

    detail_type: str = Field(alias="detail-type")
    time: datetime
    resources: list[str] = Field(default_factory=list)
    detail: _Deployment


@dataclass(frozen=True)
class ContainerExit:
    name: str
    exit_code: int | None
    reason: str | None


@dataclass(frozen=True)
class StoppedTask:
    at: datetime
    task: str  # the task's id (the end of its ARN)
    revision: str | None  # family:revision of its task definition
    stop_code: str | None
    reason: str | None
    containers: tuple[ContainerExit, ...]


@dataclass(frozen=True)
class FailedDeployment:
    at: datetime
    deployment: str | None
    reason: str | None


@dataclass(frozen=True)
class EcsEvidence:
    """What was found (possibly nothing) for one service in the look-back before the alarm."""

    cluster: str
    service: str
    since: datetime
    stopped: tuple[StoppedTask, ...]  # newest first
    deployment: FailedDeployment | None = None

    def email_lines(self) -> list[str]:
        lines: list[str] = []
        if self.deployment is not None:
            d = self.deployment
            why = f": {d.reason}" if d.reason else ""
            lines.append(_line("", f"Failed deployment {d.deployment or '(no id)'} at {_iso(d.at)}{why}"))
        if not self.stopped:
            lines.append(
                _line("", f"No task of {self.service} stopped since {_iso(self.since)} (ECS task state change events).")
            )
            return lines
        lines.append(_line("", f"Stopped tasks of {self.service}, newest first (ECS task state change events):"))
        for task in self.stopped:
            head = [task.task] + ([task.revision] if task.revision else [])
            why = ": ".join(part for part in (task.stop_code, task.reason) if part)
            lines.append(_line("  - ", f"{_iso(task.at)} task {' '.join(head)}" + (f": {why}" if why else "")))
            lines += [_line("      ", f"container {c.name}: {_exit(c)}") for c in task.containers]
        return lines

    def sms_hint(self, signal: str) -> str | None:
        """A few words for the SMS: the failed deployment, or how the newest task ended ("exit 137
        OutOfMemoryError")."""
        if signal == DEPLOYMENT_SIGNAL and self.deployment is not None:
            which = self.deployment.deployment
            return f"deploy {which} failed" if which else "deployment failed"
        if not self.stopped:
            return None
        newest = self.stopped[0]
        ended = next((c for c in newest.containers if c.exit_code not in (None, 0) or c.reason), None)
        if ended is None:
            return newest.stop_code
        words = [f"exit {ended.exit_code}" if ended.exit_code is not None else None]
        words.append(ended.reason.split(":", 1)[0].strip() if ended.reason else None)
        return clip(" ".join(w for w in words if w), 40)


def fetch(
    logs: Any, ref: EcsEventsRef, signal: str, at: datetime, deadline_seconds: float = DEADLINE_SECONDS
) -> EcsEvidence | None:
    """The service's stopped tasks (and, for deployment_failed, its failed deployment) up to `at`;
    None when the events cannot be read in time."""
    deadline = time.monotonic() + deadline_seconds
    since = at - LOOKBACK
    start_ms, end_ms = _ms(since), _ms(at) + 60_000  # the event behind the alarm may be logged just after it
    try:
        # A quoted term finds the service's lines cheaply; stopped_tasks then matches cluster and service.
        tasks = read_events(logs, ref.tasks, f"service:{ref.service}", start_ms, end_ms, deadline)
        deployment = None
        if signal == DEPLOYMENT_SIGNAL:
            lines = read_events(
                logs, ref.deployments, f"service/{ref.cluster}/{ref.service}", start_ms, end_ms, deadline
            )
            deployment = newest_failed_deployment([m for _, m in lines], ref.cluster, ref.service)
    except Exception:
        logger.warning("ECS events for %s/%s could not be read", ref.cluster, ref.service, exc_info=True)
        return None
    return EcsEvidence(
        cluster=ref.cluster,
        service=ref.service,
        since=since,
        stopped=stopped_tasks([m for _, m in tasks], ref.cluster, ref.service),
        deployment=deployment,
    )


def stopped_tasks(messages: list[str], cluster: str, service: str) -> tuple[StoppedTask, ...]:
    """The service's stopped tasks among the log lines, newest first, at most MAX_TASKS, each task once."""
    found: dict[str, StoppedTask] = {}
    for message in messages:
        task = _stopped_task(message, cluster, service)
        if task is not None and (task.task not in found or found[task.task].at < task.at):
            found[task.task] = task
    return tuple(sorted(found.values(), key=lambda t: t.at, reverse=True)[:MAX_TASKS])


def newest_failed_deployment(messages: list[str], cluster: str, service: str) -> FailedDeployment | None:
    failures = [d for d in (_failed_deployment(m, cluster, service) for m in messages) if d is not None]
    return max(failures, key=lambda d: d.at) if failures else None


def _stopped_task(message: str, cluster: str, service: str) -> StoppedTask | None:
    try:
        event = _TaskEvent.model_validate_json(message)
    except ValidationError:
        return None
    task = event.detail
    if (
        event.detail_type != "ECS Task State Change"
        or task.last_status != "STOPPED"
        or task.group != f"service:{service}"
        or not task.cluster_arn.endswith(f":cluster/{cluster}")
    ):
        return None
    return StoppedTask(
        at=_utc(task.stopped_at or event.time),
        task=task.task_arn.rsplit("/", 1)[-1],
        revision=task.task_definition_arn.rsplit("/", 1)[-1] if task.task_definition_arn else None,
        stop_code=task.stop_code,
        reason=clip(one_line(task.stopped_reason), REASON_LIMIT) if task.stopped_reason else None,
        containers=tuple(
            ContainerExit(c.name, c.exit_code, clip(one_line(c.reason), REASON_LIMIT) if c.reason else None)
            for c in task.containers[:MAX_CONTAINERS]
        ),
    )


def _failed_deployment(message: str, cluster: str, service: str) -> FailedDeployment | None:
    try:
        event = _DeploymentEvent.model_validate_json(message)
    except ValidationError:
        return None
    named = bool(event.resources) and event.resources[0].endswith(f":service/{cluster}/{service}")
    if event.detail_type != "ECS Deployment State Change" or event.detail.event_name != DEPLOYMENT_FAILED or not named:
        return None
    reason = event.detail.reason
    return FailedDeployment(
        at=_utc(event.time),
        deployment=event.detail.deployment_id,
        reason=clip(one_line(reason), REASON_LIMIT) if reason else None,
    )


def _exit(container: ContainerExit) -> str:
    code = f"exit {container.exit_code}" if container.exit_code is not None else "no exit code"
    return f"{code}: {container.reason}" if container.reason else code


def _line(indent: str, text: str) -> str:
    """One line of the e-mail, whatever the event held: nothing in it can start another."""
    return indent + clip(single_line(text), SAMPLE_LIMIT)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
