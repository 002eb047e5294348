"""Kind `heartbeat`: a job pings vigil when it starts and when it ends; silence or failure pages."""

from __future__ import annotations

from datetime import timedelta, tzinfo
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from vigil.heartbeat import cron as cron_expressions
from vigil.heartbeat.cron import time_zone
from vigil.heartbeat.state import Schedule
from vigil.spec.common import (
    CHECKER_MISSING_DATA,
    AlarmRule,
    CheckBase,
    Comparison,
    Duration,
    Signal,
    checker_signals,
    format_duration,
    worded,
)

# The ping endpoint may read secrets under this prefix only (its IAM policy says so).
TOKEN_SECRET_PREFIX = "vigil/heartbeat/"
MISSED_METRIC = "HeartbeatMissed"
FAILED_METRIC = "HeartbeatFailed"
MAX_PERIOD = 35 * 24 * 3600  # beyond a month, a cron says it better
MAX_GRACE = 7 * 24 * 3600
# Cost assumptions, upper bounds: a ping takes 0.1 s of a 256 MB endpoint; an item with three pings of
# ten 300-character lines is under 10 KB (10 write units, an eventually consistent read of 1.5 units).
PING_GB_SECONDS = 0.1 * 0.25
ITEM_WRITE_UNITS = 10
CHECKER_READ_UNITS = 1.5


class HeartbeatCheck(CheckBase):
    """A job that pings the endpoint: start (optional), then success, fail or its exit code."""

    # The checker writes 1 or 0 every run from the stored pings: the deadline and grace are in the
    # value already, so one breaching run pages. A run that cannot read the pings writes neither;
    # the measure alarm pages instead.
    signals: ClassVar = checker_signals(
        Signal(
            name="missed",
            metric=MISSED_METRIC,
            unit="",
            summary="the job did not run: no start or success ping by its deadline (due time + grace)",
            default=AlarmRule.sustained(1, Comparison.ge, 1, CHECKER_MISSING_DATA),
            period_follows_cadence=True,
        ),
        Signal(
            name="failed",
            metric=FAILED_METRIC,
            unit="",
            summary="the job ran and failed: a fail ping or non-zero exit code, or a start and no end within max_runtime",
            default=AlarmRule.sustained(1, Comparison.ge, 1, CHECKER_MISSING_DATA),
            period_follows_cadence=True,
        ),
    )

    kind: Literal["heartbeat"]
    period: Duration | None = Field(default=None, description="the job runs every period (1m to 840h); or use cron")
    cron: str | None = Field(
        default=None,
        max_length=200,
        description="when the job runs: five fields (0 2 * * *) or the AWS six (cron(0 2 ? * MON-FRI *))",
    )
    timezone: str = Field(default="UTC", description="IANA time zone the cron is read in, such as Europe/London")
    grace: Duration = Field(description="how late the job may ping after it is due (up to 168h)")
    start_ping: bool = Field(
        default=False, description="the job pings /start when it begins: a miss reads 'did not start'"
    )
    max_runtime: Duration | None = Field(
        default=None, description="how long a started job may run before it counts as failed (default: grace)"
    )
    token_secret_name: str = Field(
        pattern=worded(
            r"^vigil/heartbeat/[A-Za-z0-9/_+=.@-]{1,400}$",
            f"a Secrets Manager secret name under {TOKEN_SECRET_PREFIX}: then 1 to 400 letters, digits and / _ + = . @ -",
        ),
        description=f'Secrets Manager name of a JSON secret {{"token": ...}} under {TOKEN_SECRET_PREFIX}',
    )

    @model_validator(mode="after")
    def _schedule_sane(self) -> HeartbeatCheck:
        if (self.period is None) == (self.cron is None):
            raise ValueError("give either period (the job runs every period) or cron (the job runs at set times)")
        if self.period is not None and not 60 <= self.period <= MAX_PERIOD:
            raise ValueError(f"period {format_duration(self.period)}: use 1m to {format_duration(MAX_PERIOD)}")
        if self.period is not None and self.timezone != "UTC":
            raise ValueError("timezone applies to cron only: a period does not depend on the clock")
        if self.cron is not None:
            cron_expressions.parse(self.cron)  # raises with the field that is wrong
        if not 60 <= self.grace <= MAX_GRACE:
            raise ValueError(f"grace {format_duration(self.grace)}: use 1m to {format_duration(MAX_GRACE)}")
        if self.max_runtime is not None and not self.start_ping:
            raise ValueError("max_runtime counts from the start ping: set start_ping: true, or drop max_runtime")
        if self.max_runtime is not None and not 60 <= self.max_runtime <= MAX_GRACE:
            raise ValueError(f"max_runtime {format_duration(self.max_runtime)}: use 1m to {format_duration(MAX_GRACE)}")
        self.zone()  # raises for an unknown time zone
        return self

    def zone(self) -> tzinfo:
        return time_zone(self.timezone)

    def schedule(self) -> Schedule:
        return Schedule(
            grace=timedelta(seconds=self.grace),
            max_runtime=timedelta(seconds=self.max_runtime or self.grace),
            start_ping=self.start_ping,
            period=timedelta(seconds=self.period) if self.period is not None else None,
            cron=cron_expressions.parse(self.cron) if self.cron is not None else None,
            zone=self.zone(),
        )

    def runs_per_month(self, seconds_per_month: float) -> float:
        """How often the job runs (for cost estimates)."""
        if self.period is not None:
            return seconds_per_month / self.period
        assert self.cron is not None
        return cron_expressions.parse(self.cron).runs_per_day() * seconds_per_month / 86400

    def usage_per_month(self, seconds_per_month: float) -> dict[str, float]:
        """What the check uses beyond its checker's runs, by price name (infra/prices.json); upper bounds."""
        pings = self.runs_per_month(seconds_per_month) * (2 if self.start_ping else 1)
        runs = seconds_per_month / self.cadence
        return {
            "lambda_request": pings,
            "lambda_gb_second_arm": pings * PING_GB_SECONDS,
            # Each ping: one read of the registration (half a unit), one update of the whole item.
            "dynamodb_read_request": pings * 0.5 + runs * CHECKER_READ_UNITS,
            "dynamodb_write_request": pings * ITEM_WRITE_UNITS,
            "secrets_manager_api_call": pings,  # at most: a warm endpoint reuses a token for 5 minutes
            "secrets_manager_secret_month": 1,  # at most: checks may share one token secret
        }

    def deadline_slack(self, signal: str) -> int:
        """Seconds a fault may wait before it is one: grace for a miss, max_runtime for a hung run."""
        if signal == "missed":
            return self.grace
        if signal == "failed":
            return self.max_runtime or self.grace
        return 0
