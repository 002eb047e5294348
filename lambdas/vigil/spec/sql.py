"""Kind `sql`: one number from a relational database (PostgreSQL, MySQL/MariaDB, SQL Server).

Either `query` (one SELECT returning one row with one numeric column: failed jobs in the last
hour) or `freshness` (how many seconds old the newest row of a table is). The checker runs it in
a read-only, time-bounded transaction (vigil.sqlconn) with credentials from Secrets Manager.

The query's shape is checked when the catalog loads (one statement, starting with SELECT or
WITH). That is a convenience that catches mistakes early, not the security boundary: the
database enforces read-only (see vigil.sqlconn), and the secret's login should hold only SELECT.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from vigil.spec.common import (
    AlarmRule,
    CheckBase,
    Comparison,
    Duration,
    MissingData,
    Signal,
    Slug,
    StrictModel,
    VpcPlacement,
    checker_signals,
    format_duration,
)

VALUE = "value"
VALUE_METRIC = "Value"
MAX_QUERY_LENGTH = 4000
MAX_FRESHNESS_AGE = 30 * 86400
# An empty table has no newest row: it is reported as this age (a year), beyond any max_age, so
# a table that was emptied or never written pages as stale, with the reason saying it is empty.
EMPTY_TABLE_AGE = 365 * 86400
# Letters, digits, _ and $, not starting with a digit: valid unquoted in every supported engine,
# and quoted by the checker anyway.
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_$]{0,127}"

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z]+")


def query_problem(query: str) -> str | None:
    """Why the text is not one SELECT (or WITH ... SELECT) statement; None when it looks like one."""
    body = _COMMENTS.sub(" ", query).strip()
    body = body.removesuffix(";").rstrip()
    if not body:
        return "is empty once comments are removed"
    first = _FIRST_WORD.match(body)
    if first is None or first.group(0).upper() not in ("SELECT", "WITH"):
        return f"must start with SELECT or WITH, found {body.split(maxsplit=1)[0][:20]!r}"
    if ";" in body:
        return "must be a single statement: remove the ';' inside it (a ';' in a string literal counts too)"
    return None


class Freshness(StrictModel):
    """The newest `column` value in `table` must be at most `max_age` old (the database's clock)."""

    table: str = Field(
        pattern=rf"^({IDENTIFIER}\.)?{IDENTIFIER}$", description="table, optionally schema.table (no quotes)"
    )
    column: str = Field(pattern=rf"^{IDENTIFIER}$", description="a timestamp column, such as updated_at")
    max_age: Duration = Field(description="older than this alarms; at most 30 days")

    @model_validator(mode="after")
    def _bounded(self) -> Freshness:
        if self.max_age > MAX_FRESHNESS_AGE:
            raise ValueError(f"max_age {format_duration(self.max_age)}: at most 30 days (720h)")
        return self


def value_signal(unit: str, threshold: float) -> Signal:
    return Signal(
        name=VALUE,
        metric=VALUE_METRIC,
        unit=unit,
        summary="the number the check's SQL returned (freshness: age of the newest row)",
        default=AlarmRule(
            threshold=threshold,
            comparison=Comparison.gt,
            # The query already sums up its own window (the last hour's failed jobs): one run says it.
            evaluation_periods=1,
            datapoints_to_alarm=1,
            # No value while the checker cannot measure (the measure alarm pages for that): the
            # alarm keeps its state instead of sending a recovery nobody earned.
            missing_data=MissingData.ignore,
        ),
        period_follows_cadence=True,
    )


# For the class (catalog defaults only read the names): a query's threshold is the catalog's own.
_CLASS_SIGNALS = checker_signals(value_signal("", 0))


class _SqlSignals:
    """`signals` for sql: a freshness check's value is in seconds and its threshold is max_age."""

    def __get__(self, check: SqlCheck | None, owner: type | None = None) -> dict[str, Signal]:
        if check is None or check.freshness is None:
            return _CLASS_SIGNALS
        return checker_signals(value_signal("seconds", check.freshness.max_age))


class SqlCheck(CheckBase):
    """A scalar SQL query (or a table's freshness) on PostgreSQL, MySQL/MariaDB or SQL Server."""

    signals: ClassVar = _SqlSignals()  # type: ignore[assignment]

    kind: Literal["sql"]
    engine: Literal["postgresql", "mysql", "mariadb", "mssql"]
    secret: Slug = Field(
        description="name of a secret (see settings secrets) in the RDS shape: host, port, username, password, dbname"
    )
    query: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_QUERY_LENGTH,
        description="one SELECT returning one row with one numeric column",
    )
    freshness: Freshness | None = Field(default=None, description="instead of query: the newest row's age")
    timeout: float = Field(
        default=10.0, ge=1, le=60, description="seconds the statement may run (connecting has its own 5)"
    )
    vpc: VpcPlacement | None = Field(default=None, description="where the checker runs: the database's VPC (RDS)")

    @model_validator(mode="after")
    def _sql_sane(self) -> SqlCheck:
        if (self.query is None) == (self.freshness is None):
            found = "both" if self.query is not None else "neither"
            raise ValueError(f"give one of query (a SELECT) or freshness (table, column, max_age); found {found}")
        if self.query is not None and (problem := query_problem(self.query)):
            raise ValueError(f"query: {problem}")
        override = self.alarms.get(VALUE)
        if self.freshness is not None and override is not None and override.threshold is not None:
            raise ValueError("alarms.value.threshold: a freshness check alarms above freshness.max_age; remove it")
        if self.query is not None and (override is None or override.threshold is None):
            raise ValueError(
                "alarms.value.threshold: required for a query, vigil cannot guess what its number means; "
                "for example alarms: {value: {threshold: 0}} alarms when it returns more than 0"
            )
        return self
