"""SQL endpoints (SQLAlchemy): PostgreSQL, MySQL/MariaDB and SQL Server.

Everything is computed inside the database: one aggregate query per call returns the count and
checksum of every bucket asked for (GROUP BY bucket), so a level of the comparison costs one scan
per side and a few rows on the wire. The canonical text of vigil.consistency.model is built in SQL
per dialect (tests/integration/test_consistency_sql.py holds each dialect to it byte for byte), so
a database compares with a database of another engine or with a store hashed in Python.

Keys are compared where the store's index can serve them: range predicates `key >= :lo AND
key < :hi` on the column itself (a composite key's parts as a row value on PostgreSQL, expanded
into ANDs and ORs where MySQL/MariaDB and SQL Server would not use the index for a row value), in
the column's native order when both sides sort alike (vigil.consistency.keyorder). What a column
holds (uuid or text, its collation) is read from the store once per endpoint (`describe`).

When both sides are PostgreSQL, its typed hash functions may replace MD5 of the text (fast_hash):
both sides then hash alike, and no Python side takes part. Sessions run in UTC
and read-only.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from vigil.consistency.keyorder import text_order
from vigil.consistency.model import (
    ESCAPES,
    MASK64,
    NULL,
    SEPARATOR,
    FieldType,
    Key,
    KeyAnomalies,
    KeyType,
    Range,
    Row,
    Summary,
    normalize_key,
)
from vigil.consistency.stream import INVALID_SAMPLE, Shape

# Timestamp scales PostgreSQL's date_trunc can cut to (6: nothing to cut).
_TRUNC = {0: "second", 3: "milliseconds", 6: ""}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
# A uuid held as text: the canonical form (model.UUID_TEXT), lowercase where case matters to the order.
_HEX = {8: "[0-9a-f]{8}", 4: "[0-9a-f]{4}", 12: "[0-9a-f]{12}"}
UUID_PATTERN = "^" + "-".join(_HEX[n] for n in (8, 4, 4, 4, 12)) + "$"
# Key parts of a PostgreSQL pair hashed natively: seeds apart from the fields' (1, 2, ...).
_KEY_SEEDS = (0, -1, -2, -3, -4, -5, -6, -7)  # at most 8 key parts (vigil.spec.consistency)

# (error, while connecting) → the exception to raise instead: vigil.consistency.connect gives one
# that masks the password (vigil.sqlconn's wrapping). None: SQLAlchemy's own error goes up.
OnError = Callable[[SQLAlchemyError, bool], Exception]


def fetch_all(
    engine: Engine,
    sql: str,
    params: dict[str, Any] | None = None,
    on_error: OnError | None = None,
    setup: Sequence[str] = (),
) -> list[Any]:
    """Every row of one statement on a connection of the pool, after `setup` in the same
    transaction; errors through `on_error`."""
    try:
        conn = engine.connect()
    except SQLAlchemyError as exc:
        if on_error is None:
            raise
        raise on_error(exc, True) from None  # the driver's message may hold the password: dropped
    try:
        with conn:
            for statement in setup:
                conn.execute(text(statement))
            return list(conn.execute(text(sql), params or {}))
    except SQLAlchemyError as exc:
        if on_error is None:
            raise
        raise on_error(exc, False) from None


@dataclass(frozen=True)
class Stored:
    """How a store holds one key column, as read from a row of it: a kind (number, text, uuid,
    binary, or the engine's own type name) and, for text, the collation."""

    kind: str
    collation: str | None = None


@dataclass(frozen=True)
class KeySql:
    """One key part in one store's SQL.

    value: the part as selected (normalized in Python); text: its canonical text (model.key_text);
    native: what range predicates compare, the column itself where it can be, so its index serves
    them; order: the order `native` sorts in (vigil.consistency.keyorder); canonical: what they
    compare instead when the other side sorts differently (the key type's canonical order, a
    cast where `native` is not in it); valid: whether a row's value is a key at all (else it is
    reported invalid and left out); bind: how a bound key is written beside `native`."""

    value: str
    text: str
    native: str
    order: str
    canonical: str
    valid: str | None = None
    bind: str = "{}"

    def cast(self) -> KeySql:
        """This part compared in the canonical order."""
        if self.canonical == self.native:
            return self
        return replace(self, native=self.canonical, bind="{}")


def present(cols: Sequence[str]) -> str:
    """Every one of the columns is set (a composite key with a NULL part is a NULL key)."""
    return " AND ".join(f"{c} IS NOT NULL" for c in cols)


class Dialect:
    """SQL fragments for one engine. Subclasses override what differs from PostgreSQL."""

    name = "postgresql"
    family = "postgresql"  # whose collation names (keyorder.text_order)
    # (a, b) >= (x, y) as one index condition; MySQL/MariaDB reads the whole index for it.
    row_values = True
    # Runs one query on several cores (parallel scans and aggregates); MySQL/MariaDB on one.
    parallel_query = True

    def char(self, code: int) -> str:
        return f"CHR({code})"

    @property
    def sep(self) -> str:
        return self.char(ord(SEPARATOR))

    @property
    def null(self) -> str:
        return self.char(ord(NULL))

    def quote(self, ident: str) -> str:
        return ".".join(f'"{part}"' for part in ident.split("."))

    def concat(self, parts: list[str]) -> str:
        return "(" + " || ".join(parts) + ")"

    def as_text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"

    def escaped(self, text: str) -> str:
        """model.escape in SQL, replacement by replacement in the same order."""
        for marker, escaped in ESCAPES:
            replacement = self.concat([self.char(ord(escaped[0])), f"'{escaped[1:]}'"])
            text = f"REPLACE({text}, {self.char(ord(marker))}, {replacement})"
        return text

    def value_text(self, col: str, ftype: FieldType) -> str:
        match ftype.name:
            case "bool":
                return f"CASE WHEN CAST({col} AS INTEGER) <> 0 THEN '1' WHEN {col} IS NOT NULL THEN '0' END"
            case "decimal":
                return self.as_text(f"CAST({col} AS {self.decimal_type(ftype.scale)})")
            case "timestamp":
                return f"LEFT({self.iso_timestamp(col)}, {19 if ftype.scale == 0 else 20 + ftype.scale})"
            case "int":
                return self.as_text(col)
            case _:
                return self.escaped(self.as_text(col))

    def decimal_type(self, scale: int) -> str:
        return f"NUMERIC(38, {scale})"

    def iso_timestamp(self, col: str) -> str:
        # The session runs in UTC (see `_session`): timestamptz renders as its UTC instant.
        return f"TO_CHAR({col}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"

    def md5_hash(self, canonical: str) -> str:
        return f"CAST(CAST('x' || LEFT(MD5({canonical}), 16) AS BIT(64)) AS BIGINT)"

    def fast_hash(
        self, keys: Sequence[KeySql], key_types: Sequence[KeyType], columns: Sequence[str], types: Sequence[FieldType]
    ) -> str | None:
        """The row hash from PostgreSQL's own typed hash functions, no text built: about three times
        cheaper than MD5 of the canonical text. Each column has its own seed, so position counts;
        values are normalized as the canonical form does (UTC instants, decimal scale)."""
        # A key part is one text here, hashed on its own: a uuid's text, a text key unescaped.
        texts = {KeyType.uuid: lambda k: k.text, KeyType.str: lambda k: self.as_text(k.value)}
        parts = [
            f"hashint8extended({key.value}, {seed})"
            if key_type is KeyType.int
            else f"hashtextextended({texts[key_type](key)}, {seed})"
            for key, key_type, seed in zip(keys, key_types, _KEY_SEEDS, strict=False)
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
            case "text":
                return f"hashtextextended({self.as_text(col)}, {seed})"  # one column, one hash: nothing to escape
            case _:
                return f"hashtextextended({self.value_text(col, ftype)}, {seed})"

    def sum(self, expr: str) -> str:
        return f"SUM({expr})"

    def summary_setup(self) -> list[str]:
        """Before a GROUP BY bucket: PostgreSQL counts as many groups as key values (it cannot see
        through the bucket expression) and may sort the whole table, to disk, for a few dozen
        groups; without sorts it aggregates in a hash table of one entry per bucket. SET LOCAL
        lasts for this statement's transaction only."""
        return ["SET LOCAL enable_sort = off"]

    def int_key(self, col: str) -> str:
        """A text column read as integer keys: NULL where it does not parse (reported as invalid)."""
        return f"CASE WHEN {self.is_int(col)} THEN CAST({col} AS BIGINT) END"

    def is_int(self, col: str) -> str:
        return f"{col} ~ '^\\s*[+-]?[0-9]+\\s*$'"

    def is_uuid(self, col: str) -> str:
        return f"{col} ~ '{UUID_PATTERN}'"

    def codepoint_text(self, col: str) -> str:
        """A string key compared and ordered by code point, as Python orders str."""
        return f'CAST({col} AS TEXT) COLLATE "C"'

    # -- what a key column holds, and the SQL for each key part -----------------------------------

    def probe(self, origin: str, cols: Sequence[str]) -> str:
        """One row telling each key column's type and collation (`stored` reads it)."""
        described = ", ".join(f"pg_typeof({c})::text, pg_collation_for(CAST({c} AS TEXT))" for c in cols)
        default = (
            "(SELECT jsonb_build_array(d.datcollate, to_jsonb(d) ->> 'datlocprovider', "
            "COALESCE(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale')) "
            "FROM pg_database d WHERE d.datname = current_database())"
        )
        return self.limit(f"SELECT {described}, {default} FROM {origin}", 1)

    def stored(self, row: Sequence[Any], parts: int) -> list[Stored]:
        collate, provider, locale = row[-1]
        default = collate if provider == "c" else f"{'icu' if provider == 'i' else 'builtin'}:{locale}"
        if provider == "b" and locale in ("C", "C.UTF-8"):
            default = "C"  # PostgreSQL 17's builtin C and C.UTF-8 sort by code point
        found = []
        for i in range(parts):
            type_name, collation = row[2 * i], row[2 * i + 1]
            name = str(collation).strip('"') if collation else None
            name = default if name == "default" else name
            if type_name in ("text", "character varying", "name"):
                found.append(Stored("text", name))
            elif type_name in ("smallint", "integer", "bigint", "numeric"):
                found.append(Stored("number"))
            elif type_name == "uuid":
                found.append(Stored("uuid"))
            else:  # character (blank-padded), citext, ...: their own order
                found.append(Stored(f"{type_name}", name))
        return found

    def key_sql(self, col: str, key_type: KeyType, stored: Stored) -> KeySql:
        if key_type is KeyType.int:
            if stored.kind == "number":
                return KeySql(col, self.as_text(col), col, "int", col)
            number = self.int_key(col)  # a text column: its integer value, no index
            return KeySql(number, self.as_text(number), number, "int", number, valid=self.is_int(col))
        if key_type is KeyType.uuid:
            return self.uuid_key(col, stored.kind)
        order = self.text_key_order(stored)
        return KeySql(col, self.escaped(self.as_text(col)), col, order, self.codepoint_text(col))

    def uuid_key(self, col: str, kind: str) -> KeySql:
        if kind == "uuid":
            return KeySql(self.as_text(col), self.as_text(col), col, "uuid", col)
        # Text in any collation sorts canonical lowercase uuids by their hex digits.
        return KeySql(col, self.as_text(col), col, "uuid", col, valid=self.is_uuid(col))

    def text_key_order(self, stored: Stored) -> str:
        if stored.kind == "text":
            return text_order(self.family, stored.collation)
        return f"{self.family}:{stored.kind}:{stored.collation}"

    # -- comparing keys: one part, or a composite key's parts in order ----------------------------

    def compare(self, exprs: Sequence[str], binds: Sequence[str], op: Literal["<", ">=", ">"]) -> str:
        """exprs op binds, lexicographically over a composite key's parts."""
        if len(exprs) == 1:
            return f"{exprs[0]} {op} {binds[0]}"
        if self.row_values:
            return f"({', '.join(exprs)}) {op} ({', '.join(binds)})"
        # a < x OR (a = x AND (rest)), down to the last part, which takes op itself
        strict = "<" if op == "<" else ">"
        clause = f"{exprs[-1]} {op} {binds[-1]}"
        for expr, bind in zip(reversed(exprs[:-1]), reversed(binds[:-1]), strict=True):
            clause = f"({expr} {strict} {bind} OR ({expr} = {bind} AND {clause}))"
        return clause

    def int_div(self, a: str, b: str) -> str:
        return f"({a}) / {b}"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})"

    def limit(self, select: str, n: int) -> str:
        return f"{select} LIMIT {n}"

    def nth(self, ordered: str, skip: int) -> str:
        """The row after the first `skip` of an ordered SELECT."""
        return f"{ordered} LIMIT 1 OFFSET {skip}"

    def session(self) -> list[str]:
        return ["SET TIME ZONE 'UTC'", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"]


class MySQL(Dialect):
    name = "mysql"
    family = "mysql"
    row_values = False
    parallel_query = False
    # NO PAD: trailing spaces count, as in Python (utf8mb4_bin is PAD SPACE).
    codepoint_collation = "utf8mb4_0900_bin"

    def fast_hash(
        self, keys: Sequence[KeySql], key_types: Sequence[KeyType], columns: Sequence[str], types: Sequence[FieldType]
    ) -> str | None:
        return None  # no 64-bit hash cheaper than MD5 in MySQL/MariaDB

    def char(self, code: int) -> str:
        return f"CHAR({code} USING utf8mb4)"

    def escaped(self, text: str) -> str:
        # On the bytes: the markers are single bytes in UTF-8 (never inside another character), and
        # REPLACE on a binary string is about twice as fast as on utf8mb4. MD5 reads the same bytes.
        binary = f"CAST({text} AS BINARY)"
        for marker, escaped in ESCAPES:
            binary = f"REPLACE({binary}, 0x{ord(marker):02x}, 0x{escaped.encode().hex()})"
        return binary

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
        return f"CASE WHEN {self.is_int(col)} THEN CAST(TRIM({col}) AS SIGNED) END"

    def is_int(self, col: str) -> str:
        return f"{col} REGEXP '^[[:space:]]*[+-]?[0-9]+[[:space:]]*$'"

    def is_uuid(self, col: str) -> str:
        # REGEXP follows the column's collation: any case under *_ci, where the order ignores it
        # too; lowercase under *_bin, where 'B' would sort before 'a'.
        return f"{col} REGEXP '{UUID_PATTERN}'"

    def codepoint_text(self, col: str) -> str:
        return f"CONVERT({col} USING utf8mb4) COLLATE {self.codepoint_collation}"

    def probe(self, origin: str, cols: Sequence[str]) -> str:
        # MariaDB's UUID type reads as 36 characters but holds 16 bytes: HEX tells it from text.
        described = ", ".join(f"{c}, COLLATION({c}), LENGTH(HEX({c}))" for c in cols)
        return self.limit(f"SELECT {described} FROM {origin} WHERE {present(cols)}", 1)

    def stored(self, row: Sequence[Any], parts: int) -> list[Stored]:
        found = []
        for i in range(parts):
            value, collation, hex_length = row[3 * i : 3 * i + 3]
            if isinstance(value, bytes | bytearray):
                found.append(Stored("binary"))
            elif not isinstance(value, str):
                found.append(Stored("number"))
            elif int(hex_length) == 32 and len(value) == 36:
                found.append(Stored("uuid"))
            else:
                found.append(Stored("text", str(collation)))
        return found

    def uuid_key(self, col: str, kind: str) -> KeySql:
        if kind == "uuid":
            # MariaDB's UUID type sorts by its last group first (mariadb.com/kb/en/uuid-data-type):
            # its native order is its own, and the canonical one a cast to text.
            text = f"LOWER(CONVERT(CAST({col} AS CHAR) USING utf8mb4))"
            return KeySql(text, text, col, "mysql:uuid-type", f"{text} COLLATE {self.codepoint_collation}")
        if kind == "binary":
            # 16 bytes in the uuid's own order (UUID_TO_BIN(x) without its swap flag).
            digits = f"LOWER(HEX({col}))"
            text = (
                "CONCAT_WS('-', "
                + ", ".join(f"SUBSTR({digits}, {a}, {n})" for a, n in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12)))
                + ")"
            )
            return KeySql(text, text, col, "uuid", col, valid=f"LENGTH({col}) = 16", bind="UNHEX(REPLACE({}, '-', ''))")
        text = f"LOWER({self.as_text(col)})"
        return KeySql(text, text, col, "uuid", col, valid=self.is_uuid(col))

    def int_div(self, a: str, b: str) -> str:
        return f"({a}) DIV {b}"

    def summary_setup(self) -> list[str]:
        return []

    def session(self) -> list[str]:
        return ["SET time_zone = '+00:00'", "SET SESSION TRANSACTION READ ONLY"]


class MariaDB(MySQL):
    name = "mariadb"
    codepoint_collation = "utf8mb4_nopad_bin"  # MariaDB has no utf8mb4_0900_bin


class SqlServer(Dialect):
    """Compile-checked only (no server in the test suite). Needs SQL Server 2019+ for the UTF-8 collation."""

    name = "mssql"
    family = "mssql"
    row_values = False

    def char(self, code: int) -> str:
        return f"NCHAR({code})"

    def quote(self, ident: str) -> str:
        return ".".join(f"[{part}]" for part in ident.split("."))

    def concat(self, parts: list[str]) -> str:
        return f"CONCAT({', '.join(parts)})"

    def as_text(self, expr: str) -> str:
        return f"CAST({expr} AS NVARCHAR(MAX))"

    def escaped(self, text: str) -> str:
        # REPLACE compares under the collation, where control characters may weigh nothing: binary.
        return super().escaped(f"{text} COLLATE Latin1_General_100_BIN2")

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

    def summary_setup(self) -> list[str]:
        return []

    def fast_hash(
        self, keys: Sequence[KeySql], key_types: Sequence[KeyType], columns: Sequence[str], types: Sequence[FieldType]
    ) -> str | None:
        return None

    def int_key(self, col: str) -> str:
        return f"TRY_CAST({col} AS BIGINT)"

    def is_int(self, col: str) -> str:
        return f"TRY_CAST({col} AS BIGINT) IS NOT NULL"

    def is_uuid(self, col: str) -> str:
        hexes = {8: "[0-9a-f]" * 8, 4: "[0-9a-f]" * 4, 12: "[0-9a-f]" * 12}
        return f"{col} LIKE '" + "-".join(hexes[n] for n in (8, 4, 4, 4, 12)) + "'"

    def codepoint_text(self, col: str) -> str:
        return f"CAST({col} AS NVARCHAR(4000)) COLLATE Latin1_General_100_BIN2"

    def probe(self, origin: str, cols: Sequence[str]) -> str:
        def prop(col: str, name: str) -> str:
            return f"CAST(SQL_VARIANT_PROPERTY(CAST({col} AS SQL_VARIANT), '{name}') AS NVARCHAR(128))"

        described = ", ".join(f"{prop(c, 'BaseType')}, {prop(c, 'Collation')}" for c in cols)
        return self.limit(f"SELECT {described} FROM {origin} WHERE {present(cols)}", 1)

    def stored(self, row: Sequence[Any], parts: int) -> list[Stored]:
        found = []
        for i in range(parts):
            base, collation = row[2 * i], row[2 * i + 1]
            if base in ("char", "varchar", "nchar", "nvarchar"):
                found.append(Stored("text", str(collation)))
            elif base in ("tinyint", "smallint", "int", "bigint", "numeric", "decimal"):
                found.append(Stored("number"))
            else:
                found.append(Stored(str(base)))
        return found

    def uuid_key(self, col: str, kind: str) -> KeySql:
        text = f"LOWER(CONVERT(CHAR(36), {col}))"
        if kind == "uniqueidentifier":
            # SQL Server sorts uniqueidentifier by its last group first: compared as text instead.
            return KeySql(text, text, col, "mssql:uniqueidentifier", f"{text} COLLATE Latin1_General_100_BIN2")
        return KeySql(text, text, col, "uuid", col, valid=self.is_uuid(col))

    def least(self, a: str, b: str) -> str:
        return f"CASE WHEN ({a}) < ({b}) THEN ({a}) ELSE ({b}) END"

    def limit(self, select: str, n: int) -> str:
        return select.replace("SELECT ", f"SELECT TOP {n} ", 1)

    def nth(self, ordered: str, skip: int) -> str:
        return f"{ordered} OFFSET {skip} ROWS FETCH NEXT 1 ROWS ONLY"

    def session(self) -> list[str]:
        return []


DIALECTS: dict[str, Dialect] = {
    "postgresql": Dialect(),
    "mysql": MySQL(),
    "mariadb": MariaDB(),
    "mssql": SqlServer(),
}


def dialect_of(engine: Engine) -> Dialect:
    name = engine.dialect.name
    if name == "mysql" and getattr(engine.dialect, "is_mariadb", False):
        name = "mariadb"  # known once the engine has connected: a mysql:// URL may reach MariaDB
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"engine {name}: vigil compares postgresql, mysql/mariadb and mssql") from None


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
    """Where the rows are: a table (schema.name) or a query, and the columns the comparison reads.
    `key`: the key column, or a composite key's columns in order."""

    key: str | tuple[str, ...]
    columns: tuple[str, ...]  # one per compared field, in the comparison's field order
    table: str | None = None
    query: str | None = None
    updated_at: str | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table or query")
        for ident in (
            *self.keys,
            *self.columns,
            *([self.table] if self.table else []),
            *filter(None, [self.updated_at]),
        ):
            if not _IDENT.match(ident):
                raise ValueError(f"{ident!r} is not a plain SQL identifier (letters, digits, _, $; schema.name)")

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,) if isinstance(self.key, str) else self.key

    def origin(self, d: Dialect) -> str:
        """What a SELECT reads FROM."""
        return d.quote(self.table) if self.table else f"({self.query}) vigil_src"


def describe(engine: Engine, source: Source, on_error: OnError | None = None) -> tuple[Stored | None, ...]:
    """What each key column holds, read from one row (None for every part when there is none to
    read: an empty side sorts alike with anything)."""
    d = dialect_of(engine)
    found = fetch_all(engine, d.probe(source.origin(d), [d.quote(k) for k in source.keys]), None, on_error)
    if not found:
        return (None,) * len(source.keys)
    return tuple(d.stored(found[0], len(source.keys)))


class SqlEndpoint:
    def __init__(
        self,
        name: str,
        engine: Engine,
        source: Source,
        shape: Shape,
        fast_hash: bool = False,
        on_error: OnError | None = None,
        stored: Sequence[Stored | None] | None = None,
    ) -> None:
        """`stored`: what each key column holds; read from the store (`describe`) when not given."""
        if len(source.keys) != len(shape.key_types):
            raise ValueError(f"key {', '.join(source.keys)}: {len(shape.key_types)} key parts expected")
        self.name, self.engine, self.source, self.shape = name, engine, source, shape
        self.on_error = on_error
        if stored is None:
            stored = describe(engine, source, on_error)
        self.d = dialect_of(engine)
        q = self.d.quote
        self._from = source.origin(self.d)
        self._raw_keys = [q(k) for k in source.keys]
        # Nothing to look at (no row, or NULL keys only): the column itself, nothing typed.
        self._native = [
            self.d.key_sql(col, key_type, found) if found else KeySql(col, self.d.as_text(col), col, "", col)
            for col, key_type, found in zip(self._raw_keys, shape.key_types, stored, strict=True)
        ]
        self._orders = tuple(None if found is None else k.order for k, found in zip(self._native, stored, strict=True))
        self._keys = list(self._native)
        self._updated = q(source.updated_at) if source.updated_at else None
        native = self.d.fast_hash(self._keys, shape.key_types, source.columns, shape.types) if fast_hash else None
        if fast_hash and native is None:
            raise ValueError(f"{self.d.name} has no native row hash: compare with MD5 (fast_hash off)")
        self._hash = native or self.d.md5_hash(self.canonical_sql())

    @property
    def one_core_a_query(self) -> bool:
        """Whether a big summary is better sent as several queries over contiguous key ranges."""
        return not self.d.parallel_query

    # -- the key order (vigil.consistency.keyorder) ------------------------------------------------

    def key_orders(self) -> tuple[str | None, ...]:
        return self._orders

    def compare_natively(self, native: Sequence[bool]) -> None:
        """Compare the key parts marked False in the canonical order (the other side sorts them differently)."""
        self._keys = [k if keep else k.cast() for k, keep in zip(self._native, native, strict=True)]

    # -- SQL pieces --------------------------------------------------------------------------------

    def canonical_sql(self) -> str:
        """The row's canonical text (model.canonical_text) as an SQL expression."""
        d = self.d
        parts: list[str] = []
        for key in self._native:
            parts += [d.sep, key.text] if parts else [key.text]
        for column, ftype in zip(self.source.columns, self.shape.types, strict=True):
            parts += [d.sep, f"COALESCE({d.value_text(d.quote(column), ftype)}, {d.null})"]
        return d.concat(parts)

    def _bound(self, key: Key, prefix: str, params: dict[str, Any]) -> list[str]:
        """Bind a key's parts as prefix (one part) or prefix_0, prefix_1, ...; their SQL."""
        parts = key if isinstance(key, tuple) else (key,)
        names = [prefix] if len(parts) == 1 else [f"{prefix}_{j}" for j in range(len(parts))]
        for name, part in zip(names, parts, strict=True):
            params[name] = part
        return [k.bind.format(f":{n}") for k, n in zip(self._keys, names, strict=True)]

    def _compare(self, key: Key, op: Literal["<", ">=", ">"], prefix: str, params: dict[str, Any]) -> str:
        return self.d.compare([k.native for k in self._keys], self._bound(key, prefix, params), op)

    def _present(self) -> str:
        """The rows with a usable key: every part present and valid."""
        return " AND ".join([present(self._raw_keys), *(k.valid for k in self._native if k.valid)])

    def _where(self, rng: Range, params: dict[str, Any], lag: bool) -> str:
        conds = [self._present()]
        if rng.lo is not None:
            conds.append(self._compare(rng.lo, ">=", "lo", params))
        if rng.hi is not None:
            conds.append(self._compare(rng.hi, "<", "hi", params))
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
        steps = {b - a for a, b in itertools.pairwise(cuts)} if all(isinstance(c, int) for c in cuts) else None
        if steps is not None and len(steps) <= 1:
            # Equal-width integer buckets: arithmetic instead of a comparison per bucket.
            k = self._keys[0].native
            step = steps.pop() if steps else 1
            params["c0"] = cuts[0]
            inner = f"{self.d.int_div(f'{k} - :c0', str(step))} + 1"
            return f"CASE WHEN {k} < :c0 THEN 0 ELSE {self.d.least(inner, str(len(cuts)))} END"
        below = [self._compare(cut, "<", f"c{i}", params) for i, cut in enumerate(cuts)]  # type: ignore[arg-type]

        def search(first: int, last: int) -> str:
            # A binary search: log2(n) comparisons a row, not one per bucket.
            if first == last:
                return str(first)
            middle = (first + last + 1) // 2  # the first bucket of the upper half
            return f"CASE WHEN {below[middle - 1]} THEN {search(first, middle - 1)} ELSE {search(middle, last)} END"

        return search(0, len(cuts))

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
        keys = ", ".join(k.value for k in self._native)
        return f"SELECT {keys}, {self._hash}, {recent} FROM {self._from} WHERE {where}", params

    # -- Endpoint ---------------------------------------------------------------------------------

    def _all(self, sql: str, params: dict[str, Any] | None = None, setup: Sequence[str] = ()) -> list[Any]:
        return fetch_all(self.engine, sql, params, self.on_error, setup)

    def _norm(self, values: Sequence[Any]) -> Key:
        parts = [normalize_key(v, t) for v, t in zip(values, self.shape.key_types, strict=True)]
        return parts[0] if len(parts) == 1 else tuple(parts)  # type: ignore[return-value]

    def key_bounds(self) -> tuple[Key, Key] | None:
        """Single keys only (integers and uuids are cut in equal widths). Each end is the first key
        of an index scan: PostgreSQL has no MIN(uuid), and ORDER BY ... LIMIT 1 is served alike."""
        k = self._keys[0].native
        ends = [
            self.d.limit(f"SELECT {k} FROM {self._from} WHERE {self._present()} ORDER BY {k}{way}", 1)
            for way in ("", " DESC")
        ]
        lo, hi = self._all(f"SELECT ({ends[0]}), ({ends[1]})")[0]
        return None if lo is None else (self._norm([lo]), self._norm([hi]))

    def quantiles(self, rng: Range, n: int, size: int | None = None) -> list[Key]:
        """Every size/n-th key of the range in the store's order, each found from the one before by
        skipping that many entries of the index (`size`: the range's row count when known). Not a
        ROW_NUMBER() over the range: numbering each row costs more than reading the index."""
        params: dict[str, Any] = {}
        where = self._where(rng, params, lag=False)
        total = (
            size if size is not None else self._all(f"SELECT COUNT(*) FROM {self._from} WHERE {where}", params)[0][0]
        )
        step = max(1, math.ceil(total / n))
        exprs = [k.native for k in self._keys]
        select = f"SELECT {', '.join(exprs)} FROM {self._from} WHERE {{where}} ORDER BY {', '.join(exprs)}"
        cuts: list[Key] = []
        after: tuple[Key, Literal[">=", ">"]] | None = None
        while len(cuts) < n - 1:
            bound = dict(params)
            cond = where if after is None else f"{where} AND {self._compare(after[0], after[1], 'q', bound)}"
            found = self._all(self.d.nth(select.format(where=cond), step), bound)
            if not found:
                break
            cut = self._norm(found[0])
            # A key repeated more than `step` times would be found again: go past it instead.
            after = (cut, ">" if cuts and cut == cuts[-1] else ">=")
            cuts.append(cut)
        return cuts

    def summarize(self, ranges: Sequence[Range]) -> list[Summary]:
        sql, params = self.summary_sql(ranges)
        found = {int(b): Summary(int(c), int(s) & MASK64) for b, c, s in self._all(sql, params, self.d.summary_setup())}
        return [found.get(i, Summary(0, 0)) for i in range(len(ranges))]

    def rows(self, rng: Range) -> Iterator[Row]:
        sql, params = self.rows_sql(rng)
        width = len(self._native)
        for found in self._all(sql, params):
            yield Row(self._norm(found[:width]), int(found[width]) & MASK64, bool(found[width + 1]))

    def anomalies(self) -> KeyAnomalies:
        nulls = " OR ".join(f"{col} IS NULL" for col in self._raw_keys)
        null_count = self._all(f"SELECT COUNT(*) FROM {self._from} WHERE {nulls}")[0][0]
        checks = [k.valid for k in self._native if k.valid]
        if not checks:
            return KeyAnomalies(int(null_count))
        bad = f"{present(self._raw_keys)} AND NOT ({' AND '.join(checks)})"
        count = self._all(f"SELECT COUNT(*) FROM {self._from} WHERE {bad}")[0][0]
        if not count:
            return KeyAnomalies(int(null_count))  # no second scan for a sample of nothing
        sample = self._all(
            self.d.limit(f"SELECT {', '.join(self._raw_keys)} FROM {self._from} WHERE {bad}", INVALID_SAMPLE)
        )
        shown = [repr(r[0]) if len(r) == 1 else repr(tuple(r)) for r in sample]
        return KeyAnomalies(int(null_count), int(count), tuple(shown))
