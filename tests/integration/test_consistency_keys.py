"""uuid, text and composite keys, and the escaping of the canonical text, on real databases:
PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306).

Each key kind is compared across engines with injected differences, and the range queries a
comparison sends below its first level are EXPLAINed: served by the primary key's index (an Index
Scan on PostgreSQL, a `range` access on MariaDB), never a full scan, unless the two sides sort the
key differently, which the comparison then says.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.support.services import require_service
from vigil.consistency.compare import Comparison, Options, Tally
from vigil.consistency.connect import connect
from vigil.consistency.model import FieldType, KeyType, Range, canonical_text, split_at, split_uuid
from vigil.consistency.sql import Source, SqlEndpoint, fetch_all
from vigil.consistency.stream import Record, ScanEndpoint, Shape

pytestmark = pytest.mark.service

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIA_URL = "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"
SCHEMA = "vigil_keys"
ROWS = 20_000
FIELDS = ("name", "amount")
TYPES = (FieldType.parse("text"), FieldType.parse("decimal(2)"))
# Text keys that sort differently by code point, in English and case-insensitively.
PREFIXES = ["a", "B", "é", "e\u0301", "مرحبا", "👍🏽", "_x", "Z", "z"]


def uuid_of(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"row/{i}"))


def text_of(i: int) -> str:
    return f"{PREFIXES[i % len(PREFIXES)]}{i:05d}" + (" " if i % 13 == 0 else "")  # some trailing spaces


def composite_of(i: int) -> tuple[int, str]:
    return (i % 20, f"{PREFIXES[i % len(PREFIXES)]}-{i // 20:04d}")


def row(key: Any, i: int) -> dict[str, Any]:
    return {"k": key, "name": None if i % 50 == 0 else f"row {i} été مرحبا 👍🏽", "amount": Decimal(i % 997) / 4}


# Injected in every target: missing, changed and extra rows, by row number.
MISSING, CHANGED, EXTRA = (11, 5_000, 19_999), (12, 7_777, 15_000), (ROWS + 1, ROWS + 2)


def source_rows(key_of: Any) -> list[dict[str, Any]]:
    return [row(key_of(i), i) for i in range(ROWS)]


def target_rows(key_of: Any, spell: Any = None) -> list[dict[str, Any]]:
    rows = []
    for i in [*range(ROWS), *EXTRA]:
        if i in MISSING:
            continue
        r = row(key_of(i), i) | ({"name": "changed"} if i in CHANGED else {})
        rows.append(r | ({"k": spell(r["k"], i)} if spell else {}))
    return rows


def expected(key_of: Any) -> set[str]:
    return (
        {f"missing: {key_of(i)}" for i in MISSING}
        | {f"changed: {key_of(i)}" for i in CHANGED}
        | {f"extra: {key_of(i)}" for i in EXTRA}
    )


def create(engine: Engine, table: str, columns: str, rows: list[dict[str, Any]], key: str = "k") -> None:
    amount = "NUMERIC(12, 2)" if engine.dialect.name == "postgresql" else "DECIMAL(12, 2)"
    name = "TEXT" if engine.dialect.name == "postgresql" else "VARCHAR(100)"
    charset = "" if engine.dialect.name == "postgresql" else " DEFAULT CHARSET=utf8mb4"
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(
            text(f"CREATE TABLE {table} ({columns}, name {name}, amount {amount}, PRIMARY KEY ({key})){charset}")
        )
        if rows:
            names = ", ".join(rows[0])
            conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in rows[0])})"), rows)
        conn.execute(text(f"ANALYZE {table}" if engine.dialect.name == "postgresql" else f"ANALYZE TABLE {table}"))


def split_composite(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"tenant": r["k"][0], "code": r["k"][1], "name": r["name"], "amount": r["amount"]} for r in rows]


@pytest.fixture(scope="module")
def pg() -> Iterator[Engine]:
    require_service("PostgreSQL", "127.0.0.1", 5432, "start PostgreSQL on 127.0.0.1:5432 (CI: .ci/services)")
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    s = SCHEMA
    create(admin, f"{s}.uuids", "k UUID", source_rows(uuid_of))
    create(admin, f"{s}.uuids_copy", "k UUID", target_rows(uuid_of))
    create(admin, f"{s}.texts", 'k TEXT COLLATE "C"', source_rows(text_of))
    create(admin, f"{s}.texts_icu", 'k TEXT COLLATE "en-US-x-icu"', source_rows(text_of))
    create(admin, f"{s}.texts_icu_copy", 'k TEXT COLLATE "en-US-x-icu"', target_rows(text_of))
    # The same, with an index on the key in code point order: what serves the cast when sides disagree.
    create(admin, f"{s}.texts_icu_indexed", 'k TEXT COLLATE "en-US-x-icu"', source_rows(text_of))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE INDEX texts_icu_codepoint ON {s}.texts_icu_indexed ((k COLLATE "C"))'))
        conn.execute(text(f"ANALYZE {s}.texts_icu_indexed"))
    create(admin, f"{s}.uuids_empty", "k UUID", [])
    create(admin, f"{s}.ints", "k BIGINT", [row(i, i) for i in range(1, 301)])
    create(admin, f"{s}.ints_empty", "k BIGINT", [])
    comp = 'tenant INTEGER, code TEXT COLLATE "C"'
    create(admin, f"{s}.composite", comp, split_composite(source_rows(composite_of)), key="tenant, code")
    engine = connect(PG_URL, timeout=30)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
    admin.dispose()


MARIA_TABLES = ("vigil_keys_uuid", "vigil_keys_uuid_type", "vigil_keys_text", "vigil_keys_text_ci", "vigil_keys_comp")


@pytest.fixture(scope="module")
def maria() -> Iterator[Engine]:
    require_service("MariaDB", "127.0.0.1", 3306, "start MariaDB on 127.0.0.1:3306 (CI: .ci/services)")
    admin = create_engine(MARIA_URL)
    # CHAR(36) in a case-insensitive collation, some uuids written in capitals, and one that is none.
    uuids = [*target_rows(uuid_of, lambda k, i: k.upper() if i % 3 == 0 else k), row("not-a-uuid", 0)]
    create(admin, "vigil_keys_uuid", "k CHAR(36)", uuids)
    create(admin, "vigil_keys_uuid_type", "k UUID", target_rows(uuid_of))
    create(admin, "vigil_keys_text", "k VARCHAR(40) COLLATE utf8mb4_nopad_bin", target_rows(text_of))
    create(admin, "vigil_keys_text_ci", "k VARCHAR(40) COLLATE utf8mb4_general_ci", target_rows(text_of))
    comp = "tenant INT, code VARCHAR(40) COLLATE utf8mb4_nopad_bin"
    create(admin, "vigil_keys_comp", comp, split_composite(target_rows(composite_of)), key="tenant, code")
    engine = connect(MARIA_URL, timeout=30)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        for table in MARIA_TABLES:
            conn.execute(text(f"DROP TABLE {table}"))
    admin.dispose()


def side(engine: Engine, table: str, key_types: tuple[KeyType, ...], key: Any = "k", **kw: Any) -> SqlEndpoint:
    shape = Shape(key_types, TYPES)
    return SqlEndpoint(table, engine, Source(key, FIELDS, table=table), shape, **kw)


def run(source: Any, target: Any, key_types: tuple[KeyType, ...]) -> tuple[Tally, set[str]]:
    found: list[str] = []
    options = Options(key_types=key_types, buckets=16, fanout=8, row_threshold=200)
    comparison = Comparison(source, target, options, lambda d: found.append(d.line()))
    try:
        tally = comparison.run()
    finally:
        comparison.close()
    assert len(found) == len(set(found)), found  # nothing reported twice
    return tally, set(found)


# -- EXPLAIN: what serves a range query ------------------------------------------------------------


def plans(endpoint: SqlEndpoint, rng: Range, children: list[Range]) -> list[str]:
    """The plans of a level's summary (its children's GROUP BY bucket) and of a row fetch."""
    found = []
    for sql, params, setup in (
        (*endpoint.summary_sql(children), endpoint.d.summary_setup()),
        (*endpoint.rows_sql(rng), []),
    ):
        rows = fetch_all(endpoint.engine, "EXPLAIN " + sql, params, setup=setup)
        if endpoint.engine.dialect.name == "postgresql":
            found.append("\n".join(r[0] for r in rows))
        else:
            found.append("; ".join(f"{r._mapping['type']} on {r._mapping['key']}" for r in rows))
    return found


def assert_index_served(endpoint: SqlEndpoint, rng: Range, children: list[Range]) -> None:
    for plan in plans(endpoint, rng, children):
        if endpoint.engine.dialect.name == "postgresql":
            assert "Seq Scan" not in plan and "Index" in plan and "_pkey" in plan, plan
        else:
            assert plan == "range on PRIMARY", plan


def uuid_bucket() -> tuple[Range, list[Range]]:
    lo, hi = "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"
    rng = split_uuid(Range(None, None), 64, lo, hi)[20]  # a bucket of a deeper level: 1/64 of the keys
    return rng, split_uuid(rng, 8, lo, hi)


# -- uuid keys ----------------------------------------------------------------------------------------


def test_uuid_keys_postgresql_uuid_against_mariadb_char36(pg: Engine, maria: Engine) -> None:
    source = side(pg, f"{SCHEMA}.uuids", (KeyType.uuid,))
    target = side(maria, "vigil_keys_uuid", (KeyType.uuid,))
    tally, found = run(source, target, (KeyType.uuid,))
    assert found == expected(uuid_of) | {"invalid_key in target: 'not-a-uuid'"}
    assert tally.key_order == []  # both sort by the uuid's value: natively, with their indexes
    rng, children = uuid_bucket()
    assert_index_served(source, rng, children)
    assert_index_served(target, rng, children)


def test_uuid_keys_postgresql_pair_with_the_native_hash(pg: Engine) -> None:
    source = side(pg, f"{SCHEMA}.uuids", (KeyType.uuid,), fast_hash=True)
    target = side(pg, f"{SCHEMA}.uuids_copy", (KeyType.uuid,), fast_hash=True)
    assert 'hashtextextended(CAST("k" AS TEXT), 0)' in source.summary_sql([Range(None, None)])[0]
    _, found = run(source, target, (KeyType.uuid,))
    assert found == expected(uuid_of)


@pytest.mark.parametrize(("table", "key_type", "rows"), [("uuids", KeyType.uuid, ROWS), ("ints", KeyType.int, 300)])
def test_an_empty_side_compares_without_knowing_its_key_column(
    pg: Engine, table: str, key_type: KeyType, rows: int
) -> None:
    # No row to read the column's type from: nothing typed is applied to it (no regex on a uuid
    # or bigint column), and every key of the other side is missing from it.
    empty = side(pg, f"{SCHEMA}.{table}_empty", (key_type,))
    assert empty.key_orders() == (None,)
    tally, _ = run(side(pg, f"{SCHEMA}.{table}", (key_type,)), empty, (key_type,))
    assert tally.counts == {"missing": rows} and tally.key_order == []


def test_mariadb_uuid_type_sorts_its_own_way_and_is_read_as_text(pg: Engine, maria: Engine) -> None:
    # MariaDB's UUID type orders by its last group first: bucketing it natively beside PostgreSQL's
    # uuid would put keys in different buckets on the two sides.
    source = side(pg, f"{SCHEMA}.uuids", (KeyType.uuid,))
    target = side(maria, "vigil_keys_uuid_type", (KeyType.uuid,))
    assert target.key_orders() == ("mysql:uuid-type",)
    tally, found = run(source, target, (KeyType.uuid,))
    assert found == expected(uuid_of)
    (reason,) = tally.key_order
    assert "mysql:uuid-type" in reason and "the target through a cast" in reason
    rng, children = uuid_bucket()
    assert_index_served(source, rng, children)  # PostgreSQL keeps its index
    assert all("range" not in plan for plan in plans(target, rng, children))  # the cast: a full read


# -- text keys ------------------------------------------------------------------------------------


def text_bucket(endpoint: SqlEndpoint) -> tuple[Range, list[Range]]:
    cuts = endpoint.quantiles(Range(None, None), 64)
    rng = split_at(Range(None, None), cuts)[30]
    return rng, split_at(rng, endpoint.quantiles(rng, 8))


def test_text_keys_in_code_point_collations_on_both_engines(pg: Engine, maria: Engine) -> None:
    source = side(pg, f"{SCHEMA}.texts", (KeyType.str,))
    target = side(maria, "vigil_keys_text", (KeyType.str,))
    assert source.key_orders() == target.key_orders() == ("codepoint",)
    tally, found = run(source, target, (KeyType.str,))
    assert found == expected(text_of) and tally.key_order == []
    rng, children = text_bucket(source)
    assert_index_served(source, rng, children)
    assert_index_served(target, rng, children)


def test_text_keys_in_one_collation_on_both_sides_compare_natively(pg: Engine) -> None:
    # English order (case and accents second) on both sides: buckets cut in it, served by the index.
    source = side(pg, f"{SCHEMA}.texts_icu", (KeyType.str,))
    target = side(pg, f"{SCHEMA}.texts_icu_copy", (KeyType.str,))
    assert source.key_orders() == ("postgresql:en-US-x-icu",)
    tally, found = run(source, target, (KeyType.str,))
    assert found == expected(text_of) and tally.key_order == []
    cuts = source.quantiles(Range(None, None), 8)
    assert cuts != sorted(cuts)  # cut in English order, which is not Python's
    rng, children = text_bucket(source)
    assert_index_served(source, rng, children)


def test_text_keys_in_collations_that_disagree_fall_back_to_code_points_and_say_so(pg: Engine, maria: Engine) -> None:
    source = side(pg, f"{SCHEMA}.texts_icu", (KeyType.str,))
    target = side(maria, "vigil_keys_text_ci", (KeyType.str,))
    tally, found = run(source, target, (KeyType.str,))
    assert found == expected(text_of)  # trailing spaces, case and accents all told apart
    (reason,) = tally.key_order
    assert "postgresql:en-US-x-icu" in reason and "mysql:utf8mb4_general_ci" in reason
    rng, children = text_bucket(side(pg, f"{SCHEMA}.texts", (KeyType.str,)))
    assert all("Seq Scan" in plan for plan in plans(source, rng, children))  # what the cast costs
    # An index on the key in code point order serves the cast.
    indexed = side(pg, f"{SCHEMA}.texts_icu_indexed", (KeyType.str,))
    tally, found = run(indexed, target, (KeyType.str,))
    assert found == expected(text_of) and len(tally.key_order) == 1
    for plan in plans(indexed, rng, children):
        assert "Seq Scan" not in plan and "texts_icu_codepoint" in plan, plan


# -- composite keys -------------------------------------------------------------------------------


def test_composite_keys_across_engines(pg: Engine, maria: Engine) -> None:
    key_types = (KeyType.int, KeyType.str)
    source = side(pg, f"{SCHEMA}.composite", key_types, key=("tenant", "code"))
    target = side(maria, "vigil_keys_comp", key_types, key=("tenant", "code"))
    tally, found = run(source, target, key_types)
    assert found == expected(composite_of) and tally.key_order == []
    cuts = source.quantiles(Range(None, None), 16)
    rng = split_at(Range(None, None), cuts)[5]
    children = split_at(rng, source.quantiles(rng, 4))
    assert isinstance(rng.lo, tuple) and isinstance(children[1].lo, tuple)
    assert_index_served(source, rng, children)
    assert_index_served(target, rng, children)
    # PostgreSQL compares the row value in the index itself.
    conditions = [line for line in plans(source, rng, children)[1].splitlines() if "Index Cond" in line]
    assert any("ROW(tenant, code) >= ROW(" in c and "ROW(tenant, code) < ROW(" in c for c in conditions), conditions


# -- escaping: NULL and the marker characters, byte for byte on both engines and in Python ------------

ESCAPE_CASES: list[tuple[list[Any], list[Any], bool]] = [
    ([None, "x"], ["\x1e", "x"], True),  # NULL against the NULL marker's character
    ([None, "x"], ["", "x"], True),  # NULL against the empty string
    (["a\x1fb", "c"], ["a", "b\x1fc"], True),  # the separator inside a value
    (["\x1d1", "y"], ["\x1f", "y"], True),  # the escape's own output written by hand
    (["café", "x"], ["cafe\u0301", "x"], True),  # precomposed against combining: other bytes
    (["مرحبا بالعالم", "👍🏽 e\u0301"], ["مرحبا بالعالم", "👍🏽 e\u0301"], False),  # Arabic, emoji, combining
    (["\x1e", None], ["\x1e", None], False),
    ([None, None], [None, None], False),
]
ESCAPE_TYPES = (FieldType.parse("text"), FieldType.parse("text"))


@pytest.fixture(scope="module")
def escapes(pg: Engine, maria: Engine) -> dict[str, Engine]:
    for engine, name in ((pg, f"{SCHEMA}.esc"), (maria, "vigil_keys_esc")):
        admin = create_engine(engine.url.render_as_string(hide_password=False))
        text_type = "TEXT" if engine.dialect.name == "postgresql" else "VARCHAR(40) CHARACTER SET utf8mb4"
        for suffix, pick in (("_s", 0), ("_t", 1)):
            rows = [{"id": i, "a": case[pick][0], "b": case[pick][1]} for i, case in enumerate(ESCAPE_CASES)]
            with admin.begin() as conn:
                conn.execute(text(f"DROP TABLE IF EXISTS {name}{suffix}"))
                conn.execute(text(f"CREATE TABLE {name}{suffix} (id INT PRIMARY KEY, a {text_type}, b {text_type})"))
                conn.execute(text(f"INSERT INTO {name}{suffix} VALUES (:id, :a, :b)"), rows)
        admin.dispose()
    yield {"pg": pg, "maria": maria}
    with create_engine(MARIA_URL).begin() as conn:
        conn.execute(text("DROP TABLE vigil_keys_esc_s"))
        conn.execute(text("DROP TABLE vigil_keys_esc_t"))


def esc_side(engine: Engine, suffix: str, fast_hash: bool = False) -> SqlEndpoint:
    table = f"{SCHEMA}.esc{suffix}" if engine.dialect.name == "postgresql" else f"vigil_keys_esc{suffix}"
    return SqlEndpoint(
        table, engine, Source("id", ("a", "b"), table=table), Shape((KeyType.int,), ESCAPE_TYPES), fast_hash
    )


def as_bytes(text: str | bytes) -> bytes:
    """The canonical text as the database built it (MariaDB escapes, so builds it, as bytes)."""
    return text if isinstance(text, bytes) else text.encode()


def esc_records(pick: int) -> list[Record]:
    return [Record(i, list(case[pick])) for i, case in enumerate(ESCAPE_CASES)]


CHANGED_IDS = {f"changed: {i}" for i, case in enumerate(ESCAPE_CASES) if case[2]}


@pytest.mark.parametrize("engine_name", ["pg", "maria"])
def test_sql_canonical_text_with_markers_and_unicode_equals_python_byte_for_byte(
    escapes: dict[str, Engine], engine_name: str
) -> None:
    engine = escapes[engine_name]
    for suffix, pick in (("_s", 0), ("_t", 1)):
        ep = esc_side(engine, suffix)
        got = dict(fetch_all(engine, f"SELECT id, {ep.canonical_sql()} FROM {ep._from}"))
        for i, case in enumerate(ESCAPE_CASES):
            want = canonical_text(i, list(case[pick]), list(ESCAPE_TYPES))
            assert as_bytes(got[i]) == want.encode(), (engine_name, i, got[i], want)


@pytest.mark.parametrize(
    ("source", "target"),
    [("pg", "maria"), ("maria", "pg"), ("pg", "python"), ("python", "maria"), ("pg-fast", "pg-fast")],
)
def test_null_markers_and_unicode_compare_the_same_on_every_pairing(
    escapes: dict[str, Engine], source: str, target: str
) -> None:
    def endpoint(kind: str, suffix: str, pick: int) -> Any:
        if kind == "python":
            return ScanEndpoint("python", Shape((KeyType.int,), ESCAPE_TYPES), lambda: iter(esc_records(pick)))
        return esc_side(escapes[kind.removesuffix("-fast")], suffix, fast_hash=kind.endswith("-fast"))

    _, found = run(endpoint(source, "_s", 0), endpoint(target, "_t", 1), (KeyType.int,))
    assert found == CHANGED_IDS
