"""The SQL each dialect gets, compiled by SQLAlchemy's own dialects: SQL Server has no server in the
test suite, so this is its check; PostgreSQL and MariaDB also run for real in tests/integration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from vigil.consistency.model import FieldType, KeyType, Range, split_int
from vigil.consistency.sql import Source, SqlEndpoint
from vigil.consistency.stream import Shape

TYPES = tuple(FieldType.parse(t) for t in ("int", "text", "decimal(2)", "timestamp(3)", "bool"))
COLUMNS = ("campaign_id", "name", "spend", "starts_at", "active")
URLS = {
    "mssql": "mssql+pymssql://u:p@db.example/campaigns",
    "postgresql": "postgresql+psycopg://u:p@db.example/campaigns",
    "mysql": "mysql+pymysql://u:p@db.example/campaigns",
}


def endpoint(dialect: str, key_is_text: bool = False, key_type: KeyType = KeyType.int) -> SqlEndpoint:
    source = Source("id", COLUMNS, table="dbo.results", updated_at="updated_at", key_is_text=key_is_text)
    shape = Shape(key_type, TYPES, datetime(2024, 1, 1, tzinfo=UTC))
    return SqlEndpoint("s", create_engine(URLS[dialect]), source, shape)  # creating an engine connects nowhere


@pytest.mark.parametrize("dialect", sorted(URLS))
@pytest.mark.parametrize("key_is_text", [False, True])
def test_every_statement_compiles(dialect: str, key_is_text: bool) -> None:
    ep = endpoint(dialect, key_is_text)
    ranges = split_int(Range(None, None), 8, 1, 1000)
    for sql, params in (ep.summary_sql(ranges), ep.rows_sql(Range(10, 20))):
        compiled = str(text(sql).compile(dialect=ep.engine.dialect))
        assert set(params) <= set(text(sql).compile().params), (sql, params)
        assert compiled.startswith("SELECT ")


def test_sql_server_hashes_utf8_and_sums_without_overflow() -> None:
    ep = endpoint("mssql", key_is_text=True)
    sql, _ = ep.summary_sql(split_int(Range(None, None), 4, 1, 100))
    assert "HASHBYTES('MD5', CAST(" in sql and "Latin1_General_100_BIN2_UTF8" in sql
    assert "SUM(CAST(h AS DECIMAL(38, 0)))" in sql and "TRY_CAST([id] AS BIGINT)" in sql
    assert "SWITCHOFFSET(CAST([starts_at] AS DATETIMEOFFSET(7)), '+00:00')" in sql
    assert "[dbo].[results]" in sql


def test_string_keys_compare_by_code_point_everywhere() -> None:
    assert 'COLLATE "C"' in endpoint("postgresql", key_type=KeyType.str).rows_sql(Range("a", "b"))[0]
    assert "COLLATE utf8mb4_bin" in endpoint("mysql", key_type=KeyType.str).rows_sql(Range("a", "b"))[0]
    assert "Latin1_General_100_BIN2" in endpoint("mssql", key_type=KeyType.str).rows_sql(Range("a", "b"))[0]


def test_equal_width_integer_buckets_use_arithmetic_not_a_comparison_per_bucket() -> None:
    sql, params = endpoint("postgresql").summary_sql(split_int(Range(None, None), 64, 1, 1_000_000))
    assert sql.count(' WHEN "id" <') == 1 and "LEAST(" in sql and params["c0"] == 15626


def test_identifiers_must_be_plain() -> None:
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        Source("id; DROP TABLE x", ("a",), table="t")
