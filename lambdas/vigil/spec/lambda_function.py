"""Kind `lambda`: native CloudWatch alarms on one Lambda function's own metrics; no Lambda of vigil's runs.

AWS/Lambda, dimension FunctionName (AWS Lambda Developer Guide, "Types of metrics for Lambda
functions", https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html): Invocations,
Errors and Throttles are counts (Sum), Duration and IteratorAge are milliseconds; Lambda publishes
them only for minutes with invocations (IteratorAge only for stream event sources).

- `errors`: the error rate, 100 × Errors / Invocations, in percent (metric math), so one failure in a
  million calls is not a page and half the calls failing is, whatever the traffic.
- `throttles`: throttled invocations (Sum).
- `duration`: the slowest invocation (Maximum; p99 with `alarms.duration.statistic: p99`) as a
  percentage of the function's configured timeout, which the check must carry (`function_timeout`):
  a function creeping towards its timeout is caught before it starts timing out.
- `iterator_age`: for stream sources (Kinesis, DynamoDB Streams), the age of the last record
  processed, in seconds; only with `stream_source: true`.

Missing data is not breaching everywhere: no invocations is no error, throttle or slowness. That
is also a blind spot: a function nobody calls any more, or a stream mapping that stopped, goes
silent (watch the caller, or add a `metric` check on Invocations with missing data breaching).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from vigil.spec.common import (
    AlarmRule,
    CheckBase,
    Comparison,
    Duration,
    MissingData,
    Signal,
    Statistic,
    refuse_statistic,
    worded,
)

# A function name, or its ARN (then the name is the last part).
FUNCTION_REF = worded(
    r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}$",
    "a function name (1 to 64 letters, digits, - and _) or its ARN "
    "arn:aws:lambda:<region>:<12-digit account>:function:<name>",
)
MAX_TIMEOUT = 900  # Lambda's limit, seconds
ITERATOR_AGE = "iterator_age"
DURATION = "duration"
# Computed from counts (Sum) or a lag (Maximum) whatever the rule says: no statistic to choose.
FIXED_STATISTIC = frozenset({"errors", ITERATOR_AGE})


def _rule(
    threshold: float, periods: int, statistic: Statistic = Statistic.maximum, datapoints: int | None = None
) -> AlarmRule:
    return AlarmRule.sustained(
        threshold, Comparison.gt, periods, MissingData.not_breaching, datapoints=datapoints, statistic=statistic
    )


class LambdaCheck(CheckBase):
    """Error rate, throttles, duration near the timeout and (stream sources) iterator age of one function."""

    signals: ClassVar = {
        s.name: s
        for s in (
            Signal("errors", "Errors/Invocations", "%", "invocations that failed", _rule(5, 3)),
            Signal(
                "throttles",
                "Throttles",
                "invocations",
                "invocations throttled (concurrency limit reached)",
                _rule(0, 5, Statistic.sum, datapoints=3),
            ),
            Signal(
                DURATION,
                "Duration",
                "% of timeout",
                "the slowest invocation's duration as a share of the function's timeout",
                _rule(80, 3),
            ),
            Signal(
                ITERATOR_AGE,
                "IteratorAge",
                "seconds",
                "age of the last stream record processed: how far behind the stream the function is",
                _rule(300, 5),
            ),
        )
    }
    has_checker: ClassVar[bool] = False

    kind: Literal["lambda"]
    function: str = Field(pattern=FUNCTION_REF, description="the function's name or ARN")
    function_timeout: Duration = Field(description="the function's configured timeout, such as 30s or 15m")
    stream_source: bool = Field(
        default=False, description="the function reads a Kinesis or DynamoDB stream: adds iterator_age"
    )

    @model_validator(mode="after")
    def _lambda_sane(self) -> LambdaCheck:
        if self.function_timeout > MAX_TIMEOUT:
            raise ValueError(f"function_timeout: at most 15m ({MAX_TIMEOUT}s), Lambda's limit")
        if ITERATOR_AGE in self.alarms and not self.stream_source:
            raise ValueError("alarms.iterator_age: only for a stream source; add stream_source: true")
        refuse_statistic(self.alarms, FIXED_STATISTIC, "for a computed signal")
        return self

    @property
    def function_name(self) -> str:
        """The FunctionName dimension: the name, also when the catalog gives the ARN."""
        return self.function.rsplit(":", 1)[-1]

    def alarm_metric_count(self, signal: str) -> int:
        """Metrics the signal's alarm reads (CloudWatch prices an alarm per metric it reads)."""
        return 2 if signal == "errors" else 1

    def active_signals(self) -> list[str]:
        return [s for s in self.signals if s != ITERATOR_AGE or self.stream_source]
