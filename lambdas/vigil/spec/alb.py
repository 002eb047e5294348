"""Kind `alb`: native CloudWatch alarms on an Application Load Balancer and its targets; no Lambda runs.

AWS/ApplicationELB (Elastic Load Balancing, "CloudWatch metrics for your Application Load
Balancer", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
- UnHealthyHostCount (dimensions TargetGroup and LoadBalancer; Maximum): targets failing their
  health checks. Published per target group, never for the load balancer alone, so a check
  without `target_group` reads the worst target group of the load balancer through one Metrics
  Insights query (`SELECT MAX(UnHealthyHostCount) ... WHERE LoadBalancer = '...'`).
- HTTPCode_Target_5XX_Count and RequestCount (Sum): `target_5xx_rate` is 100 × 5XX / requests in
  percent (metric math), once a minute carries at least `min_requests` requests, so the third
  request of a quiet night failing is not a 33% page.
- TargetResponseTime (seconds): `latency` is its p99; it fits an anomaly band.

A check watches one load balancer (`load_balancer`), narrowed to one target group
(`target_group`) when the load balancer is shared by several services, or every Application Load
Balancer carrying some tags (`selector`, vigil.spec.selector): a target group's ARN does not name
its load balancer, which the TargetGroup metrics need too, so the selector finds load balancers.

Missing data is not breaching: the load balancer publishes these metrics only while requests flow
("If there are no requests flowing through the load balancer or no data for a metric, the metric
is not reported").
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from vigil.spec.common import AlarmRule, CheckBase, Comparison, MissingData, Signal, Statistic, refuse_statistic, worded
from vigil.spec.selector import Selectable, TagSelector, arn_resource, target

# The LoadBalancer dimension (app/<name>/<id>) or the load balancer's ARN.
LOAD_BALANCER = worded(
    r"^(arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/)?app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$",
    "app/<name>/<id> (the LoadBalancer dimension: a name of 1 to 32 letters, digits and -, an id of 16 lowercase "
    "hex digits) or the load balancer's ARN",
)
TARGET_GROUP = worded(
    r"^(arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:)?targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$",
    "targetgroup/<name>/<id> (the TargetGroup dimension: a name of 1 to 32 letters, digits and -, an id of 16 "
    "lowercase hex digits) or the target group's ARN",
)
RATE = "target_5xx_rate"
UNHEALTHY = "unhealthy_hosts"
FIXED_STATISTIC = frozenset({RATE})


def _rule(threshold: float, periods: int, statistic: Statistic) -> AlarmRule:
    return AlarmRule.sustained(threshold, Comparison.gt, periods, MissingData.not_breaching, statistic=statistic)


def dimension(ref: str, marker: str) -> str:
    """The dimension value from an ARN or the value itself: the part from `app/` or `targetgroup/`."""
    return ref[ref.index(marker) :]


class AlbCheck(Selectable, CheckBase):
    """Unhealthy targets, the targets' 5XX rate and p99 latency of an Application Load Balancer."""

    signals: ClassVar = {
        s.name: s
        for s in (
            Signal(
                UNHEALTHY,
                "UnHealthyHostCount",
                "targets",
                "targets failing their health checks",
                _rule(0, 3, Statistic.maximum),
            ),
            Signal(
                RATE,
                "HTTPCode_Target_5XX_Count/RequestCount",
                "%",
                "requests the targets answered with a 5XX",
                _rule(5, 3, Statistic.sum),
            ),
            Signal(
                "latency",
                "TargetResponseTime",
                "s",
                "p99 of the time the targets take to answer",
                _rule(1, 5, Statistic.p99),
                bands=True,
            ),
        )
    }
    has_checker: ClassVar[bool] = False
    resource_type: ClassVar[str] = "elasticloadbalancing:loadbalancer"

    kind: Literal["alb"]
    load_balancer: str | None = Field(
        default=None, pattern=LOAD_BALANCER, description="app/<name>/<id> (the LoadBalancer dimension) or the ARN"
    )
    target_group: str | None = Field(
        default=None,
        pattern=TARGET_GROUP,
        description="targetgroup/<name>/<id> or the ARN: watch only this target group of the load balancer",
    )
    selector: TagSelector | None = Field(
        default=None, description="instead of load_balancer: every Application Load Balancer with these tags"
    )
    min_requests: int = Field(
        default=10, ge=1, description="requests a minute needs before target_5xx_rate counts it (fewer: 0%)"
    )

    @model_validator(mode="after")
    def _alb_sane(self) -> AlbCheck:
        if (self.load_balancer is None) == (self.selector is None):
            found = "both" if self.selector is not None else "neither"
            raise ValueError(
                f"give one of load_balancer (one load balancer) or selector (every one with some tags); found {found}"
            )
        if self.target_group is not None and self.selector is not None:
            raise ValueError("target_group: only with load_balancer (a selector finds load balancers)")
        refuse_statistic(self.alarms, FIXED_STATISTIC, "(Sum of 5XX over Sum of requests)")
        return self

    @property
    def load_balancer_dimension(self) -> str:
        assert self.load_balancer is not None, "a check with a selector stands for its targets"
        return dimension(self.load_balancer, "app/")

    @property
    def target_group_dimension(self) -> str | None:
        return None if self.target_group is None else dimension(self.target_group, "targetgroup/")

    @property
    def target_label(self) -> str:
        return self.load_balancer_dimension.split("/")[1]

    def for_resource(self, arn: str) -> AlbCheck | None:
        parsed = arn_resource(arn)
        # Network and gateway load balancers share the resource type; this kind watches Application ones.
        if parsed is None or not parsed[1].startswith("loadbalancer/app/"):
            return None
        balancer = parsed[1].removeprefix("loadbalancer/")
        return target(self, balancer.split("/")[1], load_balancer=balancer)

    def alarm_metric_count(self, signal: str) -> int:
        """Metrics the signal's alarm reads (CloudWatch prices an alarm per metric it reads).

        Without a target group, unhealthy_hosts is one Metrics Insights query priced per target group
        it reads; the check cannot know how many, so plans count one.
        """
        return 2 if signal == RATE else 1
