"""Checker for kind `sql`: run one read-only statement and report the number it returns.

Value (the metric `Value`, dimension Check) is the query's single numeric result, or for
`freshness` the age in seconds of the newest row, computed by the database with its own clock.

Anything that keeps the checker from a number is status failed (MeasureFailed=1), never a
value: the secret (runner: `secret`), connecting (`connect`: refused, DNS, login, unknown
database), the statement timeout (`timeout`), a write the database refused (`read-only`), any
other database error (`query`), and a result that is not exactly one row with one number
(`result`: no rows, several rows or columns, NULL, text). Reasons never carry the password
(vigil.sqlconn masks driver messages).

One exception, decided for freshness: an empty table has no newest row; it is reported as
EMPTY_TABLE_AGE (a year, beyond any max_age) with reason_code `empty`, so an emptied or
never-written table pages as stale through the value alarm rather than as "vigil is broken".
A query's NULL is a `result` failure instead: say what no rows means with COALESCE(..., 0).

A negative freshness age (the newest row is in the future) is status failed with reason_code
`clock`: the column's zone and the clock it is compared with disagree (freshness.timezone), or
the writers' clocks are ahead. Such an age would never alarm, so it must not pass as fresh. Up to
CLOCK_SKEW_TOLERANCE seconds ahead is ordinary skew between the writers' and the database's
clocks (a row written a moment ago by an application server): reported as age 0. A zone mismatch
is at least 15 minutes, far beyond it.

SQLAlchemy is imported with the module, and SQLAlchemy imports the engine's driver on the first
connect: every run needs both, so importing them later would only move the cost. Measured with
`python -X importtime` (x86_64, Python 3.11, best of three on a loaded machine): this module
about 290 ms (SQLAlchemy 160 ms, pydantic and the spec 70 ms), then psycopg 105 ms or PyMySQL
45 ms. A cold start pays it once per container; the kind has no cold-start budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from vigil import sqlconn
from vigil.checkers import runner
from vigil.result import CheckResult, Status
from vigil.secrets import SecretError
from vigil.spec.common import format_duration
from vigil.spec.sql import EMPTY_TABLE_AGE, VALUE_METRIC, Freshness, SqlCheck
from vigil.text import clip, one_line

KIND = "sql"
parse = SqlCheck.model_validate
CLOCK_SKEW_TOLERANCE = 60.0


class Unusable(Exception):
    """The statement ran, but its result is not one number."""


class ClockMismatch(Exception):
    """The newest row is in the future: an age that cannot be trusted (zone or clock mismatch)."""


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return runner.run(event, KIND, parse, measure)


def measure(spec: SqlCheck, resolve: runner.SecretsResolver) -> CheckResult:
    secret = resolve(spec.secret)
    try:
        with sqlconn.connect_readonly(spec.engine, secret, spec.timeout) as conn:
            sql, columns, rows = run_statement(spec, conn)
    except sqlconn.SecretFormatError as exc:
        raise SecretError(f"secret {spec.secret}: {exc}") from None
    except sqlconn.SqlError as exc:
        return runner.cannot_measure(spec.id, KIND, exc)
    sample = (clip(f"{spec.engine}: {one_line(sql)}", 300),)
    try:
        value = scalar(columns, rows)
        if spec.freshness is not None:
            age, code, reason = freshness_verdict(spec.freshness, value)
            return _result(spec, Status.ok, age, code, reason, sample, unit="Seconds")
        return _result(spec, Status.ok, number(value), samples=sample)
    except Unusable as exc:
        return _result(spec, Status.failed, code="result", reason=f"result: {exc}", samples=sample)
    except ClockMismatch as exc:
        return _result(spec, Status.failed, code="clock", reason=f"clock: {exc}", samples=sample)


def run_statement(spec: SqlCheck, conn: sa.Connection) -> tuple[str, int, list[Sequence[Any]]]:
    """(the SQL sent, result columns, at most two rows: enough to tell one from several)."""
    if spec.query is not None:
        # The catalog's text goes to the driver untouched: no bind-parameter parsing of ':name',
        # no '%' interpolation.
        result = conn.execution_options(no_parameters=True).exec_driver_sql(spec.query)
        sql = spec.query
    else:
        assert spec.freshness is not None
        statement = freshness_query(spec.engine, spec.freshness)
        result = conn.execute(statement)
        sql = str(statement.compile(dialect=conn.dialect))
    if not result.returns_rows:
        return sql, 0, []
    return sql, len(result.keys()), [tuple(row) for row in result.fetchmany(2)]


def freshness_query(engine: str, freshness: Freshness) -> sa.Select[Any]:
    """SELECT <seconds since MAX(column)> FROM table, with the database's clock and date arithmetic.

    `timezone` says what a column without a zone holds; the clock compared with it follows:
    - PostgreSQL utc: epoch(now()) - epoch(max): the epoch of a `timestamp` is its wall-clock time
      read as UTC, whatever the session's TimeZone; a timestamptz is an instant either way.
      local: now() - max, which reads a `timestamp` in the session's TimeZone.
    - MySQL/MariaDB utc: UTC_TIMESTAMP(); local: NOW(), the session's time zone (a TIMESTAMP
      column is shown in it too: local suits it, and so does utc when that zone is UTC).
    - SQL Server utc: SYSUTCDATETIME(); local: SYSDATETIME(), the server's local time that
      GETDATE() defaults write. A datetimeoffset column is an instant either way.
    """
    schema, _, name = freshness.table.rpartition(".")
    newest = sa.func.max(sa.column(freshness.column))
    utc = freshness.timezone == "utc"
    if engine == "postgresql":
        if utc:
            age: sa.ColumnElement[Any] = sa.extract("epoch", sa.func.now()) - sa.extract("epoch", newest)
        else:
            age = sa.extract("epoch", sa.func.now() - newest)
    elif engine in ("mysql", "mariadb"):
        now = sa.func.UTC_TIMESTAMP() if utc else sa.func.now()
        age = sa.func.TIMESTAMPDIFF(sa.literal_column("SECOND"), newest, now)
    elif engine == "mssql":
        # DATEDIFF would overflow an int past 68 years.
        now = sa.func.SYSUTCDATETIME() if utc else sa.func.SYSDATETIME()
        age = sa.func.DATEDIFF_BIG(sa.literal_column("SECOND"), newest, now)
    else:
        raise sqlconn.unknown_engine(engine)
    return sa.select(age.label("age_seconds")).select_from(sa.table(name, schema=schema or None))


def scalar(columns: int, rows: Sequence[Sequence[Any]]) -> Any:
    """The one value of a one-row, one-column result; Unusable says what the result was instead."""
    if columns == 0:
        raise Unusable("the statement returned no result set")
    if columns != 1:
        raise Unusable(f"{columns} columns; the query must return exactly one")
    if not rows:
        raise Unusable("no rows; the query must return exactly one (an aggregate such as COUNT(*) always does)")
    if len(rows) > 1:
        raise Unusable("more than one row; the query must return exactly one (aggregate it)")
    return rows[0][0]


def number(value: Any) -> float:
    if value is None:
        raise Unusable("NULL; when no rows means 0, say so with COALESCE(..., 0)")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise Unusable(f"{type(value).__name__} {clip(repr(value), 40)} is not a number")
    result = float(value)
    if not math.isfinite(result):
        raise Unusable(f"{result} is not a finite number")
    return result


def freshness_verdict(freshness: Freshness, age: Any) -> tuple[float, str | None, str | None]:
    """(age in seconds, reason code, reason): a reason only when the table is stale or empty.

    Raises ClockMismatch for a newest row further in the future than CLOCK_SKEW_TOLERANCE.
    """
    where = f"{freshness.table}.{freshness.column}"
    if age is None:
        return float(EMPTY_TABLE_AGE), "empty", f"empty: {freshness.table} has no rows, so no newest {where}"
    seconds = number(age)
    if seconds < -CLOCK_SKEW_TOLERANCE:
        other = "local" if freshness.timezone == "utc" else "utc"
        raise ClockMismatch(
            f"newest {where} is {-seconds:.0f}s in the future (age {seconds:.0f}s): the column's time zone and "
            f"the database clock disagree (freshness.timezone is {freshness.timezone}: should it be {other}?), "
            "or the writers' clocks run ahead"
        )
    seconds = max(seconds, 0.0)
    if seconds > freshness.max_age:
        return (
            seconds,
            "stale",
            f"stale: newest {where} is {seconds:.0f}s old, allowed {format_duration(freshness.max_age)}",
        )
    return seconds, None, None


def _result(
    spec: SqlCheck,
    status: Status,
    value: float | None = None,
    code: str | None = None,
    reason: str | None = None,
    samples: tuple[str, ...] = (),
    unit: str = "None",
) -> CheckResult:
    values = {VALUE_METRIC: value} if value is not None else {}
    return CheckResult(
        check_id=spec.id,
        kind=KIND,
        status=status,
        values=values,
        units={name: unit for name in values},
        reason_code=code,
        reason=reason,
        details={"engine": spec.engine},
        samples=samples,
    )
