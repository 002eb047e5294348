"""SQL endpoints (SQLAlchemy): PostgreSQL, MySQL/MariaDB and SQL Server.

Everything is computed inside the database: one aggregate query per call returns the count and
checksum of every bucket asked for (GROUP BY bucket), so a level of the comparison costs one scan
per side and a few rows on the wire. The canonical text of vigil.consistency.model is built in SQL
per dialect (tests/integration/test_consistency_sql.py holds each dialect to it byte for byte), so
a database compares with a database of another engine or with a store hashed in Python.

When both sides are PostgreSQL, its typed hash functions may replace MD5 of the text (fast_hash):
both sides then hash alike, and no Python side takes part. Sessions run in UTC
and read-only.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from vigil.consistency.model import (
    MASK64,
    FieldType,
    Key,
    KeyAnomalies,
    KeyType,
    Range,
    Row,
    Summary,
)
from vigil.consistency.stream import INVALID_SAMPLE, Shape

# Timestamp scales PostgreSQL's date_trunc can cut to (6: nothing to cut).
_TRUNC = {0: "second", 3: "milliseconds", 6: ""}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")

# (error, while connecting) → the exception to raise instead: vigil.consistency.connect gives one
# that masks the password (vigil.sqlconn's wrapping). None: SQLAlchemy's own error goes up.
OnError = Callable[[SQLAlchemyError, bool], Exception]


def fetch_all(
    engine: Engine, sql: str, params: dict[str, Any] | None = None, on_error: OnError | None = None
) -> list[Any]:
    """Every row of one statement on a connection of the pool; errors through `on_error`."""
    try:
        conn = engine.connect()
    except SQLAlchemyError as exc:
        if on_error is None:
            raise
        raise on_error(exc, True) from None  # the driver's message may hold the password: dropped
    try:
        with conn:
            return list(conn.execute(text(sql), params or {}))
    except SQLAlchemyError as exc:
        if on_error is None:
            raise
        raise on_error(exc, False) from None


class Dialect:
    """SQL fragments for one engine. Subclasses override what differs from PostgreSQL."""

    name = "postgresql"
    sep = "CHR(31)"
    null = "CHR(30)"

    def quote(self, ident: str) -> str:
        return ".".join(f'"{part}"' for part in ident.split("."))

    def concat(self, parts: list[str]) -> str:
        return "(" + " || ".join(parts) + ")"

    def as_text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"

    def value_text(self, col: str, ftype: FieldType) -> str:
        match ftype.name:
            case "bool":
                return f"CASE WHEN CAST({col} AS INTEGER) <> 0 THEN '1' WHEN {col} IS NOT NULL THEN '0' END"
            case "decimal":
                return self.as_text(f"CAST({col} AS {self.decimal_type(ftype.scale)})")
            case "timestamp":
                return f"LEFT({self.iso_timestamp(col)}, {19 if ftype.scale == 0 else 20 + ftype.scale})"
            case _:
                return self.as_text(col)

    def decimal_type(self, scale: int) -> str:
        return f"NUMERIC(38, {scale})"

    def iso_timestamp(self, col: str) -> str:
        # The session runs in UTC (see `_session`): timestamptz renders as its UTC instant.
        return f"TO_CHAR({col}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"

    def md5_hash(self, canonical: str) -> str:
        return f"CAST(CAST('x' || LEFT(MD5({canonical}), 16) AS BIT(64)) AS BIGINT)"

    def fast_hash(self, key: str, key_type: KeyType, columns: Sequence[str], types: Sequence[FieldType]) -> str | None:
        """The row hash from PostgreSQL's own typed hash functions, no text built: about three times
        cheaper than MD5 of the canonical text. Each column has its own seed, so position counts;
        values are normalized as the canonical form does (UTC instants, decimal scale)."""
        parts = [
            f"hashint8extended({key}, 0)" if key_type is KeyType.int else f"hashtextextended(CAST({key} AS TEXT), 0)"
        ]
        for seed, (column, ftype) in enumerate(zip(columns, types, strict=True), start=1):
            value = self._typed_hash(self.quote(column), ftype, seed)
            parts.append(f"COALESCE({value}, {-seed})")  # NULL hashes to NULL: give it its own value
        return " # ".join(parts)

    def _typed_hash(self, col: str, ftype: FieldType, seed: int) -> str:
        match ftype.name:
            case "int":
                return f"hashint8extended(CAST({col} AS BIGINT), {seed})"
            case "bool":
                return f"hashint4extended(CAST({col} AS INTEGER), {seed})"
            case "decimal":
                return f"hash_numeric_extended(CAST({col} AS NUMERIC(38, {ftype.scale})), {seed})"
            case "timestamp" if ftype.scale in _TRUNC:
                # The session runs in UTC: the cast gives a zoned value's UTC wall clock.
                instant = f"CAST({col} AS TIMESTAMP)"
                if _TRUNC[ftype.scale]:
                    instant = f"DATE_TRUNC('{_TRUNC[ftype.scale]}', {instant})"
                return f"timestamp_hash_extended({instant}, {seed})"
            case _:
                return f"hashtextextended({self.value_text(col, ftype)}, {seed})"

    def sum(self, expr: str) -> str:
        return f"SUM({expr})"

    def int_key(self, col: str) -> str:
        """A text column read as integer keys: NULL where it does not parse (reported as invalid)."""
        return f"CASE WHEN {col} ~ '^\\s*[+-]?[0-9]+\\s*$' THEN CAST({col} AS BIGINT) END"

    def not_int(self, col: str) -> str:
        return f"{col} !~ '^\\s*[+-]?[0-9]+\\s*$'"

    def binary_text(self, col: str) -> str:
        """A string key compared and ordered by code point, as Python orders str."""
        return f'CAST({col} AS TEXT) COLLATE "C"'

    def int_div(self, a: str, b: str) -> str:
        return f"({a}) / {b}"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})"

    def limit(self, select: str, n: int) -> str:
        return f"{select} LIMIT {n}"

    def session(self) -> list[str]:
        return ["SET TIME ZONE 'UTC'", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"]


class MySQL(Dialect):
    name = "mysql"

    def fast_hash(self, key: str, key_type: KeyType, columns: Sequence[str], types: Sequence[FieldType]) -> str | None:
        return None  # no 64-bit hash cheaper than MD5 in MySQL/MariaDB

    sep = "CHAR(31)"
    null = "CHAR(30)"

    def quote(self, ident: str) -> str:
        return ".".join(f"`{part}`" for part in ident.split("."))

    def concat(self, parts: list[str]) -> str:
        return f"CONCAT({', '.join(parts)})"

    def as_text(self, expr: str) -> str:
        return f"CAST({expr} AS CHAR CHARACTER SET utf8mb4)"

    def decimal_type(self, scale: int) -> str:
        return f"DECIMAL(38, {scale})"

    def iso_timestamp(self, col: str) -> str:
        return f"DATE_FORMAT({col}, '%Y-%m-%dT%H:%i:%s.%f')"

    def md5_hash(self, canonical: str) -> str:
        return f"CAST(CONV(LEFT(MD5({canonical}), 16), 16, 10) AS UNSIGNED)"

    def int_key(self, col: str) -> str:
        return f"CASE WHEN {col} REGEXP '^[[:space:]]*[+-]?[0-9]+[[:space:]]*$' THEN CAST(TRIM({col}) AS SIGNED) END"

    def not_int(self, col: str) -> str:
        return f"{col} NOT REGEXP '^[[:space:]]*[+-]?[0-9]+[[:space:]]*$'"

    def binary_text(self, col: str) -> str:
        return f"CONVERT({col} USING utf8mb4) COLLATE utf8mb4_bin"

    def int_div(self, a: str, b: str) -> str:
        return f"({a}) DIV {b}"

    def session(self) -> list[str]:
        return ["SET time_zone = '+00:00'", "SET SESSION TRANSACTION READ ONLY"]


class SqlServer(Dialect):
    """Compile-checked only (no server in the test suite). Needs SQL Server 2019+ for the UTF-8 collation."""

    name = "mssql"
    sep = "CHAR(31)"
    null = "CHAR(30)"

    def quote(self, ident: str) -> str:
        return ".".join(f"[{part}]" for part in ident.split("."))

    def concat(self, parts: list[str]) -> str:
        return f"CONCAT({', '.join(parts)})"

    def as_text(self, expr: str) -> str:
        return f"CAST({expr} AS NVARCHAR(MAX))"

    def decimal_type(self, scale: int) -> str:
        return f"DECIMAL(38, {scale})"

    def iso_timestamp(self, col: str) -> str:
        return f"CONVERT(VARCHAR(40), SWITCHOFFSET(CAST({col} AS DATETIMEOFFSET(7)), '+00:00'), 126)"

    def md5_hash(self, canonical: str) -> str:
        # MD5 of the UTF-8 bytes (as Python and the other engines hash), not of UTF-16.
        utf8 = f"CAST({canonical} COLLATE Latin1_General_100_BIN2_UTF8 AS VARCHAR(MAX))"
        return f"CAST(SUBSTRING(HASHBYTES('MD5', {utf8}), 1, 8) AS BIGINT)"

    def sum(self, expr: str) -> str:
        return f"SUM(CAST({expr} AS DECIMAL(38, 0)))"

    def fast_hash(self, key: str, key_type: KeyType, columns: Sequence[str], types: Sequence[FieldType]) -> str | None:
        return None

    def int_key(self, col: str) -> str:
        return f"TRY_CAST({col} AS BIGINT)"

    def not_int(self, col: str) -> str:
        return f"TRY_CAST({col} AS BIGINT) IS NULL"

    def binary_text(self, col: str) -> str:
        return f"CAST({col} AS NVARCHAR(4000)) COLLATE Latin1_General_100_BIN2"

    def least(self, a: str, b: str) -> str:
        return f"CASE WHEN ({a}) < ({b}) THEN ({a}) ELSE ({b}) END"

    def limit(self, select: str, n: int) -> str:
        return select.replace("SELECT ", f"SELECT TOP {n} ", 1)

    def session(self) -> list[str]:
        return []


DIALECTS: dict[str, Dialect] = {"postgresql": Dialect(), "mysql": MySQL(), "mariadb": MySQL(), "mssql": SqlServer()}


def dialect_of(engine: Engine) -> Dialect:
    try:
        return DIALECTS[engine.dialect.name]
    except KeyError:
        raise ValueError(f"engine {engine.dialect.name}: vigil compares postgresql, mysql/mariadb and mssql") from None


def prepare(engine: Engine) -> Engine:
    """Every new connection of the engine runs in UTC, read-only."""
    statements = dialect_of(engine).session()

    @event.listens_for(engine, "connect")
    def _session(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()

    return engine


@dataclass(frozen=True)
class Source:
    """Where the rows are: a table (schema.name) or a query, and the columns the comparison reads."""

    key: str
    columns: tuple[str, ...]  # one per compared field, in the comparison's field order
    table: str | None = None
    query: str | None = None
    updated_at: str | None = None
    key_is_text: bool = False  # an integer key stored as text (read through int_key)

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table or query")
        for ident in (self.key, *self.columns, *([self.table] if self.table else []), *filter(None, [self.updated_at])):
            if not _IDENT.match(ident):
                raise ValueError(f"{ident!r} is not a plain SQL identifier (letters, digits, _, $; schema.name)")


class SqlEndpoint:
    def __init__(
        self,
        name: str,
        engine: Engine,
        source: Source,
        shape: Shape,
        fast_hash: bool = False,
        on_error: OnError | None = None,
    ) -> None:
        self.name, self.engine, self.source, self.shape = name, engine, source, shape
        self.on_error = on_error
        self.d = dialect_of(engine)
        q = self.d.quote
        self._from = q(source.table) if source.table else f"({source.query}) vigil_src"
        raw_key = q(source.key)
        self._raw_key = raw_key
        if shape.key_type is KeyType.int:
            self._key = self.d.int_key(raw_key) if source.key_is_text else raw_key
            self._order_key = self._key
        else:
            self._key = raw_key
            self._order_key = self.d.binary_text(raw_key)
        self._updated = q(source.updated_at) if source.updated_at else None
        native = self.d.fast_hash(self._key, shape.key_type, source.columns, shape.types) if fast_hash else None
        if fast_hash and native is None:
            raise ValueError(f"{self.d.name} has no native row hash: compare with MD5 (fast_hash off)")
        self._hash = native or self.d.md5_hash(self.canonical_sql())

    # -- SQL pieces --------------------------------------------------------------------------------

    def canonical_sql(self) -> str:
        """The row's canonical text (model.canonical_text) as an SQL expression."""
        d = self.d
        parts = [d.as_text(self._key)]
        for column, ftype in zip(self.source.columns, self.shape.types, strict=True):
            parts += [d.sep, f"COALESCE({d.value_text(d.quote(column), ftype)}, {d.null})"]
        return d.concat(parts)

    def _where(self, rng: Range, params: dict[str, Any], lag: bool) -> str:
        conds = [f"{self._order_key} IS NOT NULL"]
        if rng.lo is not None:
            conds.append(f"{self._order_key} >= :lo")
            params["lo"] = rng.lo
        if rng.hi is not None:
            conds.append(f"{self._order_key} < :hi")
            params["hi"] = rng.hi
        if lag and self._updated and self.shape.cutoff is not None:
            conds.append(f"({self._updated} IS NULL OR {self._updated} <= :cutoff)")
            params["cutoff"] = self._cutoff()
        return " AND ".join(conds)

    def _cutoff(self) -> Any:
        assert self.shape.cutoff is not None
        # Naive UTC: the session runs in UTC, so it compares right with zoned and zoneless columns.
        return self.shape.cutoff.replace(tzinfo=None)

    def bucket_sql(self, ranges: Sequence[Range], params: dict[str, Any]) -> str:
        """Which of the contiguous ranges a row falls in (0..n-1)."""
        cuts = [r.lo for r in ranges[1:]]
        if not cuts:
            return "0"
        k = self._order_key
        steps = {b - a for a, b in itertools.pairwise(cuts)} if all(isinstance(c, int) for c in cuts) else None
        if steps is not None and len(steps) <= 1:
            # Equal-width integer buckets: arithmetic instead of a comparison per bucket.
            step = steps.pop() if steps else 1
            params["c0"] = cuts[0]
            inner = f"{self.d.int_div(f'{k} - :c0', str(step))} + 1"
            return f"CASE WHEN {k} < :c0 THEN 0 ELSE {self.d.least(inner, str(len(cuts)))} END"
        whens = []
        for i, cut in enumerate(cuts):
            params[f"c{i}"] = cut
            whens.append(f"WHEN {k} < :c{i} THEN {i}")
        return f"CASE {' '.join(whens)} ELSE {len(cuts)} END"

    def summary_sql(self, ranges: Sequence[Range]) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {}
        where = self._where(Range(ranges[0].lo, ranges[-1].hi), params, lag=True)
        bucket = self.bucket_sql(ranges, params)
        inner = f"SELECT {bucket} AS b, {self._hash} AS h FROM {self._from} WHERE {where}"
        return f"SELECT b, COUNT(*), {self.d.sum('h')} FROM ({inner}) vigil_b GROUP BY b", params

    def rows_sql(self, rng: Range) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {}
        where = self._where(rng, params, lag=False)
        recent = "0"
        if self._updated and self.shape.cutoff is not None:
            recent = f"CASE WHEN {self._updated} > :cutoff THEN 1 ELSE 0 END"
            params["cutoff"] = self._cutoff()
        return f"SELECT {self._key}, {self._hash}, {recent} FROM {self._from} WHERE {where}", params

    # -- Endpoint ---------------------------------------------------------------------------------

    def _all(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        return fetch_all(self.engine, sql, params, self.on_error)

    def key_bounds(self) -> tuple[Key, Key] | None:
        k = self._order_key
        lo, hi = self._all(f"SELECT MIN({k}), MAX({k}) FROM {self._from}")[0]
        return None if lo is None else (self._norm(lo), self._norm(hi))

    def _norm(self, key: Any) -> Key:
        return int(key) if self.shape.key_type is KeyType.int else str(key)

    def quantiles(self, rng: Range, n: int) -> list[Key]:
        params: dict[str, Any] = {}
        where = self._where(rng, params, lag=False)
        total = self._all(f"SELECT COUNT(*) FROM {self._from} WHERE {where}", params)[0][0]
        step = max(1, math.ceil(total / n))
        k = self._order_key
        numbered = f"SELECT {k} AS k, ROW_NUMBER() OVER (ORDER BY {k}) AS rn FROM {self._from} WHERE {where}"
        found = self._all(f"SELECT k FROM ({numbered}) vigil_q WHERE rn % {step} = 0", params)
        return sorted({self._norm(r[0]) for r in found})  # type: ignore[type-var]

    def summarize(self, ranges: Sequence[Range]) -> list[Summary]:
        sql, params = self.summary_sql(ranges)
        found = {int(b): Summary(int(c), int(s) & MASK64) for b, c, s in self._all(sql, params)}
        return [found.get(i, Summary(0, 0)) for i in range(len(ranges))]

    def rows(self, rng: Range) -> Iterator[Row]:
        sql, params = self.rows_sql(rng)
        for key, h, recent in self._all(sql, params):
            yield Row(self._norm(key), int(h) & MASK64, bool(recent))

    def anomalies(self) -> KeyAnomalies:
        k = self._raw_key
        nulls = self._all(f"SELECT COUNT(*) FROM {self._from} WHERE {k} IS NULL")[0][0]
        if not (self.shape.key_type is KeyType.int and self.source.key_is_text):
            return KeyAnomalies(int(nulls))
        bad = f"{k} IS NOT NULL AND {self.d.not_int(k)}"
        count = self._all(f"SELECT COUNT(*) FROM {self._from} WHERE {bad}")[0][0]
        sample = self._all(self.d.limit(f"SELECT {k} FROM {self._from} WHERE {bad}", INVALID_SAMPLE))
        return KeyAnomalies(int(nulls), int(count), tuple(repr(r[0]) for r in sample))


def key_is_text(engine: Engine, source: Source, on_error: OnError | None = None) -> bool:
    """Whether the key column holds text: an integer key read from it must be parsed."""
    d = dialect_of(engine)
    origin = d.quote(source.table) if source.table else f"({source.query}) vigil_src"
    probe = d.limit(f"SELECT {d.quote(source.key)} FROM {origin} WHERE {d.quote(source.key)} IS NOT NULL", 1)
    found = fetch_all(engine, probe, None, on_error)
    return bool(found) and isinstance(found[0][0], str)
