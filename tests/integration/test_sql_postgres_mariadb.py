"""The sql checker against the real PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306).

Every test runs on both engines, on its own uniquely named table (dropped afterwards), written
through a separate admin connection (postgres, root) with timestamps from the database's own clock.
The checker connects as a login of its own that could write (it owns the tables, or holds ALL on
the test database) but holds no server privilege: read-only must hold even for a login that could
write, so writes sent through the checker, with the catalog's validation bypassed, must fail and
leave the table as it was. Privileged logins (superuser, FILE...) are refused before any query.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from moto import mock_aws

from tests.support.emf import metric_values, only_emf
from tests.support.http_server import closed_port
from tests.support.services import require_service
from vigil import secrets, sqlconn
from vigil.checkers import sql as checker
from vigil.checkers.runner import make_event
from vigil.result import CheckResult, Status
from vigil.spec.sql import EMPTY_TABLE_AGE, SqlCheck

pytestmark = pytest.mark.service

HOST = "127.0.0.1"
START = "start it with `bash .ci/services`"


# PostgreSQL here trusts loopback logins (any password); MariaDB checks it.
LOGIN_PASSWORD = "vigil-it-login"


@dataclass(frozen=True)
class Database:
    engine: str
    port: int
    admin_user: str
    sleep: str  # a SELECT that takes 5 seconds
    ago: str  # SQL for "now minus {n} minutes", formatted with n
    timestamp_type: str
    checker: str = ""  # the checker's login, created per module (see `db`)

    def secret(self, **change: Any) -> dict[str, Any]:
        login = {"username": self.checker, "password": LOGIN_PASSWORD}
        return {"host": HOST, "port": self.port, **login, "dbname": "test", **change}

    def admin(self) -> sa.Engine:
        driver = "postgresql+psycopg" if self.engine == "postgresql" else "mysql+pymysql"
        return sa.create_engine(f"{driver}://{self.admin_user}@{HOST}:{self.port}/test", poolclass=sa.pool.NullPool)

    def run_as_admin(self, *statements: str) -> None:
        engine = self.admin()
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
        engine.dispose()

    def create_login(self, name: str, *grants: str) -> None:
        """A login (PostgreSQL: a role with LOGIN), then each grant with {login} filled in."""
        create = (
            f"CREATE ROLE {name} LOGIN"
            if self.engine == "postgresql"
            else f"CREATE USER '{name}'@'%%' IDENTIFIED BY '{LOGIN_PASSWORD}'"
        )
        self.run_as_admin(create, *(grant.format(login=self.quoted(name)) for grant in grants))

    def drop_login(self, name: str) -> None:
        if self.engine == "postgresql":
            self.run_as_admin(f"DROP OWNED BY {name}", f"DROP ROLE {name}")
        else:
            self.run_as_admin(f"DROP USER '{name}'@'%%'")

    def quoted(self, login: str) -> str:
        return login if self.engine == "postgresql" else f"'{login}'@'%%'"

    def hand_over(self, table: str) -> None:
        """The checker's login owns the table (PostgreSQL; on MariaDB it holds ALL on the database)."""
        if self.engine == "postgresql":
            self.run_as_admin(f"ALTER TABLE {table} OWNER TO {self.checker}")


DATABASES = {
    "postgresql": Database(
        "postgresql", 5432, "postgres", "SELECT pg_sleep(5)", "now() - interval '{n} minutes'", "timestamptz"
    ),
    "mariadb": Database("mariadb", 3306, "root", "SELECT SLEEP(5)", "NOW() - INTERVAL {n} MINUTE", "DATETIME"),
}
# A login that may write to the test database and nothing beyond it.
WRITER_GRANTS = {
    "postgresql": ["GRANT CREATE ON SCHEMA public TO {login}"],
    "mariadb": ["GRANT ALL PRIVILEGES ON test.* TO {login}"],
}


def login_name(purpose: str) -> str:
    return f"vigil_it_{purpose}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module", params=list(DATABASES))
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    database = DATABASES[request.param]
    require_service(database.engine, HOST, database.port, START)
    checker_login = login_name("checker")
    database.create_login(checker_login, *WRITER_GRANTS[database.engine])
    yield dataclasses.replace(database, checker=checker_login)
    database.drop_login(checker_login)


@pytest.fixture
def table(db: Database) -> Iterator[str]:
    """An empty jobs table (status, finished_at), owned by the checker's login, dropped afterwards."""
    name = f"vigil_it_{uuid.uuid4().hex[:10]}"
    db.run_as_admin(f"CREATE TABLE {name} (id INT PRIMARY KEY, status VARCHAR(20), finished_at {db.timestamp_type})")
    db.hand_over(name)
    yield name
    db.run_as_admin(f"DROP TABLE IF EXISTS {name}")


def add_jobs(db: Database, table: str, *jobs: tuple[str, int]) -> None:
    """Jobs as (status, minutes ago)."""
    with db.admin().begin() as conn:
        for i, (status, minutes) in enumerate(jobs):
            conn.exec_driver_sql(
                f"INSERT INTO {table} VALUES ({i}, '{status}', {db.ago.format(n=minutes)})"  # test data, no input
            )


def rows_in(db: Database, table: str) -> int:
    with db.admin().connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())


def spec(db: Database, **fields: Any) -> SqlCheck:
    base = {"id": "campaign-jobs", "kind": "sql", "service": "campaign-db", "severity": "warning", "secret": "db"}
    return SqlCheck.model_validate({**base, "engine": db.engine, **fields})


def query_spec(db: Database, query: str, **fields: Any) -> SqlCheck:
    return spec(db, query=query, alarms={"value": {"threshold": 0}}, **fields)


def measure(db: Database, check: SqlCheck, **secret: Any) -> CheckResult:
    return checker.measure(check, lambda name: db.secret(**secret))


def failed_jobs_query(db: Database, table: str) -> str:
    return f"SELECT COUNT(*) FROM {table} WHERE status = 'failed' AND finished_at > {db.ago.format(n=60)}"


def test_failed_jobs_in_the_last_hour_end_to_end(db: Database, table: str, capsys: pytest.CaptureFixture[str]):
    add_jobs(db, table, ("failed", 5), ("failed", 50), ("failed", 180), ("done", 1))
    check = query_spec(db, failed_jobs_query(db, table))
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name="vigil/test/db", SecretString=json.dumps(db.secret()))
        secrets.clear_cache()
        result = checker.handler(make_event(check, {"db": "vigil/test/db"}))
        secrets.clear_cache()

    assert (result["status"], result["values"], result["reason"]) == ("ok", {"Value": 2.0}, None)
    assert metric_values(only_emf(capsys.readouterr().out)) == {"MeasureFailed": 0, "Value": 2}
    rule = check.rule("value")
    assert rule.comparison.breaches(result["values"]["Value"], rule.threshold)
    assert result["samples"] == [f"{db.engine}: {failed_jobs_query(db, table)}"]


def test_freshness_is_the_newest_rows_age(db: Database, table: str):
    add_jobs(db, table, ("done", 120), ("done", 30))
    result = measure(db, spec(db, freshness={"table": table, "column": "finished_at", "max_age": "1h"}))

    assert result.status is Status.ok
    assert 30 * 60 - 5 <= result.values["Value"] <= 30 * 60 + 60
    assert result.units == {"Value": "Seconds"}
    assert result.reason_code is None


def test_a_stale_table_says_how_old(db: Database, table: str):
    add_jobs(db, table, ("done", 90))
    result = measure(db, spec(db, freshness={"table": table, "column": "finished_at", "max_age": "1h"}))

    assert result.status is Status.ok
    assert result.values["Value"] > 3600
    assert result.reason_code == "stale"
    assert result.reason is not None and result.reason.startswith(f"stale: newest {table}.finished_at is 5")


def test_an_empty_table_is_stale_not_unmeasurable(db: Database, table: str):
    result = measure(db, spec(db, freshness={"table": table, "column": "finished_at", "max_age": "1h"}))

    assert (result.status, result.values, result.reason_code) == (Status.ok, {"Value": EMPTY_TABLE_AGE}, "empty")


WRITES = [
    "INSERT INTO {t} VALUES (99, 'failed', NULL)",
    "UPDATE {t} SET status = 'done'",
    "DELETE FROM {t}",
    "DROP TABLE {t}",
    "CREATE TABLE {t}_copy (id INT)",
    "ALTER TABLE {t} ADD COLUMN note VARCHAR(10)",
    "TRUNCATE TABLE {t}",
]


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.split()[0])
def test_writes_through_the_checker_fail(db: Database, table: str, write: str):
    add_jobs(db, table, ("failed", 5))
    # model_copy skips validation: the catalog's SELECT-only check is not what stops this.
    check = query_spec(db, "SELECT 1").model_copy(update={"query": write.format(t=table)})
    result = measure(db, check)

    assert (result.status, result.values) == (Status.failed, {})
    assert result.reason_code == "read-only", result.reason
    assert rows_in(db, table) == 1
    with db.admin().connect() as conn:
        assert [c["name"] for c in sa.inspect(conn).get_columns(table)] == ["id", "status", "finished_at"]
        assert not sa.inspect(conn).has_table(f"{table}_copy")


@pytest.mark.parametrize(
    "escape",
    [
        "SELECT 1; DELETE FROM {t}",
        "SELECT 1; COMMIT; DELETE FROM {t}",
        "SELECT 1; COMMIT; SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; COMMIT; DELETE FROM {t}",
        "SELECT 1; COMMIT; SET SESSION TRANSACTION READ WRITE; DELETE FROM {t}",
    ],
)
def test_a_second_statement_never_runs(db: Database, table: str, escape: str):
    add_jobs(db, table, ("failed", 5))
    check = query_spec(db, "SELECT 1").model_copy(update={"query": escape.format(t=table)})
    result = measure(db, check)

    assert result.status is Status.failed
    assert result.reason_code == "query", result.reason
    assert rows_in(db, table) == 1


def test_connect_readonly_refuses_writes_sent_any_way(db: Database, table: str):
    """The shared API (kind consistency uses it too): bound statements are read-only as well."""
    with pytest.raises(sqlconn.SqlError) as caught, sqlconn.connect_readonly(db.engine, db.secret(), 5) as conn:
        conn.execute(sa.text(f"INSERT INTO {table} VALUES (:id, :status, NULL)"), {"id": 1, "status": "x"})
    assert caught.value.code == "read-only"
    assert rows_in(db, table) == 0


def test_a_slow_query_is_cut_by_the_statement_timeout(db: Database):
    started = time.perf_counter()
    # A sleep stands in for a slow query; the catalog refuses sleeping, so it goes in past validation.
    result = measure(db, query_spec(db, "SELECT 1", timeout=1).model_copy(update={"query": db.sleep}))
    elapsed = time.perf_counter() - started

    assert (result.status, result.values, result.reason_code) == (Status.failed, {}, "timeout")
    assert elapsed < 4, f"the 5 s query ran {elapsed:.1f} s: not cut at the 1 s statement timeout"


def test_a_query_error_is_a_failure_with_the_databases_words(db: Database):
    result = measure(db, query_spec(db, "SELECT COUNT(*) FROM vigil_no_such_table"))

    assert (result.status, result.reason_code) == (Status.failed, "query")
    assert "vigil_no_such_table" in (result.reason or "")


def test_a_closed_port_is_a_connect_failure(db: Database):
    port = closed_port()
    result = measure(db, query_spec(db, "SELECT 1"), port=port)

    assert (result.status, result.values, result.reason_code) == (Status.failed, {}, "connect")
    assert (result.reason or "").startswith("connect: ")
    assert "refused" in (result.reason or "")
    assert HOST not in (result.reason or ""), "the host is masked"


PASSWORD = "Sekr1t:p@ss/word"


@pytest.fixture
def login(db: Database) -> Iterator[dict[str, str]]:
    """A login whose password is PASSWORD (PostgreSQL trusts loopback: any password logs in)."""
    if db.engine == "postgresql":
        yield {"username": db.checker, "password": PASSWORD}
        return
    user = f"vigil_it_{uuid.uuid4().hex[:8]}"
    db.run_as_admin(f"CREATE USER '{user}'@'%%' IDENTIFIED BY '{PASSWORD}'")
    yield {"username": user, "password": PASSWORD}
    db.run_as_admin(f"DROP USER '{user}'@'%%'")


def test_the_password_is_masked_where_the_driver_echoes_it(db: Database, login: dict[str, str]):
    # A database named like the password that the login may not use: both servers quote the name.
    result = measure(db, query_spec(db, "SELECT 1"), dbname=PASSWORD, **login)

    assert (result.status, result.reason_code) == (Status.failed, "connect")
    assert PASSWORD not in json.dumps(result.to_dict())
    assert "***" in (result.reason or "")


# PostgreSQL here trusts loopback logins: any password is accepted.
@pytest.mark.parametrize("db", ["mariadb"], indirect=True)
def test_a_wrong_password_is_refused_and_neither_it_nor_the_user_repeated(db: Database):
    result = measure(db, query_spec(db, "SELECT 1"), password=PASSWORD)

    assert (result.status, result.reason_code) == (Status.failed, "connect")
    assert "Access denied" in (result.reason or "")
    shown = json.dumps(result.to_dict())
    assert PASSWORD not in shown and db.checker not in shown and HOST not in shown


def test_a_password_inside_the_host_never_reaches_the_reason(db: Database):
    # A DSN pasted into the secret's host field: the driver quotes the host it cannot resolve.
    result = measure(db, query_spec(db, "SELECT 1"), host=f"admin:{PASSWORD}@db.vigil-it.invalid")

    assert (result.status, result.reason_code) == (Status.failed, "connect")
    shown = json.dumps(result.to_dict())
    for secret_part in (PASSWORD, "admin", "db.vigil-it.invalid", db.checker):
        assert secret_part not in shown, secret_part
    assert "***" in (result.reason or "")


# freshness.timezone: a column without a zone, read by a session whose time zone is UTC-5 (as a
# server behind UTC would be). The rows are written as wall-clock times, 30 minutes ago, in UTC
# or in UTC-5.
SESSION_ZONE = {"postgresql": "SET TIME ZONE 'America/Bogota'", "mariadb": "SET time_zone = '-05:00'"}
NAIVE_TYPE = {"postgresql": "timestamp", "mariadb": "DATETIME"}
HALF_HOUR_AGO = {
    ("postgresql", "utc"): "(now() AT TIME ZONE 'UTC') - interval '30 minutes'",
    ("postgresql", "local"): "(now() AT TIME ZONE 'America/Bogota') - interval '30 minutes'",
    ("mariadb", "utc"): "UTC_TIMESTAMP() - INTERVAL 30 MINUTE",
    ("mariadb", "local"): "CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', '-05:00') - INTERVAL 30 MINUTE",
}
FIVE_HOURS = 5 * 3600


@pytest.fixture
def behind_utc(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker's sessions run at UTC-5."""
    original = sqlconn.session_statements

    def shifted(engine: str, timeout: float, mariadb: bool = False) -> list[Any]:
        return [sa.text(SESSION_ZONE[db.engine]), *original(engine, timeout, mariadb)]

    monkeypatch.setattr(sqlconn, "session_statements", shifted)


@pytest.fixture
def naive_table(db: Database) -> Iterator[str]:
    name = f"vigil_it_{uuid.uuid4().hex[:10]}"
    db.run_as_admin(f"CREATE TABLE {name} (id INT PRIMARY KEY, written {NAIVE_TYPE[db.engine]})")
    db.hand_over(name)
    yield name
    db.run_as_admin(f"DROP TABLE IF EXISTS {name}")


def write_half_hour_ago(db: Database, table: str, zone: str) -> None:
    with db.admin().begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1, {HALF_HOUR_AGO[db.engine, zone]})")


def freshness(db: Database, table: str, timezone: str) -> SqlCheck:
    return spec(db, freshness={"table": table, "column": "written", "max_age": "1h", "timezone": timezone})


@pytest.mark.parametrize("zone", ["utc", "local"])
def test_a_column_read_in_its_own_zone_is_half_an_hour_old(
    db: Database, naive_table: str, behind_utc: None, zone: str
) -> None:
    write_half_hour_ago(db, naive_table, zone)
    result = measure(db, freshness(db, naive_table, zone))

    assert (result.status, result.reason_code) == (Status.ok, None), result.reason
    assert 30 * 60 - 5 <= result.values["Value"] <= 30 * 60 + 60


def test_a_local_column_read_as_utc_is_older_by_the_offset(db: Database, naive_table: str, behind_utc: None) -> None:
    write_half_hour_ago(db, naive_table, "local")
    result = measure(db, freshness(db, naive_table, "utc"))

    assert (result.status, result.reason_code) == (Status.ok, "stale")
    assert FIVE_HOURS + 30 * 60 - 5 <= result.values["Value"] <= FIVE_HOURS + 30 * 60 + 60


def test_a_utc_column_read_as_local_behind_utc_is_a_clock_failure_not_fresh(
    db: Database, naive_table: str, behind_utc: None
) -> None:
    # The review finding: SYSDATETIME()-style local clocks made a UTC column look hours younger;
    # here it even lands in the future, which must not pass as fresh.
    write_half_hour_ago(db, naive_table, "utc")
    result = measure(db, freshness(db, naive_table, "local"))

    assert (result.status, result.values, result.reason_code) == (Status.failed, {}, "clock")
    assert (result.reason or "").startswith(f"clock: newest {naive_table}.written is 1")
    assert "freshness.timezone is local: should it be utc?" in (result.reason or "")


# MariaDB has no zone-aware column type: this one is PostgreSQL's alone (not a skip: CI fails on skips).
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_zone_aware_column_is_right_whatever_the_session_zone(db: Database, table: str, behind_utc: None) -> None:
    add_jobs(db, table, ("done", 30))  # timestamptz
    for timezone in ("utc", "local"):
        result = measure(
            db, spec(db, freshness={"table": table, "column": "finished_at", "max_age": "1h", "timezone": timezone})
        )
        assert result.status is Status.ok, result.reason
        assert 30 * 60 - 5 <= result.values["Value"] <= 30 * 60 + 60, timezone


def test_a_cte_that_deletes_is_refused_by_the_catalog_and_by_the_database(db: Database, table: str) -> None:
    write = f"WITH x AS (SELECT 1) DELETE FROM {table}"
    with pytest.raises(ValueError, match="must only read: found DELETE"):
        query_spec(db, write)
    add_jobs(db, table, ("failed", 5))
    result = measure(db, query_spec(db, "SELECT 1").model_copy(update={"query": write}))

    assert result.status is Status.failed
    # PostgreSQL runs data-modifying CTEs and refuses the write; MariaDB has no WITH ... DELETE.
    assert result.reason_code == ("read-only" if db.engine == "postgresql" else "query"), result.reason
    assert rows_in(db, table) == 1


# -- privileged logins: refused at connect; what the boundary then holds back ------------------------

# Per engine: grants that make a login privileged, and the words the refusal must use.
PRIVILEGED_LOGINS = {
    "postgresql": [
        ("ALTER ROLE {login} SUPERUSER", "is a superuser"),
        ("GRANT pg_execute_server_program TO {login}", "pg_execute_server_program, which runs programs"),
        ("GRANT pg_write_server_files TO {login}", "pg_write_server_files, which writes files"),
        ("GRANT pg_read_server_files TO {login}", "pg_read_server_files, which reads any file"),
        ("GRANT pg_signal_backend TO {login}", "pg_signal_backend, which ends other sessions"),
    ],
    "mariadb": [
        ("GRANT FILE ON *.* TO {login}", "holds FILE on *.*, which reads and writes files"),
        ("GRANT SUPER ON *.* TO {login}", "holds SUPER on *.*"),
        ("GRANT PROCESS ON *.* TO {login}", "holds PROCESS on *.*"),
        ("GRANT ALL PRIVILEGES ON *.* TO {login}", "holds ALL PRIVILEGES on *.*"),
        ("GRANT CONNECTION ADMIN ON *.* TO {login}", "holds CONNECTION ADMIN on *.*"),
    ],
}


@pytest.fixture
def privileged(db: Database, request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, Any], str]]:
    """(secret of a login given one privileged grant, the words naming it), the login dropped afterwards."""
    grant, words = PRIVILEGED_LOGINS[db.engine][request.param]
    name = login_name("priv")
    db.create_login(name, *WRITER_GRANTS[db.engine], grant)
    yield db.secret(username=name), words
    db.drop_login(name)


@pytest.mark.parametrize("privileged", range(5), indirect=True)
def test_a_privileged_login_is_refused_before_the_query_runs(db: Database, privileged: tuple[dict, str]):
    secret, words = privileged
    # Were it run, this query would fail as "query" (no such table): the refusal comes first.
    check = query_spec(db, "SELECT COUNT(*) FROM vigil_no_such_table")
    result = checker.measure(check, lambda name: secret)

    assert (result.status, result.values, result.reason_code) == (Status.failed, {}, "privileged")
    assert words in (result.reason or "")
    assert "docs/catalog.md" in (result.reason or "")
    assert secret["username"] not in json.dumps(result.to_dict()), "the user is never named"


def test_the_admin_logins_themselves_are_refused(db: Database):
    secret = db.secret(username=db.admin_user, password="")
    with pytest.raises(sqlconn.SqlError) as caught, sqlconn.connect_readonly(db.engine, secret, 5):
        pass
    assert caught.value.code == "privileged"


@pytest.mark.parametrize("db", ["mariadb"], indirect=True)
def test_a_privilege_held_through_the_default_role_is_refused(db: Database):
    role, name = login_name("role"), login_name("member")
    db.run_as_admin(f"CREATE ROLE {role}", f"GRANT FILE ON *.* TO {role}")
    db.create_login(name, "GRANT SELECT ON test.* TO {login}", f"GRANT {role} TO {{login}}")
    db.run_as_admin(f"SET DEFAULT ROLE {role} FOR '{name}'@'%%'")
    try:
        result = checker.measure(query_spec(db, "SELECT 1"), lambda _: db.secret(username=name))
    finally:
        db.drop_login(name)
        db.run_as_admin(f"DROP ROLE {role}")

    assert (result.status, result.reason_code) == (Status.failed, "privileged")
    assert "holds FILE on *.*" in (result.reason or "")


# The read-only login of docs/catalog.md (sql): SELECT on what the checks read, nothing else.
READER_GRANTS = {
    "postgresql": ["GRANT USAGE ON SCHEMA public TO {login}", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {login}"],
    "mariadb": ["GRANT SELECT ON test.* TO {login}"],
}


def test_a_read_only_login_measures(db: Database, table: str):
    add_jobs(db, table, ("failed", 5), ("failed", 10))
    name = login_name("reader")
    db.create_login(name, *READER_GRANTS[db.engine])
    try:
        result = checker.measure(query_spec(db, failed_jobs_query(db, table)), lambda _: db.secret(username=name))
    finally:
        db.drop_login(name)

    assert (result.status, result.values, result.reason_code) == (Status.ok, {"Value": 2.0}, None), result.reason


# What a superuser ran inside the read-only transaction, now through the checker's own login: each
# fails on the login's privileges, and nothing happens on the server.
MARKER = f"/tmp/vigil-it-{uuid.uuid4().hex[:8]}"
ESCAPES = [
    ("postgresql", f"COPY (SELECT 1) TO PROGRAM 'touch {MARKER}'"),
    ("postgresql", f"SELECT lo_export(lo_from_bytea(0, 'x'), '{MARKER}')"),
    ("postgresql", "SELECT pg_read_file('/etc/hostname')"),
    ("postgresql", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'postgres'"),
    ("mariadb", f"SELECT 1 INTO OUTFILE '{MARKER}'"),
]


@pytest.mark.parametrize(("db", "statement"), ESCAPES, indirect=["db"], ids=[s.split("(")[0] for _, s in ESCAPES])
def test_what_a_superuser_got_past_read_only_fails_for_the_checker_login(db: Database, statement: str):
    admin = db.admin()
    with admin.connect() as watcher:  # pg_terminate_backend's target: it must survive
        result = measure(db, query_spec(db, "SELECT 1").model_copy(update={"query": statement}))
        assert watcher.exec_driver_sql("SELECT 1").scalar() == 1
    admin.dispose()

    assert result.status is Status.failed
    reason = (result.reason or "").lower()
    assert "permission denied" in reason or "must be" in reason or "access denied" in reason, result.reason
    assert not os.path.exists(MARKER)
