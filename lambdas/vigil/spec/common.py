"""Building blocks shared by every check kind: durations, alarm rules, signals, the check base."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from vigil.result import CHECK_DIMENSION, MEASURE_FAILED, SLUG_PATTERN

# Every regex a catalog field must match, with what it allows in words: a catalog error explains
# the rule and never answers with the regex (infra/catalog.py). Filled by `worded` where each
# pattern is defined; a test fails for any pattern of a model that is not here.
PATTERN_WORDS: dict[str, str] = {}


def worded(pattern: str, words: str) -> str:
    """Record what `pattern` allows, in words, and return the pattern (for Field(pattern=...))."""
    known = PATTERN_WORDS.setdefault(pattern, words)
    if known != words:
        raise ValueError(f"pattern {pattern!r} is explained twice: {known!r} and {words!r}")
    return pattern


Slug = Annotated[
    str,
    Field(
        pattern=worded(
            SLUG_PATTERN, "a lowercase slug: a-z, 0-9 and '-', not starting or ending with '-', at most 64 characters"
        ),
        description="lowercase slug: a-z, 0-9 and '-', at most 64 characters",
    ),
]

# user:password@ in a URL: the catalog, the template and the notifications would all carry it.
_URL_USERINFO = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@")


def _no_credentials(url: str) -> str:
    if _URL_USERINFO.match(url):
        raise ValueError(
            "remove the user:password@ part: a URL is kept in the catalog, the template and the notifications, "
            "so credentials go in a Secrets Manager secret named by the kind's *_secret field (headers_secret for http)"
        )
    return url


NoCredentials = AfterValidator(_no_credentials)
# A checker's target: a host, then anything but spaces.
TargetUrl = Annotated[
    str,
    Field(pattern=worded(r"^https?://[^\s/$.?#][^\s]*$", "an http:// or https:// URL with a host and no spaces")),
    NoCredentials,
]
# An API's base URL, to which the checker appends its own paths and query.
BaseUrl = Annotated[
    str,
    Field(
        pattern=worded(
            r"^https?://[^\s/$.?#][^\s?#]*$",
            "an http:// or https:// base URL with a host, and no spaces, query (?) or fragment (#)",
        )
    ),
    NoCredentials,
]
RunbookUrl = Annotated[
    str, Field(pattern=worded(r"^https?://\S+$", "an http:// or https:// URL without spaces")), NoCredentials
]


_DURATION_TEXT = worded(r"^\s*\d+\s*(s|m|h)\s*$", "a duration such as 30s, 5m or 1h, or a number of seconds")
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(value: Any) -> Any:
    """Accept '30s', '5m', '1h' or a number of seconds; leave anything else to pydantic's int check."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"not a duration; allowed: {PATTERN_WORDS[_DURATION_TEXT]}")
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


def format_duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


# Stored as seconds; written back as the short form so a dumped spec reads like the catalog.
Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    Field(gt=0),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": _DURATION_TEXT}, {"type": "integer", "minimum": 1}],
            "description": "a duration such as 30s, 5m or 1h, or a number of seconds",
        }
    ),
]


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in the catalog must never be silently ignored.

    Numbers are finite: YAML reads .nan and .inf as floats, and no threshold or timeout means either.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Severity(StrEnum):
    critical = "critical"
    warning = "warning"


class Comparison(StrEnum):
    gt = ">"
    ge = ">="
    lt = "<"
    le = "<="

    def breaches(self, value: float, threshold: float) -> bool:
        return {
            ">": value > threshold,
            ">=": value >= threshold,
            "<": value < threshold,
            "<=": value <= threshold,
        }[self.value]


class MissingData(StrEnum):
    """CloudWatch's TreatMissingData values, spelled as CloudWatch spells them."""

    breaching = "breaching"
    not_breaching = "notBreaching"
    ignore = "ignore"
    missing = "missing"


class Statistic(StrEnum):
    maximum = "Maximum"
    minimum = "Minimum"
    average = "Average"
    sum = "Sum"
    sample_count = "SampleCount"
    # Percentiles (CloudWatch's extended statistics): latency p99 rather than its average.
    p50 = "p50"
    p90 = "p90"
    p95 = "p95"
    p99 = "p99"

    @property
    def percentile(self) -> float | None:
        """The percentile (99.0 for p99), or None for the plain statistics."""
        return float(self.value[1:]) if self.value.startswith("p") else None


class BandSide(StrEnum):
    """Which side of an anomaly detection band breaches: CloudWatch's three band comparison operators."""

    outside = "outside"  # LessThanLowerOrGreaterThanUpperThreshold
    above = "above"  # GreaterThanUpperThreshold
    below = "below"  # LessThanLowerThreshold

    def breaches(self, value: float, lower: float, upper: float) -> bool:
        return {"outside": value < lower or value > upper, "above": value > upper, "below": value < lower}[self.value]


class AnomalyBand(StrictModel):
    """Alarm when the value leaves the band CloudWatch anomaly detection learns from the metric's history,
    instead of at a fixed threshold (ANOMALY_DETECTION_BAND(metric, std_devs))."""

    std_devs: float = Field(default=2, gt=0, le=100, description="the band's width in standard deviations")
    side: BandSide = Field(default=BandSide.outside, description="outside (either side), above or below the band")


class AlarmRule(StrictModel):
    """One CloudWatch alarm's rule. The CDK alarm and the local alarm model both read this object."""

    threshold: float
    comparison: Comparison
    evaluation_periods: int = Field(ge=1, le=100)
    datapoints_to_alarm: int = Field(ge=1, le=100)
    missing_data: MissingData
    statistic: Statistic = Statistic.maximum
    period: Duration = 60
    # Set: the alarm compares with an anomaly detection band; threshold and comparison are unused.
    band: AnomalyBand | None = None

    @model_validator(mode="after")
    def _m_of_n(self) -> AlarmRule:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError(
                f"datapoints_to_alarm ({self.datapoints_to_alarm}) must not exceed "
                f"evaluation_periods ({self.evaluation_periods})"
            )
        if self.period % 60 and self.period not in (10, 20, 30):
            raise ValueError(f"period {self.period}s: CloudWatch allows 10s, 20s, 30s or a multiple of 60s")
        if self.period * self.evaluation_periods > 86400:
            raise ValueError("period × evaluation_periods must not exceed one day (CloudWatch limit)")
        return self

    @classmethod
    def sustained(
        cls,
        threshold: float,
        comparison: Comparison,
        periods: int,
        missing_data: MissingData,
        *,
        datapoints: int | None = None,
        statistic: Statistic = Statistic.maximum,
        period: int = 60,
    ) -> AlarmRule:
        """A kind's default rule in one line: breaching for `datapoints` (default: all) of `periods`."""
        return cls(
            threshold=threshold,
            comparison=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints or periods,
            missing_data=missing_data,
            statistic=statistic,
            period=period,
        )

    def describe(self, unit: str = "") -> str:
        """The rule in words, for plans and notifications: '> 1000 for 3 of 3 minutes'."""
        window = format_duration(self.period)
        periods = f"{self.datapoints_to_alarm} of {self.evaluation_periods}"
        span = f"{periods} minutes" if window == "1m" else f"{periods} periods of {window}"
        if self.band is not None:
            return f"{self.band.side.value} the anomaly band ({self.band.std_devs:g} standard deviations) for {span}"
        value = f"{self.threshold:g}{(' ' + unit) if unit else ''}"
        return f"{self.comparison.value} {value} for {span}"


class AlarmRuleOverride(StrictModel):
    """The part of a rule a catalog entry may change; anything left out keeps the kind's default."""

    threshold: float | None = None
    comparison: Comparison | None = None
    evaluation_periods: int | None = Field(default=None, ge=1, le=100)
    datapoints_to_alarm: int | None = Field(default=None, ge=1, le=100)
    missing_data: MissingData | None = None
    statistic: Statistic | None = None
    period: Duration | None = None
    band: AnomalyBand | None = Field(
        default=None, description="alarm outside an anomaly detection band instead of at a threshold"
    )

    @model_validator(mode="after")
    def _threshold_or_band(self) -> AlarmRuleOverride:
        if self.band is not None and (self.threshold is not None or self.comparison is not None):
            raise ValueError("give a threshold and comparison, or a band, not both")
        return self


@dataclass(frozen=True)
class Signal:
    """Something a kind can alarm on: the metric it reads, its unit and its default rule."""

    name: str
    metric: str
    unit: str
    summary: str
    default: AlarmRule
    # Checker kinds emit one datapoint per run, so their alarm period follows the cadence.
    period_follows_cadence: bool = False
    # The alarm's severity (and so its routes) when it is not the check's: each log pattern has its own.
    severity: Severity | None = None
    # An anomaly detection band fits: one plain metric whose normal level follows the time of day or week.
    bands: bool = False


# A DynamoDB table name: the dynamodb kind's table and a consistency check's dynamodb endpoint.
DYNAMODB_TABLE_NAME = worded(r"^[A-Za-z0-9_.-]{3,255}$", "a DynamoDB table name: 3 to 255 letters, digits and _ . -")


def _aws_id(prefix: str, what: str) -> str:
    return worded(
        rf"^{prefix}-[0-9a-f]{{8,17}}$",
        f"{what}: {prefix}- and 8 to 17 lowercase hex digits, such as {prefix}-0a1b2c3d",
    )


class VpcPlacement(StrictModel):
    """Where a checker runs when its target is private (RabbitMQ on EC2, an internal endpoint)."""

    vpc_id: str = Field(pattern=_aws_id("vpc", "a VPC id"))
    subnet_ids: list[Annotated[str, Field(pattern=_aws_id("subnet", "a subnet id"))]] = Field(min_length=1)
    security_group_ids: list[Annotated[str, Field(pattern=_aws_id("sg", "a security group id"))]] = Field(min_length=1)


class CheckBase(StrictModel):
    """Fields every check has, whatever its kind."""

    # Set by each kind: its signals, and whether a checker Lambda measures it (False: AWS does).
    signals: ClassVar[dict[str, Signal]] = {}
    has_checker: ClassVar[bool] = True
    # True when the kind's checker reads its event against the generated JSON Schema
    # (vigil.check_schema) instead of this model, to keep pydantic out of its cold start.
    schema_checked: ClassVar[bool] = False
    # Set by a kind whose target can be down as a whole (a broker, an endpoint): while this signal
    # is in ALARM, the check's other signals and those of checks `inhibited_by` it do not page.
    inhibitor_signal: ClassVar[str | None] = None

    id: Slug = Field(description="stable identity of everything built for this check; never rename")
    kind: str
    service: Slug
    team: Slug | None = None
    severity: Severity
    cadence: Duration = Field(default=300, description="how often the checker runs (1m to 1h)")
    description: str | None = Field(default=None, max_length=300)
    runbook: RunbookUrl | None = Field(default=None, max_length=300)
    alarms: dict[str, AlarmRuleOverride] = Field(
        default_factory=dict, description="per-signal overrides of the kind's default alarm rules"
    )
    inhibited_by: Slug | None = Field(
        default=None,
        description="id of a check whose outage holds back this check's ALARM pages; recoveries still go out",
    )

    @model_validator(mode="after")
    def _alarms_resolve(self) -> CheckBase:
        if not 60 <= self.cadence <= 3600 or self.cadence % 60:
            raise ValueError(f"cadence {format_duration(self.cadence)}: use whole minutes from 1m to 1h")
        # Checker kinds have a `timeout`: a run must end before the next one starts.
        timeout = getattr(self, "timeout", None)
        if timeout is not None and timeout >= self.cadence:
            raise ValueError(f"timeout {timeout:g}s must be shorter than the cadence ({self.cadence}s)")
        # Kinds that count over a look-back `window` must cover the time since the previous run.
        window = getattr(self, "window", None)
        if isinstance(window, int) and window < self.cadence:
            raise ValueError(
                f"window {format_duration(window)} is shorter than the cadence {format_duration(self.cadence)}: "
                "what happens between two runs would never be counted"
            )
        unknown = sorted(set(self.alarms) - set(self.signals))
        if unknown:
            raise ValueError(
                f"alarms: unknown signal {', '.join(unknown)}; kind {self.kind} has {', '.join(self.signals)}"
            )
        for name in self.signals:
            self.rule(name)  # raises with the merged rule's problem
        unfit = sorted(name for name, o in self.alarms.items() if o.band is not None and not self.signals[name].bands)
        if unfit:
            fits = ", ".join(name for name, s in self.signals.items() if s.bands) or "none"
            raise ValueError(
                f"alarms.{unfit[0]}.band: an anomaly band fits only a signal that reads one plain metric; "
                f"signals of kind {self.kind} that take one: {fits}"
            )
        return self

    def rule(self, signal: str) -> AlarmRule:
        """The kind's default rule for this signal with the catalog's overrides applied."""
        spec = self.signals[signal]
        merged = spec.default.model_dump()
        if spec.period_follows_cadence:
            merged["period"] = self.cadence
        override = self.alarms.get(signal)
        if override is not None:
            merged.update(override.model_dump(exclude_none=True))
        try:
            return AlarmRule.model_validate(merged)
        except ValueError as exc:
            raise ValueError(f"alarms.{signal}: {_first_error(exc)}") from None

    def active_signals(self) -> list[str]:
        """Signals that get an alarm; a kind may drop some (an SQS check without a DLQ has no dlq alarm)."""
        return list(self.signals)

    def rules(self) -> dict[str, AlarmRule]:
        return {name: self.rule(name) for name in self.active_signals()}

    def alarm_dimensions(self, signal: str) -> dict[str, str]:
        """The dimensions of the Vigil series a checker kind's alarm on this signal watches."""
        return {CHECK_DIMENSION: self.id}


def refuse_statistic(alarms: dict[str, AlarmRuleOverride], fixed: frozenset[str], why: str) -> None:
    """A signal computed from metrics with their own statistics (a ratio, a filled count) has none to override."""
    for signal in sorted(fixed & set(alarms)):
        if alarms[signal].statistic is not None:
            raise ValueError(f"alarms.{signal}: statistic is fixed {why}; remove it")


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first["msg"]).removeprefix("Value error, ")
    return str(exc)


# The value signals of checker kinds: a run that could not measure writes no value. `ignore` keeps
# the alarm where it was (the measure alarm pages about the checker) instead of sending a false
# "recovered" to on-call while nobody is measuring.
CHECKER_MISSING_DATA = MissingData.ignore

# Every checker kind also has this signal: the checker says it could not measure, or it stopped
# reporting at all (missing data is breaching, so a silent checker alarms).
MEASURE_SIGNAL = Signal(
    name="measure",
    metric=MEASURE_FAILED,
    unit="",
    summary="the checker could not measure, or went silent",
    default=AlarmRule.sustained(1, Comparison.ge, 2, MissingData.breaching),
    period_follows_cadence=True,
)


def checker_signals(*signals: Signal) -> dict[str, Signal]:
    """The signals of a kind measured by a checker Lambda: its own plus the measure signal."""
    return {s.name: s for s in (*signals, MEASURE_SIGNAL)}
