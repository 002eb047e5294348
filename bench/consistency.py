"""Kind `consistency` at scale: vigil's comparison beside reladiff, same data, same machine, same run.

Builds a results table of N rows (generate_series) in two PostgreSQL databases (vigil_bench_src,
vigil_bench_dst) or in PostgreSQL and MariaDB (database vigil_bench_dst), injects 0, 10 and 10,000
differences into the target (a third each: deleted, changed, extra), and runs each tool in its own
child process: wall time, rows per second, peak RSS (the child's getrusage high-water mark) and the
differences found. Bench data is dropped at the end (unless --keep). Prints figures only.

--key int: a bigint key, the table as it always was. --key uuid: a uuid primary key (PostgreSQL
uuid, MariaDB CHAR(36)), random order (MD5 of the row number); --key text: a text primary key of
33 letters and digits, in random order too, collated by code point ("C", utf8mb4_nopad_bin). Both
have NULLs (name every 50th row, amount every 70th) and non-ASCII text (accents, Arabic, an emoji
with a skin tone, a combining accent) in name; --key uuid-ascii and text-ascii keep the NULLs and
write ASCII names only (reladiff hashes non-ASCII text differently on PostgreSQL and MariaDB, and
reports those rows changed).

    .venv/bin/python bench/consistency.py --rows 1000000 10000000 --diffs 0 10 10000
    .venv/bin/python bench/consistency.py --key uuid text --rows 1000000
    .venv/bin/python bench/consistency.py --target mariadb --key uuid --rows 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
MARIA = "mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4"
SRC_DB, DST_DB = "vigil_bench_src", "vigil_bench_dst"
TABLE = "results"
FIELDS = ("campaign_id", "name", "amount", "updated_at")
TYPES = ("int", "text", "decimal(2)", "timestamp(6)")

PG_TABLE = (
    f"CREATE UNLOGGED TABLE {TABLE} (id BIGINT NOT NULL, campaign_id INTEGER NOT NULL, name TEXT NOT NULL, "
    "amount NUMERIC(12, 2) NOT NULL, updated_at TIMESTAMPTZ NOT NULL)"
)
PG_FILL = (
    f"INSERT INTO {TABLE} SELECT i, i % 1000, 'placement ' || i, (i * 37 % 100000) / 100.0, "
    "TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 second' FROM generate_series(CAST(:lo AS BIGINT), CAST(:hi AS BIGINT)) i"
)
MARIA_TABLE = (
    f"CREATE TABLE {TABLE} (id BIGINT NOT NULL, campaign_id INT NOT NULL, name VARCHAR(64) NOT NULL, "
    "amount DECIMAL(12, 2) NOT NULL, updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB"
)
MARIA_FILL = (
    f"INSERT INTO {TABLE} SELECT seq, seq % 1000, CONCAT('placement ', seq), (seq * 37 % 100000) / 100.0, "
    "TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_{lo}_to_{hi}"
)

# uuid and text keys: the key is derived from the row number i (MD5 of 'r' || i), so differences
# are injected by i; NULLs and non-ASCII text in the compared fields.
UNICODE = " été مرحبا 👍🏽 e\u0301"  # accents, Arabic, emoji + skin tone, a combining accent
PG_KEY = {"uuid": "CAST(MD5('r' || i) AS UUID)", "text": "'k' || MD5('r' || i)"}
PG_KEY_TYPE = {"uuid": "UUID", "text": 'TEXT COLLATE "C"'}
MARIA_DIGITS = "MD5(CONCAT('r', seq))"
MARIA_KEY = {
    "uuid": "CONCAT_WS('-', "
    + ", ".join(f"SUBSTR({MARIA_DIGITS}, {a}, {n})" for a, n in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12)))
    + ")",
    "text": f"CONCAT('k', {MARIA_DIGITS})",
}
MARIA_KEY_TYPE = {"uuid": "CHAR(36)", "text": "VARCHAR(40) COLLATE utf8mb4_nopad_bin"}
PG_KEYED_TABLE = (
    f"CREATE UNLOGGED TABLE {TABLE} (id {{key_type}} NOT NULL, campaign_id INTEGER NOT NULL, name TEXT, "
    "amount NUMERIC(12, 2), updated_at TIMESTAMPTZ NOT NULL)"
)
PG_KEYED_FILL = (
    f"INSERT INTO {TABLE} SELECT {{key}}, i % 1000, CASE WHEN i % 50 <> 0 THEN 'placement ' || i || :unicode END, "
    "CASE WHEN i % 70 <> 0 THEN (i * 37 % 100000) / 100.0 END, "
    "TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 second' FROM generate_series(CAST(:lo AS BIGINT), CAST(:hi AS BIGINT)) i"
)
MARIA_KEYED_TABLE = (
    f"CREATE TABLE {TABLE} (id {{key_type}} NOT NULL, campaign_id INT NOT NULL, name VARCHAR(80), "
    "amount DECIMAL(12, 2), updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
)
MARIA_KEYED_FILL = (
    f"INSERT INTO {TABLE} SELECT {{key}}, seq % 1000, CASE WHEN seq % 50 <> 0 THEN CONCAT('placement ', seq, :unicode) END, "
    "CASE WHEN seq % 70 <> 0 THEN (seq * 37 % 100000) / 100.0 END, "
    "TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_{lo}_to_{hi}"
)


def kind(key: str) -> str:
    """The key's type: uuid-ascii is the uuid table with ASCII names."""
    return key.removesuffix("-ascii")


def suffix(key: str) -> str:
    return "" if key.endswith("-ascii") else UNICODE


def key_of(i: int, key: str) -> int | str:
    """The key of generated row i, as the fill statements write it."""
    if key == "int":
        return i
    digits = hashlib.md5(f"r{i}".encode()).hexdigest()
    if kind(key) == "text":
        return "k" + digits
    return "-".join(digits[a : a + n] for a, n in ((0, 8), (8, 4), (12, 4), (16, 4), (20, 12)))


def engine(url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    # No pool: a pooled connection left open would block DROP DATABASE.
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def sql(url: str, *statements: str, **params: Any) -> None:
    from sqlalchemy import text

    with engine(url).connect() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def build(rows: int, target: str, key: str) -> None:
    admin = PG.format(db="postgres")
    for db in (SRC_DB, DST_DB) if target == "postgresql" else (SRC_DB,):
        sql(admin, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}")
        sql(PG.format(db=db), PG_TABLE if key == "int" else PG_KEYED_TABLE.format(key_type=PG_KEY_TYPE[kind(key)]))
        for lo in range(1, rows + 1, 1_000_000):  # in slices: one statement's memory stays small
            fill(PG.format(db=db), "postgresql", key, lo, min(rows, lo + 999_999))
        sql(PG.format(db=db), f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)", f"VACUUM ANALYZE {TABLE}")
    if target == "mariadb":
        sql(MARIA.format(db="test"), f"DROP DATABASE IF EXISTS {DST_DB}", f"CREATE DATABASE {DST_DB}")
        sql(
            MARIA.format(db=DST_DB),
            MARIA_TABLE if key == "int" else MARIA_KEYED_TABLE.format(key_type=MARIA_KEY_TYPE[kind(key)]),
        )
        for lo in range(1, rows + 1, 1_000_000):
            fill(MARIA.format(db=DST_DB), "mariadb", key, lo, min(rows, lo + 999_999))
        sql(MARIA.format(db=DST_DB), f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)", f"ANALYZE TABLE {TABLE}")


def dst_url(target: str) -> str:
    return (PG if target == "postgresql" else MARIA).format(db=DST_DB)


def injected(rows: int, diffs: int) -> dict[str, list[int]]:
    """Which ids each kind of difference touches: spread evenly over the key range."""
    step = rows // (diffs + 1)
    ids = [step * (i + 1) for i in range(diffs)]
    return {
        "missing": ids[0::3],
        "changed": ids[1::3],
        "extra": [rows + 1 + i for i in range(len(ids[2::3]))],
    }


def _in(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)  # integers we generated: safe to inline


def _keys_in(ids: list[int], key: str) -> str:
    return ", ".join(repr(key_of(i, key)) for i in ids)  # digits and hex letters we generated: safe to inline


def inject(rows: int, diffs: int, target: str, key: str) -> dict[str, list[int]]:
    touched = injected(rows, diffs)
    url = dst_url(target)
    if touched["missing"]:
        sql(url, f"DELETE FROM {TABLE} WHERE id IN ({_keys_in(touched['missing'], key)})")
    if touched["changed"]:
        sql(url, f"UPDATE {TABLE} SET name = 'changed' WHERE id IN ({_keys_in(touched['changed'], key)})")
    if touched["extra"]:
        fill(url, target, key, touched["extra"][0], touched["extra"][-1])
    return touched


def fill(url: str, target: str, key: str, lo: int, hi: int, only: list[int] | None = None) -> None:
    """Rows lo..hi as the generator writes them (only some row numbers of them, when given)."""
    if target == "postgresql":
        where = f" WHERE i IN ({_in(only)})" if only else ""
        if key == "int":
            sql(url, PG_FILL + where, lo=lo, hi=hi)
        else:
            sql(url, PG_KEYED_FILL.format(key=PG_KEY[kind(key)]) + where, lo=lo, hi=hi, unicode=suffix(key))
    else:
        where = f" WHERE seq IN ({_in(only)})" if only else ""
        if key == "int":
            sql(url, MARIA_FILL.format(lo=lo, hi=hi) + where)
        else:
            statement = (
                MARIA_KEYED_FILL.replace("{key}", MARIA_KEY[kind(key)])
                .replace("{lo}", str(lo))
                .replace("{hi}", str(hi))
            )
            sql(url, statement + where, unicode=suffix(key))


def revert(rows: int, touched: dict[str, list[int]], target: str, key: str) -> None:
    url = dst_url(target)
    if touched["extra"]:
        sql(url, f"DELETE FROM {TABLE} WHERE id IN ({_keys_in(touched['extra'], key)})")
    restore = touched["missing"] + touched["changed"]
    if restore:
        sql(url, f"DELETE FROM {TABLE} WHERE id IN ({_keys_in(restore, key)})")
        fill(url, target, key, min(restore), max(restore), only=restore)


# -- the tools, each in its own process (so peak RSS is its own) -------------------------------------


def run_vigil(target: str, key: str) -> dict[str, Any]:
    from vigil.consistency.compare import Comparison, Options
    from vigil.consistency.connect import connect
    from vigil.consistency.model import FieldType, KeyType
    from vigil.consistency.sql import Source, SqlEndpoint
    from vigil.consistency.stream import Shape

    key_types = ({"int": KeyType.int, "uuid": KeyType.uuid, "text": KeyType.str}[kind(key)],)
    shape = Shape(key_types, tuple(FieldType.parse(t) for t in TYPES), datetime.now(UTC))
    same = target == "postgresql"
    source = Source(key="id", columns=FIELDS, table=TABLE)
    ends = [
        SqlEndpoint(name, connect(url, timeout=600), source, shape, fast_hash=same)
        for name, url in (("source", PG.format(db=SRC_DB)), ("target", dst_url(target)))
    ]
    options = Options(key_types=key_types, buckets=64, fanout=16, row_threshold=2000, workers=4)
    comparison = Comparison(*ends, options)
    tally = comparison.run()
    comparison.close()
    return {
        "missing": tally.counts["missing"],
        "extra": tally.counts["extra"],
        "changed": tally.counts["changed"],
        "key_order": tally.key_order,
    }


def run_reladiff(target: str, key: str) -> dict[str, Any]:
    from reladiff import Algorithm, connect_to_table, diff_tables

    def uri(db: str, kind: str) -> str:
        return (
            f"postgresql://postgres@127.0.0.1:5432/{db}"
            if kind == "postgresql"
            else f"mysql://root@127.0.0.1:3306/{db}"
        )

    # Two connections per database and a pool of twice that, as reladiff recommends.
    t1 = connect_to_table(uri(SRC_DB, "postgresql"), TABLE, "id", thread_count=2)
    t2 = connect_to_table(uri(DST_DB, target), TABLE, "id", thread_count=2)
    signs: dict[Any, set[str]] = {}
    # Sorting its output fails on a NULL in a changed row (TypeError comparing None with str): not
    # sorted where the table has NULLs.
    unsorted = key != "int"
    with diff_tables(
        t1, t2, extra_columns=FIELDS, algorithm=Algorithm.HASHDIFF, max_threadpool_size=4, skip_sort_results=unsorted
    ) as diff:
        for sign, row in diff:
            signs.setdefault(row[0], set()).add(sign)
    both = sum(1 for s in signs.values() if s == {"-", "+"})
    return {
        "missing": sum(1 for s in signs.values() if s == {"-"}),
        "extra": sum(1 for s in signs.values() if s == {"+"}),
        "changed": both,
    }


def child(tool: str, target: str, key: str) -> None:
    started = time.perf_counter()
    found = (run_vigil if tool == "vigil" else run_reladiff)(target, key)
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "peak_mb": peak_mb, **found}))


def measure(tool: str, target: str, key: str, timeout: float) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", tool, "--target", target, "--key", key],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout:.0f} s"}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["failed"]
        raised = [line for line in lines if re.match(r"^[\w.]+(Error|Exception)\b", line)]
        return {"error": (raised or lines)[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--diffs", type=int, nargs="+", default=[0, 10, 10_000])
    parser.add_argument("--target", choices=["postgresql", "mariadb"], default="postgresql")
    parser.add_argument("--tools", nargs="+", default=["vigil", "reladiff"])
    parser.add_argument(
        "--key", nargs="+", choices=["int", "uuid", "text", "uuid-ascii", "text-ascii"], default=["int"]
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds a tool may take for one case")
    parser.add_argument("--keep", action="store_true", help="leave the bench databases in place")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.target, args.key[0])
        return 0
    print(f"# reproduce: .venv/bin/python bench/consistency.py {' '.join(sys.argv[1:])}")
    print(f"<!-- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores -->")
    print(
        "| rows | key | target | diffs | tool | wall s | rows/s | peak MB | missing/changed/extra found | all found |"
    )
    print("|---:|---|---|---:|---|---:|---:|---:|---|---|")
    try:
        for key in args.key:
            for rows in args.rows:
                started = time.perf_counter()
                build(rows, args.target, key)
                print(
                    f"<!-- built {rows:,} {key}-key rows per side in {time.perf_counter() - started:.0f}s -->",
                    flush=True,
                )
                for diffs in args.diffs:
                    touched = inject(rows, diffs, args.target, key)
                    want = {k: len(v) for k, v in touched.items()}
                    for tool in args.tools:
                        load = os.getloadavg()[0]
                        got = measure(tool, args.target, key, args.timeout)
                        where = f"| {rows:,} | {key} | {args.target} | {diffs:,} | {tool} |"
                        if "error" in got:
                            print(f"{where} error: {got['error']} |", flush=True)
                            continue
                        found = {k: got[k] for k in want}
                        print(
                            f"{where} {got['wall_s']:.1f} | {rows / got['wall_s']:,.0f} | {got['peak_mb']:.0f} | "
                            f"{found['missing']}/{found['changed']}/{found['extra']} | {'yes' if found == want else 'NO'} |"
                            f" <!-- load {load:.2f} before -->",
                            flush=True,
                        )
                        for note in got.get("key_order") or []:
                            print(f"<!-- key order: {note} -->", flush=True)
                    revert(rows, touched, args.target, key)
    finally:
        if not args.keep:
            admin = PG.format(db="postgres")
            sql(admin, *(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)" for db in (SRC_DB, DST_DB)))
            if args.target == "mariadb":
                sql(MARIA.format(db="test"), f"DROP DATABASE IF EXISTS {DST_DB}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
