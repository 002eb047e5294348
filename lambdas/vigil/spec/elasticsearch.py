"""Kind `elasticsearch`: an exact count (and optionally a sum, min, max or avg) of the documents
an Elasticsearch or OpenSearch query matches in the last `window`, with sample hits as evidence."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from vigil.result import MAX_SAMPLES  # the runner carries at most this many evidence lines
from vigil.spec.common import (
    CHECKER_MISSING_DATA,
    MEASURE_SIGNAL,
    AlarmRule,
    BaseUrl,
    CheckBase,
    Comparison,
    Duration,
    Signal,
    Slug,
    StrictModel,
    VpcPlacement,
    checker_signals,
    format_duration,
    worded,
)

COUNT = "count"
AGGREGATE = "aggregate"
MAX_WINDOW = 86400

# A field name as it appears in a mapping or in _source (dotted for objects: log.level).
FieldName = Annotated[
    str,
    Field(
        pattern=worded(
            r"^[A-Za-z0-9_@][A-Za-z0-9_@.-]{0,254}$",
            "a field name such as log.level: 1 to 255 letters, digits and _ @ . -, not starting with . or -",
        )
    ),
]
# An index, alias, data stream or wildcard pattern; a comma separates several, `cluster:` prefixes
# a remote cluster. Lowercase, as Elasticsearch requires; the other characters it forbids
# (space, \ / ? " < > | #) would also break the request path.
IndexPattern = Annotated[
    str,
    Field(
        pattern=worded(
            r"^[a-z0-9.*_][a-z0-9._*,:+-]{0,254}$",
            "an index, alias, data stream or pattern such as logs-*: 1 to 255 lowercase letters, digits "
            "and . _ * , : + -, not starting with , : + or -",
        )
    ),
]


class Aggregation(StrictModel):
    """An exact metric over the matching documents, alarmed on as the `aggregate` signal."""

    type: Literal["sum", "min", "max", "avg"] = Field(
        description="sum, min, max or avg; never cardinality, which Elasticsearch only approximates"
    )
    field: FieldName = Field(description="a numeric field of the matching documents")

    @field_validator("type", mode="before")
    @classmethod
    def _not_cardinality(cls, value: object) -> object:
        if value == "cardinality":
            raise ValueError(
                "cardinality is approximate in Elasticsearch (HyperLogLog++), so an alarm on it could "
                "fire or stay quiet by chance; allowed: sum, min, max or avg"
            )
        return value


class ElasticsearchCheck(CheckBase):
    """Counts the documents a query matches in the last `window` (exact), quoting a few of them."""

    signals: ClassVar = checker_signals(
        Signal(
            name=COUNT,
            metric="Hits",
            unit="hits",
            summary="documents matching the query in the window (an exact count)",
            # Any match alarms unless the catalog sets a threshold. One breaching run suffices:
            # each run already looks back over the whole window.
            default=AlarmRule.sustained(0, Comparison.gt, 1, CHECKER_MISSING_DATA),
            period_follows_cadence=True,
        ),
        Signal(
            name=AGGREGATE,
            metric="Aggregate",
            unit="",
            summary="the aggregation over the matching documents in the window",
            # The threshold is required in the catalog (see _aggregate_has_threshold): no default
            # fits a sum of bytes and an average latency alike.
            default=AlarmRule.sustained(0, Comparison.gt, 1, CHECKER_MISSING_DATA),
            period_follows_cadence=True,
        ),
    )

    kind: Literal["elasticsearch"]
    url: BaseUrl = Field(
        max_length=2000,
        description="the cluster's base URL, such as https://logs.internal:9200 (/<index>/_search is added)",
    )
    index: IndexPattern = Field(description="index, alias, data stream or pattern such as logs-campaign-*")
    query: str | dict[str, Any] | None = Field(
        default=None,
        description="a query string (level:ERROR AND service:campaign-api) or one Query DSL clause; "
        "omitted: every document in the window",
    )
    time_field: FieldName = Field(default="@timestamp", description="the date field the window applies to")
    window: Duration = Field(default=300, description="how far back each run counts, such as 5m")
    auth_secret: Slug | None = Field(
        default=None,
        description='name of a secret (see settings secrets) holding {"username": ..., "password": ...} '
        'or {"api_key": ...} (the encoded API key)',
    )
    aggregation: Aggregation | None = None
    samples: int = Field(default=3, ge=0, le=MAX_SAMPLES, description="how many of the newest hits to quote")
    sample_fields: list[FieldName] = Field(
        default=["message"], min_length=1, max_length=10, description="fields quoted from each sample hit"
    )
    timeout: float = Field(default=10.0, gt=0, le=60, description="seconds for the whole measurement")
    vpc: VpcPlacement | None = None

    @field_validator("query")
    @classmethod
    def _one_clause(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if isinstance(value, str) and not value.strip():
            raise ValueError("an empty query string; leave query out to count every document")
        if isinstance(value, dict):
            if set(value) == {"query"}:
                raise ValueError('write the clause itself, without the outer {"query": ...}')
            if len(value) != 1:
                raise ValueError(
                    f"a Query DSL clause has exactly one key, its type (bool, term, match...); found {len(value)}"
                )
        return value

    @model_validator(mode="after")
    def _elasticsearch_sane(self) -> ElasticsearchCheck:
        if self.window > MAX_WINDOW:
            raise ValueError(f"window {format_duration(self.window)}: at most 24h")
        override = self.alarms.get(AGGREGATE)
        if self.aggregation is None and override is not None:
            raise ValueError("alarms.aggregate: only with an aggregation")
        if self.aggregation is not None and (override is None or override.threshold is None):
            raise ValueError(
                f"alarms.aggregate.threshold: required with an aggregation ({self.aggregation.type} of "
                f"{self.aggregation.field}); no default fits every field"
            )
        return self

    def active_signals(self) -> list[str]:
        return [COUNT, *([AGGREGATE] if self.aggregation is not None else []), MEASURE_SIGNAL.name]
