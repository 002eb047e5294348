"""Kind `http`: a microservice health endpoint."""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from vigil.private_targets import host_refusal
from vigil.spec.common import (
    AlarmRule,
    CheckBase,
    Comparison,
    MissingData,
    Signal,
    Slug,
    StrictModel,
    TargetUrl,
    VpcPlacement,
)


class JsonAssertion(StrictModel):
    """The body must be JSON and the field at `path` (dotted, list indexes allowed) must equal `equals`."""

    path: str = Field(min_length=1, description="dotted path into the JSON body, such as status or checks.0.state")
    equals: str | int | float | bool | None


class HttpCheck(CheckBase):
    """Calls a URL and reports whether it answered as expected, and how fast."""

    # One signal on one metric (vigil.result.METRIC_BUDGETS): a run that could not measure writes
    # Healthy=0, so it pages as `down` with its reason in the e-mail, and a silent checker pages
    # too (missing data is breaching). No separate `measure` signal: its metric and alarm would
    # cost more than the check's runs.
    signals: ClassVar = {
        "down": Signal(
            name="down",
            metric="Healthy",
            unit="",
            summary=(
                "endpoint unhealthy (unreachable, wrong status or body, or slower than allowed), "
                "or the checker could not measure it, or went silent"
            ),
            default=AlarmRule.sustained(1, Comparison.lt, 2, MissingData.breaching),
            period_follows_cadence=True,
        )
    }

    # An unreachable or unhealthy endpoint: checks `inhibited_by` this one page no more than it does.
    inhibitor_signal: ClassVar = "down"
    schema_checked: ClassVar[bool] = True

    kind: Literal["http"]
    url: TargetUrl = Field(max_length=2000)
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: list[int] = Field(default=[200], min_length=1)
    max_latency_ms: int = Field(default=2000, ge=1, le=60000)
    timeout: float = Field(default=5.0, gt=0, le=60, description="seconds before the request is abandoned")
    json_assert: JsonAssertion | None = None
    headers_secret: Slug | None = Field(
        default=None, description="name of a secret (see settings secrets) holding a JSON object of request headers"
    )
    vpc: VpcPlacement | None = None
    group: Slug | None = Field(
        default=None,
        # Left out of the spec when unset, so that the schedules of checks without a group read as
        # they did before the field existed: a release must not touch every http schedule.
        exclude_if=lambda value: value is None,
        description=(
            "run with the http checks of this service file that name the same group: one schedule and one "
            "checker run for all of them (same cadence and vpc, at most 3), so a 1-minute check costs less; "
            "adding a check to a group updates the group's schedule (docs/catalog.md, Groups)"
        ),
    )
    allow_private: bool = Field(
        default=False,
        description=(
            "call loopback, link-local and (outside a VPC) private addresses, and send headers_secret over "
            "plain http://; for a test server on this machine, never for a real endpoint"
        ),
    )

    @model_validator(mode="after")
    def _http_sane(self) -> HttpCheck:
        bad = [s for s in self.expect_status if not 100 <= s <= 599]
        if bad:
            raise ValueError(f"expect_status: {bad} are not HTTP status codes (100-599)")
        # The messages never quote the URL. A user:password@ in it is refused by its type (TargetUrl).
        url = urlsplit(self.url)
        if url.scheme == "http" and self.headers_secret is not None and not self.allow_private:
            raise ValueError(
                "url: plain http:// would send the headers of headers_secret (credentials) unencrypted; "
                "use https://, or allow_private: true for a test server on this machine"
            )
        refused = host_refusal(url.hostname or "", self.allow_private, self.vpc is not None)
        if refused:
            raise ValueError(f"url: {refused}; vigil refuses it unless the check sets allow_private: true")
        return self
