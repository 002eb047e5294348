"""Kind `ecs`: native CloudWatch alarms on one ECS service (or every service with some tags); no Lambda runs.

Tasks running, from one of two sources (`container_insights`):
- on (default): ECS/ContainerInsights RunningTaskCount and DesiredTaskCount, dimensions ClusterName
  and ServiceName (CloudWatch User Guide, "Amazon ECS Container Insights metrics",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html).
  `tasks_short` is desired − running (metric math): the service knows how many it wants, so scaling
  needs no change here. Missing data is breaching: no Container Insights data means the cluster
  does not publish it (turned off) or the service is gone, and either way nobody can see it run.
- off: AWS/ECS CPUUtilization's SampleCount over one minute is the number of RUNNING tasks (Amazon
  ECS Developer Guide, "Service RUNNING task count",
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cloudwatch-metrics.html), and a
  service with no running task publishes nothing ("if you have a cluster with one service in it but
  that service has no tasks in a RUNNING state, there will be no metrics sent"): `running` alarms
  below a fixed minimum (the catalog's threshold, default 1), missing data breaching. Its period is
  fixed at one minute and its statistic at SampleCount, or the count means something else.

CPU and memory: AWS/ECS CPUUtilization and MemoryUtilization per service (Average, percent of what
the task definition reserves; free, with or without Container Insights). They fit an anomaly band.
No running task publishes none: missing data is not breaching, the task signals page for that.

Deployment failures: the deployment circuit breaker sends an "ECS Deployment State Change" event
with eventName SERVICE_DEPLOYMENT_FAILED (Amazon ECS Developer Guide, "Amazon ECS service
deployment state change events"; resources[0] is the service's ARN). CloudWatch cannot alarm on an
event, and no code of vigil's needs to run for it either: one EventBridge rule per stack writes
those events to a log group, and a metric filter per service counts its failures
(`deployment_failed`, Sum, missing data not breaching: no event is no failure). Stopped tasks
("ECS Task State Change", lastStatus STOPPED, with stoppedReason and exit codes) are for the
notifier's evidence in a later change; a rule for them needs what every ecs check and each of its
targets already carries: the cluster and the service (`ecs_service`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from vigil.spec.common import AlarmRule, CheckBase, Comparison, MissingData, Signal, Statistic, refuse_statistic, worded
from vigil.spec.selector import Selectable, TagSelector, arn_resource, target

NAME = worded(r"^[A-Za-z0-9_-]{1,255}$", "an ECS cluster or service name: 1 to 255 letters, digits, - and _")
SHORT = "tasks_short"
RUNNING = "running"
DEPLOYMENT = "deployment_failed"
# The task count is a computed or counted series: its statistic (and for `running` its period) is fixed.
FIXED_STATISTIC = frozenset({SHORT, RUNNING, DEPLOYMENT})


def _rule(
    threshold: float,
    comparison: Comparison,
    periods: int,
    missing: MissingData,
    statistic: Statistic = Statistic.average,
) -> AlarmRule:
    return AlarmRule.sustained(threshold, comparison, periods, missing, statistic=statistic)


class EcsCheck(Selectable, CheckBase):
    """Tasks running, CPU, memory and failed deployments of an ECS service."""

    signals: ClassVar = {
        s.name: s
        for s in (
            Signal(
                SHORT,
                "DesiredTaskCount-RunningTaskCount",
                "tasks",
                "tasks the service wants but does not have running (Container Insights)",
                _rule(0, Comparison.gt, 5, MissingData.breaching, Statistic.maximum),
            ),
            Signal(
                RUNNING,
                "CPUUtilization SampleCount",
                "tasks",
                "tasks running (without Container Insights: below the catalog's minimum)",
                _rule(1, Comparison.lt, 3, MissingData.breaching, Statistic.sample_count),
            ),
            Signal(
                "cpu",
                "CPUUtilization",
                "%",
                "CPU used by the service's tasks, as a share of what they reserve",
                _rule(90, Comparison.gt, 5, MissingData.not_breaching),
                bands=True,
            ),
            Signal(
                "memory",
                "MemoryUtilization",
                "%",
                "memory used by the service's tasks, as a share of what they reserve",
                _rule(90, Comparison.gt, 5, MissingData.not_breaching),
                bands=True,
            ),
            Signal(
                DEPLOYMENT,
                "DeploymentFailed",
                "deployments",
                "a deployment failed and the circuit breaker stopped it (SERVICE_DEPLOYMENT_FAILED)",
                AlarmRule.sustained(1, Comparison.ge, 1, MissingData.not_breaching, statistic=Statistic.sum),
            ),
        )
    }
    has_checker: ClassVar[bool] = False
    resource_type: ClassVar[str] = "ecs:service"

    kind: Literal["ecs"]
    cluster: str | None = Field(default=None, pattern=NAME, description="the cluster's name")
    ecs_service: str | None = Field(default=None, pattern=NAME, description="the ECS service's name")
    selector: TagSelector | None = Field(
        default=None, description="instead of cluster and ecs_service: every ECS service with these tags"
    )
    container_insights: bool = Field(
        default=True,
        description="the cluster publishes Container Insights: tasks_short compares running with desired; "
        "false: running alarms below a fixed minimum",
    )

    @model_validator(mode="after")
    def _ecs_sane(self) -> EcsCheck:
        named = self.cluster is not None and self.ecs_service is not None
        if named == (self.selector is not None) or (self.cluster is None) != (self.ecs_service is None):
            raise ValueError(
                "give cluster and ecs_service (one service) or selector (every service with some tags), not both"
            )
        refuse_statistic(self.alarms, FIXED_STATISTIC, "for a counted signal")
        if RUNNING in self.alarms and self.alarms[RUNNING].period not in (None, 60):
            raise ValueError("alarms.running.period: fixed at 1m (SampleCount per minute is the task count)")
        return self

    @property
    def target_label(self) -> str:
        return f"{self.cluster}/{self.ecs_service}"

    def for_resource(self, arn: str) -> EcsCheck | None:
        parsed = arn_resource(arn)
        # The long ARN format (service/<cluster>/<service>) is the only one that can carry tags.
        parts = parsed[1].split("/") if parsed is not None else []
        if len(parts) != 3:
            return None
        return target(self, f"{parts[1]}/{parts[2]}", cluster=parts[1], ecs_service=parts[2])

    def alarm_metric_count(self, signal: str) -> int:
        """Metrics the signal's alarm reads (CloudWatch prices an alarm per metric it reads)."""
        return 2 if signal == SHORT else 1

    def custom_metric_count(self) -> int:
        """DeploymentFailed comes from a metric filter: a custom metric, billed in the months it is published."""
        return 1

    def active_signals(self) -> list[str]:
        idle = RUNNING if self.container_insights else SHORT
        return [s for s in self.signals if s != idle]
