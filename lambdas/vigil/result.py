"""CheckResult: what one checker run measured, or why it could not measure."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

METRIC_NAMESPACE = "Vigil"
CHECK_DIMENSION = "Check"


class Status(StrEnum):
    ok = "ok"  # the checker measured; the values say whether the target is healthy
    failed = "failed"  # the checker could not measure; values are absent, reason says why


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    check_id: str
    kind: str
    status: Status
    # metric name → value; the names are the kind's Signal.metric names plus any extras.
    values: dict[str, float] = Field(default_factory=dict)
    units: dict[str, str] = Field(default_factory=dict, description="metric name → CloudWatch unit")
    reason_code: str | None = None  # short machine tag: dns, connect, tls, timeout, status, body, secret, internal
    reason: str | None = None  # one human line: "status 503, expected 200"
    duration_ms: float = 0.0
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    @property
    def measured(self) -> bool:
        return self.status is Status.ok
