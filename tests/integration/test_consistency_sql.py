"""Kind `consistency` on real databases: PostgreSQL (127.0.0.1:5432) <-> MariaDB (127.0.0.1:3306),
and PostgreSQL <-> PostgreSQL with the engine-native hash.

The source is PostgreSQL with a bigint key; the MariaDB target stores ids as text (so integer and
string ids must compare equal, and a key that does not parse is reported), has no primary key (so
duplicates and a NULL key can exist) and holds zoneless UTC datetimes (so a timestamp written in
another zone compares equal, and a wall clock shifted by the zone offset is found as changed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.fixtures.consistency.data import EXPECTED, EXPECTED_COUNTS, FIELDS, LAG, TYPES, source_rows, target_rows
from tests.integration.test_consistency_keys import as_bytes
from tests.support.services import require_service
from vigil.consistency.compare import Comparison, Options, Tally
from vigil.consistency.connect import connect
from vigil.consistency.model import KeyType, Range, canonical_text
from vigil.consistency.sql import Source, SqlEndpoint
from vigil.consistency.stream import Shape

pytestmark = pytest.mark.service

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIA_URL = "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"
SCHEMA = "vigil_consistency"
START_HINT = {
    "PostgreSQL": "start PostgreSQL 15 on 127.0.0.1:5432 with trust auth and a database test (CI: .ci/services)",
    "MariaDB": "start MariaDB on 127.0.0.1:3306, root with an empty password, database test (CI: .ci/services)",
}


def require(name: str, port: int) -> None:
    require_service(name, "127.0.0.1", port, START_HINT[name])


def writable(url: str) -> Engine:
    from sqlalchemy import create_engine

    return create_engine(url)


def columns_sql(dialect: str, key_type: str) -> str:
    ts = "TIMESTAMPTZ" if dialect == "postgresql" else "DATETIME(6)"
    boolean = "BOOLEAN"
    return f"id {key_type}, name VARCHAR(100), budget DECIMAL(12, 2), starts_at {ts}, active {boolean}, updated_at {ts}"


def load(engine: Engine, table: str, key_type: str, rows: list[dict[str, Any]], primary_key: bool = False) -> None:
    naive = engine.dialect.name != "postgresql"
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        pk = ", PRIMARY KEY (id)" if primary_key else ""
        conn.execute(text(f"CREATE TABLE {table} ({columns_sql(engine.dialect.name, key_type)}{pk})"))
        if not primary_key:
            conn.execute(text(f"CREATE INDEX {table.replace('.', '_')}_id ON {table} (id)"))
        if naive:  # MariaDB DATETIME holds no zone: vigil's convention is UTC
            rows = [
                r | {k: r[k].astimezone(UTC).replace(tzinfo=None) for k in ("starts_at", "updated_at")} for r in rows
            ]
        conn.execute(text(f"INSERT INTO {table} VALUES (:id, :name, :budget, :starts_at, :active, :updated_at)"), rows)


@pytest.fixture(scope="module")
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def pg(now: datetime) -> Iterator[Engine]:
    require("PostgreSQL", 5432)
    admin = writable(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    load(admin, f"{SCHEMA}.campaigns", "BIGINT", source_rows(now), primary_key=True)
    load(admin, f"{SCHEMA}.campaigns_copy", "BIGINT", source_rows(now), primary_key=True)
    load(admin, f"{SCHEMA}.campaigns_pg", "BIGINT", target_rows(now, key_as_text=False))
    engine = connect(PG_URL, timeout=5)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="module")
def maria(now: datetime) -> Iterator[Engine]:
    require("MariaDB", 3306)
    admin = writable(MARIA_URL)
    load(admin, "vigil_campaigns_t", "VARCHAR(20)", target_rows(now, key_as_text=True))
    load(admin, "vigil_campaigns_same", "BIGINT", source_rows(now), primary_key=True)
    engine = connect(MARIA_URL, timeout=5)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text("DROP TABLE vigil_campaigns_t"))
        conn.execute(text("DROP TABLE vigil_campaigns_same"))
    admin.dispose()


def endpoint(engine: Engine, table: str, now: datetime, fast_hash: bool = False) -> SqlEndpoint:
    source = Source(key="id", columns=FIELDS, table=table, updated_at="updated_at")
    return SqlEndpoint(table, engine, source, Shape((KeyType.int,), TYPES, now - LAG), fast_hash=fast_hash)


def run(source: SqlEndpoint, target: SqlEndpoint, **options: Any) -> tuple[Tally, list[str]]:
    found: list[str] = []
    settings = {"buckets": 8, "fanout": 4, "row_threshold": 50} | options
    comparison = Comparison(source, target, Options(**settings), lambda d: found.append(d.line()))
    try:
        return comparison.run(), found
    finally:
        comparison.close()


def test_postgresql_to_mariadb_finds_every_injected_difference(pg: Engine, maria: Engine, now: datetime) -> None:
    tally, found = run(endpoint(pg, f"{SCHEMA}.campaigns", now), endpoint(maria, "vigil_campaigns_t", now))
    assert set(found) == EXPECTED and len(found) == len(EXPECTED)
    assert tally.counts == EXPECTED_COUNTS
    assert tally.mismatched_buckets < tally.buckets + 40  # drilled, not a full row-by-row download


def test_identical_data_across_engines_is_clean(pg: Engine, maria: Engine, now: datetime) -> None:
    tally, found = run(endpoint(pg, f"{SCHEMA}.campaigns", now), endpoint(maria, "vigil_campaigns_same", now))
    assert found == [] and tally.total == 0
    assert tally.source_rows == tally.target_rows == 2000  # the row inside the lag window is left out


def test_postgresql_pair_with_native_hash(pg: Engine, now: datetime) -> None:
    source = endpoint(pg, f"{SCHEMA}.campaigns", now, fast_hash=True)
    assert "hashint8extended" in source.summary_sql([Range(None, None)])[0]
    _tally, found = run(source, endpoint(pg, f"{SCHEMA}.campaigns_pg", now, fast_hash=True))
    assert set(found) == EXPECTED - {"invalid_key in target: 'abc'"}
    clean, _ = run(source, endpoint(pg, f"{SCHEMA}.campaigns_copy", now, fast_hash=True))
    assert clean.total == 0


def test_string_keys_bisect_by_quantiles_across_engines(pg: Engine, maria: Engine, now: datetime) -> None:
    # Keyed by name: code-point order on both engines (COLLATE "C", utf8mb4_bin) keeps buckets aligned.
    shape = Shape((KeyType.str,), TYPES[1:2])
    source = SqlEndpoint("s", pg, Source("name", ("budget",), table=f"{SCHEMA}.campaigns"), shape)
    target = SqlEndpoint("t", maria, Source("name", ("budget",), table="vigil_campaigns_t"), shape)
    _, found = run(source, target, key_types=(KeyType.str,))
    assert "missing: campaign 200 été ✓" in found and "extra: renamed" in found  # renamed row 200
    assert "changed: campaign 300 été ✓" in found and "missing: campaign 100 été ✓" in found
    assert "duplicate in target: campaign 400 été ✓ x2" in found


@pytest.mark.parametrize("engine_name", ["pg", "maria"])
def test_sql_canonical_text_equals_python_byte_for_byte(
    engine_name: str, request: pytest.FixtureRequest, now: datetime
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    table = f"{SCHEMA}.campaigns" if engine_name == "pg" else "vigil_campaigns_same"
    ep = endpoint(engine, table, now)
    expected = {r["id"]: canonical_text(r["id"], [r[f] for f in FIELDS], list(TYPES)) for r in source_rows(now)}
    with engine.connect() as conn:
        got = dict(
            conn.execute(text(f"SELECT id, {ep.canonical_sql()} FROM {ep._from} WHERE id IN (1, 3, 600, 2001)")).all()
        )
    assert got and all(as_bytes(got[k]) == expected[k].encode() for k in got), (got, {k: expected[k] for k in got})


# -- errors: sqlconn's wrapping, the password masked ----------------------------------------------

PASSWORD = "Sekr1t:p@ss/word"


def run_checker(monkeypatch: pytest.MonkeyPatch, source: dict[str, Any], secret: dict[str, Any]) -> dict[str, Any]:
    """The scheduled run end to end, with the secret handed over in place of Secrets Manager."""
    from vigil.checkers import consistency as checker
    from vigil.checkers import runner
    from vigil.spec.consistency import ConsistencyCheck

    require("PostgreSQL", 5432)
    check = ConsistencyCheck.model_validate(
        {
            "id": "pg-copy",
            "kind": "consistency",
            "service": "campaigns",
            "severity": "warning",
            "cadence": 3600,
            "source": {"type": "sql", "engine": "postgresql", **source},
            "source_secret": "pg",
            "target": {"type": "s3", "bucket": "exports", "prefix": "campaigns/", "format": "jsonl"},
            "key": {"column": "id"},
            "mode": "in_lambda",
            "timeout": 5,
        }
    )
    monkeypatch.setattr(runner, "resolver", lambda ids: lambda name: secret)
    return checker.handler(runner.make_event(check, {"pg": "vigil/test/pg"}), None)


def test_a_connect_error_echoing_the_password_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    # PostgreSQL trusts loopback (any password logs in): the server quotes the database name
    # instead, so a database named like the (wrong) password puts it in the driver's message.
    secret = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": PASSWORD, "dbname": PASSWORD}
    result = run_checker(monkeypatch, {"table": f"{SCHEMA}.campaigns"}, secret)

    assert (result["status"], result["reason_code"]) == ("failed", "connect"), result
    # vigil.sqlconn masks the host, the user and any address as well (kind sql's tests cover them).
    assert result["reason"].startswith("connect: ") and "***" in result["reason"]
    assert PASSWORD not in json.dumps(result) and "127.0.0.1" not in json.dumps(result)


def test_a_query_error_echoing_the_password_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    password = "Sekr1t-pass/word"  # no ':' here, which SQLAlchemy would read as a bind parameter
    secret = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": password, "dbname": "test"}
    # PostgreSQL quotes the text it could not cast: the password, if a query ever held it.
    result = run_checker(monkeypatch, {"query": f"SELECT CAST('{password}' AS integer) AS id"}, secret)

    assert (result["status"], result["reason_code"]) == ("failed", "query"), result
    assert "invalid input syntax" in result["reason"] and "***" in result["reason"]
    assert password not in json.dumps(result)
