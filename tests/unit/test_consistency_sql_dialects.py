"""The SQL each dialect gets, compiled by SQLAlchemy's own dialects: SQL Server has no server in the
test suite, so this is its check; PostgreSQL and MariaDB also run for real in tests/integration.
Key predicates and bucket expressions are also evaluated, in SQLite, against Python's own order."""

from __future__ import annotations

import bisect
import itertools
import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from vigil.consistency.model import FieldType, KeyType, Range, split_at, split_int, split_uuid
from vigil.consistency.sql import DIALECTS, Source, SqlEndpoint, Stored
from vigil.consistency.stream import Shape

TYPES = tuple(FieldType.parse(t) for t in ("int", "text", "decimal(2)", "timestamp(3)", "bool"))
COLUMNS = ("campaign_id", "name", "spend", "starts_at", "active")
URLS = {
    "mssql": "mssql+pymssql://u:p@db.example/campaigns",
    "postgresql": "postgresql+psycopg://u:p@db.example/campaigns",
    "mysql": "mysql+pymysql://u:p@db.example/campaigns",
}
U1, U2 = "40000000-0000-4000-8000-000000000000", "80000000-0000-4000-8000-000000000000"
TEXT = Stored("text", "utf8mb4_general_ci")
# (key types, what the store holds, a range of that key) per kind of key
KEYS: dict[str, tuple[tuple[KeyType, ...], tuple[Stored, ...], Range]] = {
    "int": ((KeyType.int,), (Stored("number"),), Range(10, 20)),
    "int as text": ((KeyType.int,), (TEXT,), Range(10, 20)),
    "uuid": ((KeyType.uuid,), (Stored("uuid"),), Range(U1, U2)),
    "uuid as text": ((KeyType.uuid,), (TEXT,), Range(U1, U2)),
    "uuid as bytes": ((KeyType.uuid,), (Stored("binary"),), Range(U1, U2)),
    "uuid type (mssql)": ((KeyType.uuid,), (Stored("uniqueidentifier"),), Range(U1, U2)),
    "text": ((KeyType.str,), (TEXT,), Range("a", "b")),
    "composite": ((KeyType.int, KeyType.str), (Stored("number"), TEXT), Range((1, "a"), (2, "b"))),
}


def endpoint(
    dialect: str, key: str = "int", table: str = "dbo.results", fields: tuple[str, ...] = COLUMNS
) -> SqlEndpoint:
    key_types, stored, _ = KEYS[key]
    names = ("id",) if len(key_types) == 1 else ("tenant", "code")
    source = Source(names[0] if len(names) == 1 else names, fields, table=table, updated_at="updated_at")
    shape = Shape(key_types, TYPES[: len(fields)], datetime(2024, 1, 1, tzinfo=UTC))
    # Creating an engine connects nowhere; `stored` stands for what describe() reads from a row.
    return SqlEndpoint("s", create_engine(URLS[dialect]), source, shape, stored=stored)


def ranges_of(key: str) -> list[Range]:
    if key.startswith("int"):
        return split_int(Range(None, None), 8, 1, 1000)
    if key.startswith("uuid"):
        return split_uuid(Range(None, None), 8, U1, U2)
    if key == "text":
        return split_at(Range(None, None), ["c", "h", "q"])
    return split_at(Range(None, None), [(1, "m"), (2, "c"), (3, "a")])


@pytest.mark.parametrize("dialect", sorted(URLS))
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("native", [True, False])
def test_every_statement_compiles(dialect: str, key: str, native: bool) -> None:
    ep = endpoint(dialect, key)
    if not native:
        ep.compare_natively([False] * len(KEYS[key][0]))
    for sql, params in (ep.summary_sql(ranges_of(key)), ep.rows_sql(KEYS[key][2])):
        compiled = text(sql).compile(dialect=ep.engine.dialect)
        assert set(params) == set(text(sql).compile().params), (sql, params)  # every bind is bound
        assert str(compiled).startswith("SELECT ")


@pytest.mark.parametrize("dialect", sorted(URLS))
@pytest.mark.parametrize("key", ["text", "composite"])
def test_quantiles_skip_along_the_index_from_one_cut_to_the_next(dialect: str, key: str) -> None:
    ep = endpoint(dialect, key)
    cut = (7, "g") if key == "composite" else "g"
    sent: list[tuple[str, dict[str, Any]]] = []

    def answer(sql: str, params: dict[str, Any] | None = None, setup: Any = ()) -> list[Any]:
        sent.append((sql, dict(params or {})))
        return [cut if isinstance(cut, tuple) else (cut,)] if len(sent) < 3 else []

    ep._all = answer  # type: ignore[method-assign]
    assert ep.quantiles(KEYS[key][2], 4, size=100) == [cut, cut]
    first, second, third = sent  # no COUNT: the size was given
    assert " OFFSET 25" in first[0] and ":q" not in first[0]
    assert re.search(r">= \(?:q", second[0])  # 25 entries on from the cut found
    assert re.search(r"> \(?:q", third[0]) and not re.search(r">= \(?:q", third[0])  # found twice: past it
    for sql, params in sent:
        assert str(text(sql).compile(dialect=ep.engine.dialect)).startswith("SELECT ")
        assert set(params) == set(text(sql).compile().params), sql


def test_sql_server_hashes_utf8_and_sums_without_overflow() -> None:
    ep = endpoint("mssql", "int as text")
    sql, _ = ep.summary_sql(split_int(Range(None, None), 4, 1, 100))
    assert "HASHBYTES('MD5', CAST(" in sql and "Latin1_General_100_BIN2_UTF8" in sql
    assert "SUM(CAST(h AS DECIMAL(38, 0)))" in sql and "TRY_CAST([id] AS BIGINT)" in sql
    assert "SWITCHOFFSET(CAST([starts_at] AS DATETIMEOFFSET(7)), '+00:00')" in sql
    assert "[dbo].[results]" in sql


def test_sql_server_escapes_under_a_binary_collation_and_reads_uuids_as_text() -> None:
    ep = endpoint("mssql", "uuid type (mssql)")
    canonical = ep.canonical_sql()
    # REPLACE under a linguistic collation may match control characters that weigh nothing.
    assert "REPLACE(CAST([name] AS NVARCHAR(MAX)) COLLATE Latin1_General_100_BIN2, NCHAR(29)" in canonical
    assert "LOWER(CONVERT(CHAR(36), [id]))" in canonical
    # uniqueidentifier sorts by its last group first: natively its own order, else a cast.
    assert ep.key_orders() == ("mssql:uniqueidentifier",)
    ep.compare_natively([False])
    assert "LOWER(CONVERT(CHAR(36), [id])) COLLATE Latin1_General_100_BIN2 >= :lo" in ep.rows_sql(Range(U1, U2))[0]
    text_uuid = endpoint("mssql", "uuid as text").rows_sql(Range(U1, U2))[0]
    assert "[id] >= :lo AND [id] < :hi" in text_uuid and "[id] LIKE '[0-9a-f][0-9a-f]" in text_uuid


@pytest.mark.parametrize("dialect", sorted(URLS))
def test_range_predicates_compare_the_column_itself(dialect: str) -> None:
    # What an index serves: the bare column against bound values, for uuid and text keys alike.
    q = DIALECTS[dialect].quote
    for key in ("uuid", "uuid as text", "text"):
        sql, params = endpoint(dialect, key).rows_sql(KEYS[key][2])
        assert f"{q('id')} >= :lo AND {q('id')} < :hi" in sql, sql
        assert params["lo"] == KEYS[key][2].lo


def test_keys_read_through_a_cast_when_the_other_side_sorts_differently() -> None:
    ep = endpoint("postgresql", "text")
    ep.compare_natively([False])
    assert 'CAST("id" AS TEXT) COLLATE "C" >= :lo' in ep.rows_sql(Range("a", "b"))[0]
    maria = SqlEndpoint(
        "t",
        create_engine("mariadb+pymysql://u:p@db.example/x"),
        Source("id", ("name",), table="t"),
        Shape((KeyType.str,), TYPES[1:2]),
        stored=[TEXT],
    )
    maria.compare_natively([False])
    assert "CONVERT(`id` USING utf8mb4) COLLATE utf8mb4_nopad_bin >= :lo" in maria.rows_sql(Range("a", "b"))[0]
    mysql = endpoint("mysql", "text")  # MySQL 8: utf8mb4_0900_bin, NO PAD as well
    mysql.compare_natively([False])
    assert "COLLATE utf8mb4_0900_bin >= :lo" in mysql.rows_sql(Range("a", "b"))[0]


def test_a_binary_uuid_is_bound_as_its_16_bytes() -> None:
    sql, _ = endpoint("mysql", "uuid as bytes").rows_sql(Range(U1, U2))
    assert "`id` >= UNHEX(REPLACE(:lo, '-', ''))" in sql and "LENGTH(`id`) = 16" in sql


def test_composite_keys_are_row_values_on_postgresql_and_expanded_elsewhere() -> None:
    pg, _ = endpoint("postgresql", "composite").rows_sql(Range((1, "a"), (2, "b")))
    assert '("tenant", "code") >= (:lo_0, :lo_1) AND ("tenant", "code") < (:hi_0, :hi_1)' in pg
    my, params = endpoint("mysql", "composite").rows_sql(Range((1, "a"), (2, "b")))
    assert "(`tenant` > :lo_0 OR (`tenant` = :lo_0 AND `code` >= :lo_1))" in my
    assert params == {"lo_0": 1, "lo_1": "a", "hi_0": 2, "hi_1": "b", "cutoff": datetime(2024, 1, 1)}


# -- evaluated: the expanded predicates and the bucket search order keys as Python does ---------


def sqlite_rows(values: list[tuple[Any, ...]]) -> sqlite3.Connection:
    # SQLite reads MySQL's backquoted names and compares text by its bytes: code point order.
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (tenant INTEGER, code TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?)", values)
    return db


KEYS_2 = [(t, c) for t in (0, 1, 2, 3) for c in ("", "a", "b", "bb", "é", "z")]


@pytest.mark.parametrize("op", ["<", ">=", ">"])
@pytest.mark.parametrize("dialect", ["mysql", "mssql", "postgresql"])
def test_composite_comparisons_order_like_python_tuples(op: str, dialect: str) -> None:
    d = DIALECTS[dialect]
    db = sqlite_rows(KEYS_2)
    for bound in KEYS_2:
        cond = d.compare(["tenant", "code"], [":t", ":c"], op)  # type: ignore[arg-type]
        got = set(db.execute(f"SELECT tenant, code FROM t WHERE {cond}", {"t": bound[0], "c": bound[1]}))
        want = {k for k in KEYS_2 if {"<": k < bound, ">=": k >= bound, ">": k > bound}[op]}
        assert got == want, (cond, bound)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 100])
def test_the_bucket_search_places_every_key_where_python_does(n: int) -> None:
    keys = sorted({f"{a}{b}" for a, b in itertools.product("abcdefghij", "0123456789é")})
    cuts = keys[:: max(1, len(keys) // n)][1:n]
    ranges = split_at(Range(None, None), cuts)
    ep = endpoint("mysql", "text", fields=())
    params: dict[str, Any] = {}
    case = ep.bucket_sql(ranges, params).replace("`id`", "code")
    db = sqlite_rows([(0, k) for k in keys])
    got = dict(db.execute(f"SELECT code, {case} FROM t", params))
    assert got == {k: bisect.bisect_right(cuts, k) for k in keys}
    assert case.count("CASE") <= max(1, len(ranges) - 1)  # nested halves: depth log2(n)


def test_composite_buckets_place_every_key_where_python_does() -> None:
    cuts = [(1, "b"), (2, ""), (2, "é"), (3, "a")]
    ep = endpoint("mysql", "composite", fields=())
    params: dict[str, Any] = {}
    case = ep.bucket_sql(split_at(Range(None, None), cuts), params).replace("`", "")
    got = dict(((t, c), b) for t, c, b in sqlite_rows(KEYS_2).execute(f"SELECT tenant, code, {case} FROM t", params))
    assert got == {k: bisect.bisect_right(cuts, k) for k in KEYS_2}


def test_equal_width_integer_buckets_use_arithmetic_not_a_comparison_per_bucket() -> None:
    sql, params = endpoint("postgresql").summary_sql(split_int(Range(None, None), 64, 1, 1_000_000))
    assert sql.count(' WHEN "id" <') == 1 and "LEAST(" in sql and params["c0"] == 15626


def test_uuid_buckets_search_in_halves() -> None:
    sql, params = endpoint("postgresql", "uuid").summary_sql(split_uuid(Range(None, None), 64, U1, U2))
    cuts = [name for name in params if name[0] == "c" and name[1:].isdigit()]
    assert len(cuts) == 63 and sql.count('CASE WHEN "id" <') == 63  # 6 comparisons a row, not 63
    assert sql.startswith('SELECT b, COUNT(*), SUM(h) FROM (SELECT CASE WHEN "id" < :c31 THEN CASE WHEN "id" < :c15')


# -- what a key column holds, from the probe row ----------------------------------------------------


def test_postgresql_columns_resolve_the_database_default_collation() -> None:
    pg = DIALECTS["postgresql"]
    row = ("uuid", '"default"', "text", '"default"', "text", '"en-US-x-icu"', "character", '"C"')
    found = pg.stored([*row, ["C.UTF-8", "c", None]], 4)
    assert found == [Stored("uuid"), Stored("text", "C.UTF-8"), Stored("text", "en-US-x-icu"), Stored("character", "C")]
    assert pg.stored(["text", '"default"', ["C", "i", "en-US"]], 1) == [Stored("text", "icu:en-US")]
    assert pg.stored(["text", '"default"', ["C", "b", "C.UTF-8"]], 1) == [Stored("text", "C")]
    # A blank-padded character column ignores trailing spaces: never code point order.
    assert pg.text_key_order(Stored("character", "C")) == "postgresql:character:C"


def test_mariadb_uuid_type_binary_and_text_are_told_apart() -> None:
    my = DIALECTS["mariadb"]
    row = (U1, "latin1_swedish_ci", 32, b"\x00" * 16, "binary", 32, U1, "utf8mb4_general_ci", 72, 7, "binary", 1)
    assert my.stored(row, 4) == [Stored("uuid"), Stored("binary"), TEXT, Stored("number")]


def test_sql_server_base_types() -> None:
    ms = DIALECTS["mssql"]
    row = ("uniqueidentifier", None, "nvarchar", "Latin1_General_CI_AS", "bigint", None)
    assert ms.stored(row, 3) == [Stored("uniqueidentifier"), Stored("text", "Latin1_General_CI_AS"), Stored("number")]


def test_identifiers_must_be_plain() -> None:
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        Source("id; DROP TABLE x", ("a",), table="t")
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        Source(("tenant", "id--"), ("a",), table="t")
