"""ECS events in CloudWatch Logs: the log groups, the EventBridge patterns and the metric filter patterns.

No CDK here: the ecs construct (infra/checks/ecs.py) builds from these, the alarm factory tells the
notifier where the events are (AlarmMeta.ecs), and the demo and the tests evaluate the very same
patterns against AWS's documented event shapes (vigil.json_filter_pattern; moto evaluates no
metric filter).

- Failed deployments: "Amazon ECS service deployment state change events" (ECS developer guide).
  resources[0] is the service's ARN, detail.eventName SERVICE_DEPLOYMENT_FAILED (sent only for
  services with the deployment circuit breaker), detail.deploymentId and detail.reason say which
  and why.
- Stopped tasks: "Amazon ECS task state change events". detail.group is "service:<name>" for a
  service's task, detail.clusterArn its cluster, detail.lastStatus STOPPED once stopped, and
  detail.stopCode / detail.stoppedReason / detail.containers[].exitCode and .reason say why
  (ECS API reference, Task and Container).
"""

from __future__ import annotations

import json
from typing import Any

from vigil.alarm_meta import EcsEventsRef
from vigil.spec.common import CheckBase
from vigil.spec.ecs import CRASH_STOP_CODES, EcsCheck

# EventBridge's default quota on an event pattern's size, in characters (Amazon EventBridge quotas:
# "Event pattern size", adjustable to 4096).
EVENT_PATTERN_LIMIT = 2048
DEPLOYMENT_FAILED = "SERVICE_DEPLOYMENT_FAILED"
DEPLOYMENT_FAILED_PATTERN = {
    "source": ["aws.ecs"],
    "detail-type": ["ECS Deployment State Change"],
    "detail": {"eventName": [DEPLOYMENT_FAILED]},
}
TASK_STATE_CHANGE = "ECS Task State Change"
SERVICE_GROUP = "service:"  # detail.group of a task a service started


def log_group_prefix(env: str) -> str:
    """Both log groups start with this (the notifier may read under it). EventBridge's console offers
    log groups under /aws/events/ as targets; vigil keeps to that convention."""
    return f"/aws/events/vigil-{env}-ecs"


def deployments_log_group(env: str) -> str:
    return log_group_prefix(env)


def tasks_log_group(env: str) -> str:
    """A sibling, so that each log group's 100 metric filters serve 100 services."""
    return f"{log_group_prefix(env)}-tasks"


def cluster_arn(partition: str, region: str, account: str, cluster: str) -> str:
    return f"arn:{partition}:ecs:{region}:{account}:cluster/{cluster}"


def service_arn(partition: str, region: str, account: str, cluster: str, service: str) -> str:
    return f"arn:{partition}:ecs:{region}:{account}:service/{cluster}/{service}"


def deployment_failed_filter(service: str) -> str:
    """The metric filter pattern counting one service's failed deployments; `service` is its ARN."""
    return _all(f'$.detail.eventName = "{DEPLOYMENT_FAILED}"', f'$.resources[0] = "{service}"')


def tasks_crashed_filter(cluster: str, service: str) -> str:
    """The metric filter pattern counting one service's tasks that stopped on their own.

    `cluster` is the cluster's ARN, `service` the service's name. Which stop codes count, and why
    not exit codes: vigil.spec.ecs.
    """
    codes = " || ".join(f'($.detail.stopCode = "{code}")' for code in CRASH_STOP_CODES)
    return _all(
        '$.detail.lastStatus = "STOPPED"',
        f'$.detail.clusterArn = "{cluster}"',
        f'$.detail.group = "{SERVICE_GROUP}{service}"',
        codes,
    )


def _all(*conditions: str) -> str:
    """{ (a) && (b) ... }: the form the CDK's FilterPattern.all writes."""
    return "{ " + " && ".join(f"({c})" for c in conditions) + " }"


def task_stopped_pattern(services: list[tuple[str, str]]) -> dict[str, Any]:
    """The EventBridge pattern for the stopped tasks of the watched (cluster, service) pairs.

    Clusters match by the end of their ARN (EventBridge "suffix" matching), so the pattern holds no
    account or region and its size is known at synth; only this account's and region's events reach
    its default bus anyway. Every service is named while the pattern fits EventBridge's default
    size; beyond that (some 50 services), every service task of the watched clusters is logged,
    and each metric filter still counts only its own service.
    """
    clusters = sorted({cluster for cluster, _ in services})
    groups = sorted({f"{SERVICE_GROUP}{service}" for _, service in services})
    detail: dict[str, Any] = {
        "lastStatus": ["STOPPED"],
        "clusterArn": [{"suffix": f":cluster/{cluster}"} for cluster in clusters],
        "group": groups,
    }
    pattern = {"source": ["aws.ecs"], "detail-type": [TASK_STATE_CHANGE], "detail": detail}
    if pattern_size(pattern) > EVENT_PATTERN_LIMIT:
        detail["group"] = [{"prefix": SERVICE_GROUP}]
    if pattern_size(pattern) > EVENT_PATTERN_LIMIT:
        raise ValueError(
            f"the ECS stopped-task rule for {len(clusters)} clusters is over EventBridge's {EVENT_PATTERN_LIMIT} "
            "characters: split the ecs checks across stacks, or ask AWS to raise the event pattern size quota"
        )
    return pattern


def pattern_size(pattern: dict[str, Any]) -> int:
    return len(json.dumps(pattern, separators=(",", ":")))


def alarm_ref(env: str, check: CheckBase) -> EcsEventsRef | None:
    """What an ecs alarm tells the notifier about its service's events; None for other kinds."""
    if not isinstance(check, EcsCheck) or check.cluster is None or check.ecs_service is None:
        return None
    return EcsEventsRef(
        cluster=check.cluster,
        service=check.ecs_service,
        tasks=tasks_log_group(env),
        deployments=deployments_log_group(env),
    )
