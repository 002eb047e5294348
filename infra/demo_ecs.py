"""`make demo`'s ECS service whose tasks are OOM-killed, and what CloudWatch would count of it.

The service lives in moto ECS (a cluster, a task definition, a service of 2 tasks). When a task is
OOM-killed, ECS sends an "ECS Task State Change" event (lastStatus STOPPED, stopCode
EssentialContainerExited, the container's exit code 137 and reason "OutOfMemoryError: Container
killed due to memory usage": "Amazon ECS task state change events", ECS developer guide; the ECS API
reference's Task and Container) and starts a new task, so the service never looks short. moto sends
no ECS events, so the demo writes the event into the stack's stopped-task log group exactly as the
EventBridge rule would (the whole event, one log event), and restarts nothing: moto's service keeps
its running count.

moto publishes neither Container Insights nor metric filter data: tasks_short comes from the service's
own desired and running counts, and the event signals are the matches of the stack's metric filter
patterns (infra.ecs_events, the very strings deployed) among the minute's log events
(vigil.json_filter_pattern). CPU and memory have no data, which their alarms do not treat as breaching.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from infra import ecs_events
from vigil import json_filter_pattern
from vigil.spec.ecs import CRASHED, DEPLOYMENT, RUNNING, SHORT, EcsCheck

CLUSTER = "demo-cluster"
SERVICE = "campaign-worker"
CONTAINER = "worker"
TASKS = 2
STREAM = "ecs-events"  # EventBridge names its own streams; any name serves


class CrashingService:
    """An ECS service in moto whose tasks run out of memory until it is given more."""

    def __init__(self, ecs: Any, logs: Any, env: str, region: str, account: str) -> None:
        self.ecs = ecs
        self.logs = logs
        self.tasks_log_group = ecs_events.tasks_log_group(env)
        self.deployments_log_group = ecs_events.deployments_log_group(env)
        self.region = region
        self.account = account
        self.task_definition = ""

    def start(self) -> str:
        """The cluster, task definition and service, 2 tasks running; what to print about it."""
        self.ecs.create_cluster(clusterName=CLUSTER)
        registered = self.ecs.register_task_definition(
            family=SERVICE,
            containerDefinitions=[
                {"name": CONTAINER, "image": "public.ecr.aws/docker/library/python:3.12", "memory": 512}
            ],
        )
        self.task_definition = registered["taskDefinition"]["taskDefinitionArn"]
        self.ecs.create_service(
            cluster=CLUSTER, serviceName=SERVICE, taskDefinition=self.task_definition, desiredCount=TASKS
        )
        # moto starts a service with no task running; setting the desired count "runs" them all.
        self.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=TASKS)
        # The stack made the log group (the rule's target); EventBridge makes streams in it.
        self.logs.create_log_stream(logGroupName=self.tasks_log_group, logStreamName=STREAM)
        return (
            f"== ECS service {CLUSTER}/{SERVICE} in moto ECS, {TASKS} tasks; its stopped-task events go to "
            f"{self.tasks_log_group}, written as the stack's EventBridge rule writes them"
        )

    def oom_kill(self, at: datetime, tasks: int) -> str:
        """`tasks` tasks OOM-killed at `at` and replaced by ECS; what to print about it."""
        events = [self.stopped_event(at + timedelta(seconds=5 * i)) for i in range(tasks)]
        self.logs.put_log_events(
            logGroupName=self.tasks_log_group,
            logStreamName=STREAM,
            logEvents=[{"timestamp": _ms(at) + 5000 * i, "message": json.dumps(e)} for i, e in enumerate(events)],
        )
        return (
            f"{tasks} tasks of {SERVICE} OOM-killed (exit 137, OutOfMemoryError), ECS started new ones: "
            f"{self.running()} of {TASKS} running"
        )

    def stopped_event(self, at: datetime) -> dict[str, Any]:
        """The "ECS Task State Change" event of one OOM-killed task of the service, as AWS documents it."""
        task_id = uuid.uuid4().hex
        task_arn = f"arn:aws:ecs:{self.region}:{self.account}:task/{CLUSTER}/{task_id}"
        stamp = _iso(at)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": ecs_events.TASK_STATE_CHANGE,
            "source": "aws.ecs",
            "account": self.account,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [task_arn],
            "detail": {
                "clusterArn": ecs_events.cluster_arn("aws", self.region, self.account, CLUSTER),
                "containers": [
                    {
                        "containerArn": f"arn:aws:ecs:{self.region}:{self.account}:container/{uuid.uuid4()}",
                        "exitCode": 137,
                        "lastStatus": "STOPPED",
                        "name": CONTAINER,
                        "reason": "OutOfMemoryError: Container killed due to memory usage",
                        "taskArn": task_arn,
                    }
                ],
                "createdAt": _iso(at - timedelta(minutes=1)),
                "desiredStatus": "STOPPED",
                "group": f"{ecs_events.SERVICE_GROUP}{SERVICE}",
                "lastStatus": "STOPPED",
                "launchType": "FARGATE",
                "startedAt": _iso(at - timedelta(seconds=50)),
                "startedBy": "ecs-svc/9223370000000000000",
                "stopCode": "EssentialContainerExited",
                "stoppedAt": stamp,
                "stoppedReason": "Essential container in task exited",
                "stoppingAt": stamp,
                "taskArn": task_arn,
                "taskDefinitionArn": self.task_definition,
                "updatedAt": stamp,
                "version": 3,
            },
        }

    def running(self) -> int:
        (service,) = self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
        return int(service["runningCount"])

    def measure(self, check: EcsCheck, minute_messages: Callable[[str], list[str]]) -> dict[str, float | None]:
        """Each active signal's datapoint this minute; None where CloudWatch would have none."""
        (service,) = self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
        counted = {
            DEPLOYMENT: (
                self.deployments_log_group,
                ecs_events.deployment_failed_filter(
                    ecs_events.service_arn("aws", self.region, self.account, CLUSTER, SERVICE)
                ),
            ),
            CRASHED: (
                self.tasks_log_group,
                ecs_events.tasks_crashed_filter(
                    ecs_events.cluster_arn("aws", self.region, self.account, CLUSTER), SERVICE
                ),
            ),
        }
        values: dict[str, float | None] = {
            SHORT: float(service["desiredCount"] - service["runningCount"]),
            RUNNING: float(service["runningCount"]),
        }
        for signal, (group, pattern) in counted.items():
            parsed = json_filter_pattern.parse(pattern)
            matches = sum(1 for message in minute_messages(group) if parsed.matches(message))
            values[signal] = float(matches) if matches else None  # a metric filter publishes on a match only
        return {signal: values.get(signal) for signal in check.active_signals()}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
