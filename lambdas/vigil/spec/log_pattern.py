"""Kind `log_pattern`: CloudWatch Logs metric filters on an existing log group; no Lambda runs.

Each pattern is its own signal: its own metric, alarm, severity and one-line explanation (the
AlarmMeta summary, so the notification carries it). Patterns are parsed when the catalog loads,
so a pattern CloudWatch would reject, or one vigil cannot evaluate, is a catalog error.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from vigil import filter_pattern
from vigil.spec.common import (
    AlarmRule,
    CheckBase,
    Comparison,
    Duration,
    MissingData,
    Severity,
    Signal,
    Slug,
    Statistic,
    StrictModel,
    format_duration,
    worded,
)
from vigil.spec.log_presets import PRESETS, PresetName

# CloudWatch Logs' log group name: 1-512 of letters, digits and _ - / . #
LOG_GROUP_NAME = worded(r"^[.\-_/#A-Za-z0-9]{1,512}$", "a log group name: 1 to 512 letters, digits and _ - / . #")
MAX_PATTERNS = 100  # CloudWatch's limit of metric filters per log group
MAX_WINDOW = 86400


class LogPattern(StrictModel):
    """One pattern: counted per window; the alarm fires when the count reaches the threshold."""

    name: Slug = Field(description="names the signal, its metric and alarm: vigil-<env>-<check>-<name>")
    pattern: str = Field(min_length=1, description="CloudWatch Logs filter pattern (term syntax)")
    severity: Severity | None = Field(default=None, description="this pattern's alarm severity; default: the check's")
    explain: str = Field(
        min_length=1,
        max_length=160,
        pattern=worded(r"^[^\r\n]+$", "one line of text (no line breaks)"),
        description="one line for on-call: what a match means and what to do; shown in the notification",
    )
    threshold: int = Field(default=1, ge=1, description="matching lines per window that alarm")
    window: Duration = Field(default=300, description="the counting window, whole minutes from 1m to 1d")

    @field_validator("pattern")
    @classmethod
    def _parses(cls, value: str) -> str:
        filter_pattern.parse(value)
        return value

    @field_validator("window")
    @classmethod
    def _whole_minutes(cls, value: int) -> int:
        # Metric filters publish one datapoint per minute: a shorter or ragged window means nothing.
        if value % 60 or value > MAX_WINDOW:
            raise ValueError(f"window {format_duration(value)}: use whole minutes from 1m to 1d")
        return value

    def signal(self, check_id: str) -> Signal:
        return Signal(
            name=self.name,
            # Metric filters on term patterns cannot publish dimensions, so the check is in the name.
            metric=f"{check_id}.{self.name}",
            unit="lines",
            summary=self.explain,
            # A window without a matching line is healthy, whether or not the log group spoke.
            default=AlarmRule.sustained(
                self.threshold, Comparison.ge, 1, MissingData.not_breaching, statistic=Statistic.sum, period=self.window
            ),
            severity=self.severity,
        )


PRESET_PATTERNS: dict[str, tuple[LogPattern, ...]] = {
    name: tuple(LogPattern.model_validate(p) for p in patterns) for name, patterns in PRESETS.items()
}


class _PatternSignals:
    """`signals` for log_pattern: one per pattern of the catalog entry, so only an instance has any.

    On the class it is empty, so catalog-wide alarm defaults (settings `defaults.alarm`) pass log
    patterns by: a pattern's rule is a count over one window, not M of N periods.
    """

    def __get__(self, check: LogPatternCheck | None, owner: type | None = None) -> dict[str, Signal]:
        if check is None:
            return {}
        return {p.name: p.signal(check.id) for p in check.all_patterns()}


class LogPatternCheck(CheckBase):
    """Counts log lines matching each pattern in a CloudWatch Logs log group and alarms per pattern."""

    signals: ClassVar = _PatternSignals()  # type: ignore[assignment]
    has_checker: ClassVar[bool] = False

    kind: Literal["log_pattern"]
    log_group: str = Field(
        pattern=LOG_GROUP_NAME, description="an existing log group, such as /aws/rds/instance/db/error"
    )
    preset: PresetName | None = Field(default=None, description="a named set of patterns; see docs/catalog.md")
    patterns: list[LogPattern] = Field(
        default_factory=list, validate_default=True, description="own patterns, alone or added to the preset's"
    )

    @field_validator("patterns")
    @classmethod
    def _named_once(cls, patterns: list[LogPattern], info: ValidationInfo) -> list[LogPattern]:
        # "preset" is absent when it failed its own validation: that error is enough.
        if "preset" not in info.data:
            return patterns
        preset = info.data["preset"]
        if preset is None and not patterns:
            raise ValueError("give a preset, patterns, or both")
        preset_names = {p.name for p in PRESET_PATTERNS.get(preset or "", ())}
        seen: set[str] = set()
        for p in patterns:
            if p.name in seen or p.name in preset_names:
                where = f"the {preset} preset has it" if p.name in preset_names else "two patterns have it"
                raise ValueError(f"name {p.name!r} is used twice ({where}); pattern names must be unique")
            seen.add(p.name)
        if len(seen) + len(preset_names) > MAX_PATTERNS:
            raise ValueError(
                f"{len(seen) + len(preset_names)} patterns; CloudWatch allows {MAX_PATTERNS} per log group"
            )
        return patterns

    def all_patterns(self) -> list[LogPattern]:
        return [*PRESET_PATTERNS.get(self.preset or "", ()), *self.patterns]
