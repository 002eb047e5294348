"""Kind `consistency` at scale: vigil's comparison beside reladiff, same data, same machine, same run.

Builds a results table of N rows (generate_series) in two PostgreSQL databases (vigil_bench_src,
vigil_bench_dst) or in PostgreSQL and MariaDB (database vigil_bench_dst), injects 0, 10 and 10,000
differences into the target (a third each: deleted, changed, extra), and runs each tool in its own
child process: wall time, rows per second, peak RSS (the child's getrusage high-water mark) and the
differences found. Bench data is dropped at the end (unless --keep). Prints figures only.

    .venv/bin/python bench/consistency.py --rows 1000000 10000000 --diffs 0 10 10000
    .venv/bin/python bench/consistency.py --target mariadb --rows 1000000
"""

from __future__ import annotations

import argparse
import json
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


def build(rows: int, target: str) -> None:
    admin = PG.format(db="postgres")
    for db in (SRC_DB, DST_DB) if target == "postgresql" else (SRC_DB,):
        sql(admin, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}")
        sql(PG.format(db=db), PG_TABLE)
        for lo in range(1, rows + 1, 1_000_000):  # in slices: one statement's memory stays small
            fill(PG.format(db=db), "postgresql", lo, min(rows, lo + 999_999))
        sql(PG.format(db=db), f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)", f"VACUUM ANALYZE {TABLE}")
    if target == "mariadb":
        sql(MARIA.format(db="test"), f"DROP DATABASE IF EXISTS {DST_DB}", f"CREATE DATABASE {DST_DB}")
        sql(MARIA.format(db=DST_DB), MARIA_TABLE)
        for lo in range(1, rows + 1, 1_000_000):
            fill(MARIA.format(db=DST_DB), "mariadb", lo, min(rows, lo + 999_999))
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


def inject(rows: int, diffs: int, target: str) -> dict[str, list[int]]:
    touched = injected(rows, diffs)
    url = dst_url(target)
    if touched["missing"]:
        sql(url, f"DELETE FROM {TABLE} WHERE id IN ({_in(touched['missing'])})")
    if touched["changed"]:
        sql(url, f"UPDATE {TABLE} SET name = 'changed' WHERE id IN ({_in(touched['changed'])})")
    if touched["extra"]:
        fill(url, target, touched["extra"][0], touched["extra"][-1])
    return touched


def fill(url: str, target: str, lo: int, hi: int, only: list[int] | None = None) -> None:
    """Rows lo..hi as the generator writes them (only some ids of them, when given)."""
    if target == "postgresql":
        where = f" WHERE i IN ({_in(only)})" if only else ""
        sql(url, PG_FILL + where, lo=lo, hi=hi)
    else:
        where = f" WHERE seq IN ({_in(only)})" if only else ""
        sql(url, MARIA_FILL.format(lo=lo, hi=hi) + where)


def revert(rows: int, touched: dict[str, list[int]], target: str) -> None:
    url = dst_url(target)
    if touched["extra"]:
        sql(url, f"DELETE FROM {TABLE} WHERE id > :n", n=rows)
    restore = touched["missing"] + touched["changed"]
    if restore:
        sql(url, f"DELETE FROM {TABLE} WHERE id IN ({_in(restore)})")
        fill(url, target, min(restore), max(restore), only=restore)


# -- the tools, each in its own process (so peak RSS is its own) -------------------------------------


def run_vigil(target: str) -> dict[str, Any]:
    from vigil.consistency.compare import Comparison, Options
    from vigil.consistency.connect import connect
    from vigil.consistency.model import FieldType, KeyType
    from vigil.consistency.sql import Source, SqlEndpoint
    from vigil.consistency.stream import Shape

    shape = Shape(KeyType.int, tuple(FieldType.parse(t) for t in TYPES), datetime.now(UTC))
    same = target == "postgresql"
    source = Source(key="id", columns=FIELDS, table=TABLE)
    ends = [
        SqlEndpoint(name, connect(url, timeout=30), source, shape, fast_hash=same)
        for name, url in (("source", PG.format(db=SRC_DB)), ("target", dst_url(target)))
    ]
    comparison = Comparison(*ends, Options(buckets=64, fanout=16, row_threshold=2000, workers=4))
    tally = comparison.run()
    comparison.close()
    return {"missing": tally.counts["missing"], "extra": tally.counts["extra"], "changed": tally.counts["changed"]}


def run_reladiff(target: str) -> dict[str, Any]:
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
    with diff_tables(t1, t2, extra_columns=FIELDS, algorithm=Algorithm.HASHDIFF, max_threadpool_size=4) as diff:
        for sign, row in diff:
            signs.setdefault(row[0], set()).add(sign)
    both = sum(1 for s in signs.values() if s == {"-", "+"})
    return {
        "missing": sum(1 for s in signs.values() if s == {"-"}),
        "extra": sum(1 for s in signs.values() if s == {"+"}),
        "changed": both,
    }


def child(tool: str, target: str) -> None:
    started = time.perf_counter()
    found = (run_vigil if tool == "vigil" else run_reladiff)(target)
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "peak_mb": peak_mb, **found}))


def measure(tool: str, target: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", tool, "--target", target], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--diffs", type=int, nargs="+", default=[0, 10, 10_000])
    parser.add_argument("--target", choices=["postgresql", "mariadb"], default="postgresql")
    parser.add_argument("--tools", nargs="+", default=["vigil", "reladiff"])
    parser.add_argument("--keep", action="store_true", help="leave the bench databases in place")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.target)
        return 0
    print(f"# reproduce: .venv/bin/python bench/consistency.py {' '.join(sys.argv[1:])}")
    print("| rows | target | diffs | tool | wall s | rows/s | peak MB | missing/changed/extra found | all found |")
    print("|---:|---|---:|---|---:|---:|---:|---|---|")
    try:
        for rows in args.rows:
            started = time.perf_counter()
            build(rows, args.target)
            print(f"<!-- built {rows:,} rows per side in {time.perf_counter() - started:.0f}s -->", flush=True)
            for diffs in args.diffs:
                touched = inject(rows, diffs, args.target)
                want = {k: len(v) for k, v in touched.items()}
                for tool in args.tools:
                    got = measure(tool, args.target)
                    if "error" in got:
                        print(f"| {rows:,} | {args.target} | {diffs:,} | {tool} | error: {got['error']} |", flush=True)
                        continue
                    found = {k: got[k] for k in want}
                    print(
                        f"| {rows:,} | {args.target} | {diffs:,} | {tool} | {got['wall_s']:.1f} | "
                        f"{rows / got['wall_s']:,.0f} | {got['peak_mb']:.0f} | "
                        f"{found['missing']}/{found['changed']}/{found['extra']} | {'yes' if found == want else 'NO'} |",
                        flush=True,
                    )
                revert(rows, touched, args.target)
    finally:
        if not args.keep:
            admin = PG.format(db="postgres")
            sql(admin, *(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)" for db in (SRC_DB, DST_DB)))
            if args.target == "mariadb":
                sql(MARIA.format(db="test"), f"DROP DATABASE IF EXISTS {DST_DB}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
