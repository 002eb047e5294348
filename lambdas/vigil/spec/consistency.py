"""Kind `consistency`: do two stores hold the same rows? Compared by key, bucket by bucket.

A source and a target (SQL table or query, DynamoDB table, S3 prefix of JSON Lines or CSV, an
Elasticsearch/OpenSearch index), a key and its type, the compared fields with their types, an
optional updated-at column for the lag allowance. How it works: docs/consistency.md.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from vigil.consistency.model import FieldType, KeyType
from vigil.spec.common import (
    CHECKER_MISSING_DATA,
    DYNAMODB_TABLE_NAME,
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
from vigil.spec.sql import query_problem

# The Lambda limit is 900 s; the rest is the runner's margin (infra/checks TIMEOUT_MARGIN).
MAX_TIMEOUT = 890
Column = Annotated[
    str,
    Field(
        pattern=worded(
            r"^[A-Za-z_][A-Za-z0-9_$]*$",
            "a column name: letters, digits, _ and $, not starting with a digit, no quotes",
        ),
        max_length=128,
    ),
]
# A composite key's columns, in order (a row value compares them left to right).
KeyColumns = Annotated[tuple[Column, ...], Field(min_length=2, max_length=8)]
# Per difference type: the metric the checker writes (the total is what the alarm reads).
DIFF_METRICS = {
    "missing": "Missing",
    "extra": "Extra",
    "changed": "Changed",
    "duplicate": "Duplicate",
    "null_key": "NullKey",
    "invalid_key": "InvalidKey",
}
TOTAL_METRIC = "Differences"
# The replication allowance when a check has an updated-at column and names no lag.
DEFAULT_LAG = 900


# A simple column list: names, maybe qualified (o.id) or renamed (o.total AS amount). Anything else
# (*, an expression, a quoted name, a comment, a subquery) is not simple, and is left to the run.
_SELECT_LIST = re.compile(
    r"^\s*SELECT\s+(?:DISTINCT\s+|ALL\s+)?(?:TOP\s*\(?\s*\d+\s*\)?\s+)?(.*?)\s+FROM\s", re.IGNORECASE | re.DOTALL
)
_SELECT_ITEM = re.compile(
    r"^(?:[A-Za-z_][\w$]*\.)*([A-Za-z_][\w$]*)(?:\s+(?:AS\s+)?([A-Za-z_][\w$]*))?$", re.IGNORECASE
)


def select_columns(query: str) -> list[str] | None:
    """The names a query's SELECT returns when its column list is simple, else None."""
    select = _SELECT_LIST.match(query)
    if select is None:
        return None
    names = []
    for item in select.group(1).split(","):
        column = _SELECT_ITEM.match(item.strip())
        if column is None:
            return None
        names.append(column.group(2) or column.group(1))
    return names


class _Side(StrictModel):
    """What every endpoint may say about its own names: columns that differ from the comparison's."""

    key: Column | KeyColumns | None = Field(
        default=None, description="this side's key column (or columns), when not the check's key.column"
    )
    updated_at: Column | None = Field(default=None, description="this side's updated-at column, when it differs")
    columns: dict[Column, Column] = Field(
        default_factory=dict, description="compared field → this side's column, for fields named differently here"
    )


class SqlEndpoint(_Side):
    type: Literal["sql"]
    engine: Literal["postgresql", "mysql", "mariadb", "mssql"]
    table: str | None = Field(
        default=None,
        pattern=worded(
            r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$",
            "a table, or schema.table: letters, digits, _ and $, not starting with a digit, no quotes",
        ),
        description="schema.table",
    )
    query: str | None = Field(
        default=None, min_length=1, max_length=4000, description="a SELECT whose columns include the key and fields"
    )

    @model_validator(mode="after")
    def _one_source(self) -> SqlEndpoint:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table or query")
        # The same shape check as kind sql's query (one SELECT or WITH statement), called rather
        # than copied so both kinds refuse the same texts; the database's read-only session is the
        # boundary, this catches mistakes when the catalog loads.
        if self.query is not None and (problem := query_problem(self.query)):
            raise ValueError(f"query: {problem}")
        return self


# The most parallel scan segments: the checker sizes its DynamoDB connection pool for it.
MAX_SEGMENTS = 64


class DynamoDbEndpoint(_Side):
    type: Literal["dynamodb"]
    table: str = Field(pattern=DYNAMODB_TABLE_NAME)
    segments: int = Field(default=4, ge=1, le=MAX_SEGMENTS, description="parallel scan segments")


class S3Endpoint(_Side):
    type: Literal["s3"]
    bucket: str = Field(
        pattern=worded(
            r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "an S3 bucket name: 3 to 63 lowercase letters, digits, . and -, starting and ending with a letter or digit",
        )
    )
    # Required and without wildcards: the checker's access role may read `<bucket>/<prefix>*` and list
    # only under it, so an empty prefix (or a * in it) would grant read on the whole bucket.
    prefix: str = Field(
        default="", max_length=1024, description="the export's key prefix (required): only objects under it are read"
    )
    format: Literal["jsonl", "csv", "parquet"] = Field(
        description="JSON Lines or CSV with a header (.gz objects are gunzipped), or Parquet "
        "(objects whose name starts with _ or . are skipped)"
    )

    @model_validator(mode="after")
    def _prefix_scopes_the_grant(self) -> S3Endpoint:
        if not self.prefix:
            raise ValueError(
                "prefix: required, such as results/latest/: the checker may read only objects under it, "
                "and an empty prefix would grant read on the whole bucket"
            )
        if "*" in self.prefix or "?" in self.prefix:
            raise ValueError("prefix: no * or ?: it is a key prefix, and IAM would read them as wildcards")
        return self


class SearchEndpoint(_Side):
    type: Literal["search"]
    url: BaseUrl = Field(max_length=2000)
    index: str = Field(
        pattern=worded(
            r"^[a-z0-9][a-z0-9_.*,-]{0,254}$",
            "an index name or pattern: 1 to 255 lowercase letters, digits and _ . * , -, "
            "starting with a letter or digit",
        )
    )
    flavor: Literal["elasticsearch", "opensearch"] = "elasticsearch"


Endpoint = Annotated[SqlEndpoint | DynamoDbEndpoint | S3Endpoint | SearchEndpoint, Field(discriminator="type")]


KeyTypeName = Literal["int", "str", "uuid"]


class KeySpec(StrictModel):
    column: Column | KeyColumns = Field(description="the key column, or a composite key's columns in order")
    type: KeyTypeName | tuple[KeyTypeName, ...] = Field(
        default="int",
        description="int: 42 and '42' are the same key, a key that is not a number is reported; str: text; "
        "uuid: a uuid (native, 16 bytes or its hyphenated text); a composite key: one per column, or one for all",
    )

    @model_validator(mode="after")
    def _one_type_per_column(self) -> KeySpec:
        columns = self.columns()
        if len(set(columns)) != len(columns):
            raise ValueError(f"column: {', '.join(columns)} names a column twice")
        if isinstance(self.type, tuple) and len(self.type) != len(columns):
            raise ValueError(
                f"type: {len(self.type)} types for {len(columns)} key columns ({', '.join(columns)}): "
                "give one per column, or one for all"
            )
        return self

    def columns(self) -> tuple[str, ...]:
        return (self.column,) if isinstance(self.column, str) else self.column

    def types(self) -> tuple[KeyType, ...]:
        if isinstance(self.type, tuple):
            return tuple(KeyType(t) for t in self.type)
        return (KeyType(self.type),) * len(self.columns())


class ConsistencyCheck(CheckBase):
    """Compares a source and a target collection by key: missing, extra, changed, duplicate rows."""

    signals: ClassVar = checker_signals(
        Signal(
            name="drift",
            metric=TOTAL_METRIC,
            unit="",
            summary="source and target differ (missing, extra, changed, duplicate, NULL or invalid keys)",
            # A run that cannot measure publishes no Differences (the measure alarm pages for it):
            # the alarm keeps its state instead of sending a recovery nobody earned.
            default=AlarmRule.sustained(0, Comparison.gt, 1, CHECKER_MISSING_DATA),
            period_follows_cadence=True,
        )
    )

    kind: Literal["consistency"]
    source: Endpoint
    target: Endpoint
    source_secret: Slug | None = Field(
        default=None, description="secret (see settings secrets) of a sql source (RDS layout) or a search source"
    )
    target_secret: Slug | None = Field(default=None, description="the same for the target")
    key: KeySpec
    fields: dict[Column, str] = Field(
        default_factory=dict,
        description="compared fields and their types: int, text, bool, decimal(N), timestamp(N) (N: 0-6 digits)",
    )
    updated_at: Column | None = Field(
        default=None, description="updated-at column: rows changed within `lag` are not compared yet"
    )
    lag: Duration | None = Field(
        default=None,
        description="replication allowance: rows updated this recently are skipped (needs updated_at; default 15m)",
    )
    # At most 1024: mismatched buckets travel in the Step Functions input (256 KB).
    buckets: int = Field(default=64, ge=1, le=1024, description="top-level buckets (one scan per side computes all)")
    fanout: int = Field(default=16, ge=2, le=256, description="children of a mismatched bucket")
    row_threshold: int = Field(default=2000, ge=10, le=100000, description="buckets this small are compared row by row")
    mode: Literal["in_lambda", "step_functions", "auto"] = Field(
        default="auto",
        description="where mismatched buckets are drilled: in the checker, in a Step Functions Map, or auto by size",
    )
    sample_size: int = Field(default=10, ge=0, le=10, description="differing keys quoted in the notification")
    timeout: float = Field(default=600, gt=0, le=MAX_TIMEOUT, description="seconds for the whole comparison")
    vpc: VpcPlacement | None = None

    @field_validator("fields")
    @classmethod
    def _types_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            try:
                FieldType.parse(text)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ConsistencyCheck:
        for side, endpoint, secret in (
            ("source", self.source, self.source_secret),
            ("target", self.target, self.target_secret),
        ):
            if isinstance(endpoint, SqlEndpoint) and secret is None:
                raise ValueError(f"{side}_secret: a sql {side} needs the secret it connects with")
            if isinstance(endpoint, DynamoDbEndpoint | S3Endpoint) and secret is not None:
                raise ValueError(
                    f"{side}_secret: a {endpoint.type} {side} is read with the checker's role, not a secret"
                )
            unknown = sorted(set(endpoint.columns) - set(self.fields))
            if unknown:
                raise ValueError(f"{side}.columns: {', '.join(unknown)} not in fields ({', '.join(self.fields)})")
        self._lag_has_a_column()
        for side, endpoint in (("source", self.source), ("target", self.target)):
            if isinstance(endpoint, SqlEndpoint) and endpoint.query is not None:
                self._query_selects_what_is_compared(side, endpoint, endpoint.query)
        if self.timeout >= self.cadence:
            raise ValueError(f"timeout {self.timeout:g}s must be shorter than the cadence ({self.cadence}s)")
        return self

    def _lag_has_a_column(self) -> None:
        # Each side leaves out its own recent rows: a column on one side only would compare all of
        # one side with part of the other, and report every recent row as missing or extra.
        dated = {
            side: (endpoint.updated_at or self.updated_at) is not None
            for side, endpoint in (("source", self.source), ("target", self.target))
        }
        if dated["source"] != dated["target"]:
            lacking = "target" if dated["source"] else "source"
            raise ValueError(
                f"{lacking}.updated_at: the other side has an updated-at column and this one has none; "
                "give both sides one (updated_at, or <side>.updated_at where names differ), or neither"
            )
        if self.lag is not None and not dated["source"]:
            raise ValueError(
                f"lag {format_duration(self.lag)}: needs updated_at, the column that says which rows are recent; "
                "without it every row is compared and lag would do nothing"
            )

    @model_validator(mode="after")
    def _side_keys_match_key(self) -> ConsistencyCheck:
        parts = len(self.key.columns())
        for side, endpoint in (("source", self.source), ("target", self.target)):
            named = endpoint.key
            if named is not None and (1 if isinstance(named, str) else len(named)) != parts:
                raise ValueError(f"{side}.key: {named!r} must name {parts} column(s), as key.column does")
        return self

    def _query_selects_what_is_compared(self, side: str, endpoint: SqlEndpoint, query: str) -> None:
        """A simple column list must hold the key, the compared fields and the updated-at column.

        Caught here, the mistake is a catalog error; missed, every run fails to measure on it.
        Engines match unquoted names without regard to case, and so does this check.
        """
        selected = select_columns(query)
        if selected is None:
            return
        keys = endpoint.key or self.key.columns()
        wanted = [(column, "the key column {!r}") for column in ((keys,) if isinstance(keys, str) else keys)]
        wanted += [(endpoint.columns.get(name, name), f"column {{!r}} (field {name})") for name in self.fields]
        if (updated_at := endpoint.updated_at or self.updated_at) is not None:
            wanted.append((updated_at, "the updated-at column {!r}"))
        have = {name.lower() for name in selected}
        missing = [what.format(column) for column, what in wanted if column.lower() not in have]
        if missing:
            raise ValueError(
                f"{side}.query: its column list ({', '.join(selected)}) lacks {', '.join(missing)}: add them to the "
                f"SELECT, or name this side's own columns ({side}.key, {side}.updated_at, {side}.columns)"
            )

    def lag_seconds(self) -> int:
        """The replication allowance in effect: `lag`, 15m by default, 0 without an updated-at column."""
        if self.lag is not None:
            return self.lag
        return DEFAULT_LAG if self.updated_at or self.source.updated_at else 0

    def uses_step_functions(self) -> bool:
        return self.mode != "in_lambda"
