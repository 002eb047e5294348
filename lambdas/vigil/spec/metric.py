"""Kind `metric`: one alarm on any CloudWatch metric, or on a metric math expression; no Lambda runs.

For what has no kind yet. `metric` names one metric (namespace, name, dimensions); the alarm's
statistic and period come from `alarms.value` like any rule. `expression` is CloudWatch metric math
over the `metrics` it names by id, each with its own statistic (Amazon CloudWatch User Guide,
"Using math expressions with CloudWatch metrics"; an alarm reads at most 10 metrics), or a Metrics
Insights query (`SELECT ...`) on its own. SEARCH expressions cannot be alarmed on.

vigil cannot guess what the number means nor what its silence means, so `alarms.value` must give
a threshold (or an anomaly `band`, for one plain metric) and `missing_data`.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from vigil.spec.common import AlarmRule, CheckBase, Comparison, MissingData, Signal, Statistic, StrictModel, worded

VALUE = "value"
MAX_METRICS = 10  # PutMetricAlarm reads at most 10 metrics per alarm
MetricId = Annotated[
    str,
    Field(
        pattern=worded(
            r"^[a-z][a-zA-Z0-9_]{0,254}$", "a metric id: a lowercase letter, then letters, digits and _ (255 at most)"
        )
    ),
]
# CloudWatch names: 1-255 characters; a namespace cannot start with ':'.
Namespace = Annotated[
    str, Field(min_length=1, max_length=255, pattern=worded(r"^[^:]", "a namespace that does not start with ':'"))
]
Name = Annotated[str, Field(min_length=1, max_length=255)]
DimensionValue = Annotated[str, Field(min_length=1, max_length=1024)]
# In an expression: lowercase words are metric ids; functions and keywords are upper case.
_ID_IN_EXPRESSION = re.compile(r"(?<![A-Za-z0-9_.])[a-z][a-zA-Z0-9_]*")


class MetricRef(StrictModel):
    """One CloudWatch metric: namespace, name and every dimension (a metric is all of them together)."""

    namespace: Namespace = Field(description="such as AWS/ApplicationELB or MyApp")
    name: Name = Field(description="the metric's name")
    dimensions: dict[Name, DimensionValue] = Field(
        default_factory=dict, max_length=30, description="every dimension the metric is published with"
    )


class ExpressionMetric(MetricRef):
    """A metric an expression reads, with its own statistic."""

    statistic: Statistic = Field(default=Statistic.average, description="Sum for counts, Average, Maximum, p99, ...")


@functools.cache
def _value_signal(bands: bool, unit: str = "") -> dict[str, Signal]:
    signal = Signal(
        VALUE,
        "value",
        unit,
        "the metric's value",
        # Never used as is: the catalog must give threshold (or band) and missing_data.
        AlarmRule.sustained(0, Comparison.gt, 3, MissingData.missing, statistic=Statistic.average),
        bands=bands,
    )
    return {VALUE: signal}


class _MetricSignals:
    """`signals` for metric: in the check's own unit; an anomaly band fits one plain metric, not an expression."""

    def __get__(self, check: MetricCheck | None, owner: type | None = None) -> dict[str, Signal]:
        if check is None:
            return _value_signal(bands=True)
        return _value_signal(bands=getattr(check, "expression", None) is None, unit=getattr(check, "unit", ""))


class MetricCheck(CheckBase):
    """One alarm on a CloudWatch metric or metric math expression, with the catalog's own rule."""

    signals: ClassVar = _MetricSignals()  # type: ignore[assignment]
    has_checker: ClassVar[bool] = False

    kind: Literal["metric"]
    metric: MetricRef | None = Field(default=None, description="one metric; the rule's statistic applies")
    expression: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="metric math over `metrics` (by id), or a Metrics Insights query (SELECT ...)",
    )
    metrics: dict[MetricId, ExpressionMetric] = Field(
        default_factory=dict, max_length=MAX_METRICS, description="the metrics the expression reads, by id"
    )
    unit: str = Field(default="", max_length=20, description="shown after the value in notifications: %, ms, orders")

    @model_validator(mode="after")
    def _metric_or_expression(self) -> MetricCheck:
        if (self.metric is None) == (self.expression is None):
            found = "both" if self.metric is not None else "neither"
            raise ValueError(f"give one of metric (one metric) or expression (metric math); found {found}")
        if self.expression is not None:
            self._expression_sane(self.expression)
        elif self.metrics:
            raise ValueError("metrics: only with an expression; one metric goes under metric")
        override = self.alarms.get(VALUE)
        if override is None or (override.threshold is None and override.band is None):
            raise ValueError(
                "alarms.value.threshold: required, vigil cannot guess what the number means "
                "(or give alarms.value.band for an anomaly band); for example alarms: {value: {threshold: 100}}"
            )
        if override.missing_data is None:
            raise ValueError(
                "alarms.value.missing_data: required, vigil cannot guess what no data means here: breaching "
                "(the metric must always report), notBreaching (it reports only when something happens), "
                "ignore (keep the state) or missing"
            )
        return self

    def _expression_sane(self, expression: str) -> None:
        if self.alarms.get(VALUE) is not None and self.alarms[VALUE].statistic is not None:
            raise ValueError("alarms.value.statistic: an expression has none; give each metric its statistic")
        if re.search(r"\bSEARCH\s*\(", expression):
            raise ValueError("expression: CloudWatch cannot alarm on a SEARCH expression")
        if expression.lstrip().upper().startswith("SELECT"):
            if self.metrics:
                raise ValueError("metrics: a Metrics Insights query (SELECT ...) reads no other metric; remove them")
            return
        used = set(_ID_IN_EXPRESSION.findall(expression))
        unknown = sorted(used - set(self.metrics))
        if unknown:
            known = ", ".join(self.metrics) or "none"
            raise ValueError(f"expression: unknown metric id {', '.join(unknown)}; metrics: {known}")
        unused = sorted(set(self.metrics) - used)
        if unused:
            raise ValueError(f"metrics: {', '.join(unused)} not used in the expression; remove it")

    def alarm_metric_count(self, signal: str) -> int:
        """Metrics the alarm reads (CloudWatch prices an alarm per metric it reads)."""
        return max(1, len(self.metrics))
