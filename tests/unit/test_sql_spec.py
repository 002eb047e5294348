"""Kind `sql` catalog entries, the checker's pure result logic and vigil.sqlconn's pure parts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from vigil import sqlconn
from vigil.checkers.sql import CLOCK_SKEW_TOLERANCE, ClockMismatch, Unusable, freshness_verdict, number, scalar
from vigil.result import Status
from vigil.spec.sql import EMPTY_TABLE_AGE, Freshness, SqlCheck, query_problem

SETTINGS = {
    "contacts": {"oncall": {"email": "oncall@example.com"}},
    "routes": {"all": {"email": ["oncall"]}},
    "secrets": {"db": "vigil/campaign-db/readonly"},
    "self_monitoring_route": "all",
}
BASE = {"id": "jobs", "kind": "sql", "severity": "warning", "engine": "postgresql", "secret": "db"}
FAILED_JOBS = "SELECT count(*) FROM jobs WHERE status = 'failed' AND finished_at > now() - interval '1 hour'"


def check(**fields: object) -> SqlCheck:
    return SqlCheck.model_validate({**BASE, "service": "campaign-db", **fields})


def catalog_problems(tmp_path: Path, entry: dict, settings: dict = SETTINGS) -> list[str]:
    (tmp_path / "_settings.yaml").write_text(yaml.safe_dump(settings))
    (tmp_path / "campaign-db.yaml").write_text(
        yaml.safe_dump({"service": "campaign-db", "checks": [{**BASE, **entry}]})
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    return [str(p) for p in caught.value.problems]


def test_a_query_alarms_on_the_catalogs_threshold():
    spec = check(query=FAILED_JOBS, alarms={"value": {"threshold": 0}})
    assert spec.active_signals() == ["value", "measure"]
    assert spec.rule("value").describe(spec.signals["value"].unit) == "> 0 for 1 of 1 periods of 5m"
    assert spec.rule("value").missing_data.value == "ignore"


def test_freshness_alarms_above_max_age_in_seconds():
    spec = check(freshness={"table": "public.jobs", "column": "updated_at", "max_age": "2h"})
    assert spec.rule("value").threshold == 7200
    assert spec.rule("value").describe(spec.signals["value"].unit) == "> 7200 seconds for 1 of 1 periods of 5m"


def test_the_spec_round_trips_through_the_checker_event():
    spec = check(freshness={"table": "jobs", "column": "updated_at", "max_age": "30m"}, timeout=3)
    assert SqlCheck.model_validate(spec.model_dump(mode="json")) == spec


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("SELECT 1", None),
        ("  -- failed jobs\n  with recent as (select 1 as n) select count(*) from recent;", None),
        ("/* count */ SELECT count(*) FROM jobs ;  ", None),
        ("DELETE FROM jobs", "must start with SELECT or WITH, found 'DELETE'"),
        ("-- only a comment", "is empty once comments are removed"),
        ("SELECT 1; DROP TABLE jobs", "must be a single statement"),
        ("/* SELECT */ UPDATE jobs SET x = 1", "must start with SELECT or WITH, found 'UPDATE'"),
    ],
)
def test_query_shape(query: str, problem: str | None):
    found = query_problem(query)
    assert (found is None) if problem is None else (found is not None and problem in found)


MUST_ONLY_READ = "must only read"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        # A WITH prefix does not make a statement read-only.
        ("WITH x AS (SELECT 1) DELETE FROM orders", "DELETE"),
        ("with gone as (delete from orders returning *) select count(*) from gone", "DELETE"),
        ("WITH x AS (SELECT 1) INSERT INTO orders SELECT * FROM x", "INSERT, INTO"),
        ("WITH x AS (SELECT 1) UPDATE orders SET paid = 1", "SET, UPDATE"),
        ("WITH s AS (SELECT 1 AS id) MERGE INTO orders USING s ON orders.id = s.id WHEN MATCHED THEN DELETE;", ""),
        # T-SQL batches need no ';' between statements.
        ("SELECT 1 DELETE FROM orders", "DELETE"),
        ("SELECT 1 EXEC sp_configure", "EXEC"),
        ("SELECT 1\nEXECUTE ('DROP TABLE orders')", "EXECUTE"),
        ("SELECT 1 DECLARE @n int", "DECLARE"),
        ("SELECT 1 SET NOCOUNT ON", "SET"),
        ("SELECT 1 TRUNCATE TABLE orders", "TRUNCATE"),
        ("SELECT 1 DROP TABLE orders", "DROP"),
        ("SELECT 1 CREATE TABLE t (a int)", "CREATE"),
        ("SELECT 1 ALTER TABLE t ADD b int", "ALTER"),
        ("SELECT 1 GRANT SELECT ON t TO public", "GRANT"),
        ("SELECT 1 REVOKE SELECT ON t FROM public", "REVOKE"),
        ("SELECT 1 COMMIT", "COMMIT"),
        ("WITH x AS (SELECT 1) CALL refresh()", "CALL"),
        ("SELECT * INTO orders_copy FROM orders", "INTO"),  # creates a table (SQL Server, PostgreSQL)
        ("SELECT id INTO @last FROM orders", "INTO"),  # MySQL sets a variable
        # Locking reads: decided to refuse, a monitoring query must not lock the application's rows.
        ("SELECT id FROM orders FOR UPDATE", "UPDATE"),
        ("SELECT id FROM orders FOR NO KEY UPDATE SKIP LOCKED", "UPDATE"),
        ("SELECT id FROM orders FOR SHARE", "FOR SHARE"),
        ("SELECT id FROM orders LOCK IN SHARE MODE", "LOCK"),
        # Hiding places that are code in some engine.
        ("SELECT /*! DELETE FROM orders */ 1", "DELETE"),  # MySQL runs /*! ... */
        ("SELECT /* /* */ DELETE FROM orders /* */ 1", "DELETE"),  # MySQL does not nest comments
        ("SELECT 'it\\'s' DELETE FROM orders -- '", "DELETE"),  # no backslash escape in T-SQL
        ("SELECT 'a\\' DELETE FROM orders -- '", "DELETE"),  # MySQL: \' escapes; others: it closes
        ("SELECT 1 FROM #work DELETE FROM orders", "DELETE"),  # # is a comment in MySQL only
        ("Select 1 dElEtE from orders", "DELETE"),
    ],
)
def test_a_query_that_writes_runs_code_or_locks_is_refused(query: str, found: str):
    problem = query_problem(query)
    assert problem is not None and problem.startswith(MUST_ONLY_READ), (query, problem)
    assert f"found {found}" in problem if found else True
    assert "convenience" in problem and "read-only session" in problem and "SELECT-only login" in problem


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count(*) FROM jobs WHERE status IN ('delete', 'update; insert into', 'drop table')",
        "SELECT count(*) FROM jobs -- DELETE the old ones by hand\nWHERE status = 'failed'",
        "SELECT /* not INSERT, not UPDATE */ count(*) FROM jobs",
        'SELECT "delete", "Update" FROM "insert"',  # quoted identifiers (PostgreSQL, SQL Server)
        "SELECT `delete` FROM `set`",  # MySQL identifiers
        "SELECT [update], [into] FROM [drop]",  # SQL Server identifiers
        "SELECT $$DELETE FROM orders$$ AS label",  # a PostgreSQL dollar-quoted string
        "SELECT $q$ it's; UPDATE $q$ AS label",
        "SELECT last_update, created_at, deleted, settled, intoxicated FROM jobs",
        "SELECT updated_at FROM jobs WHERE x = 'it''s DELETE'",
        "SELECT CAST(name AS CHAR CHARACTER SET utf8mb4) FROM jobs",
        "SELECT count(*) FROM jobs USE INDEX (jobs_status)",
        "SELECT count(*) FROM dbo.jobs WITH (NOLOCK)",
        "SELECT a$b FROM t",
        "WITH recent AS (SELECT * FROM jobs WHERE finished_at > now() - interval '1 hour') SELECT count(*) FROM recent",
        "SELECT COUNT(*) FROM dbo.campaign_sends WHERE status = 'failed' AND updated_at > DATEADD(hour, -1, SYSDATETIME())",
        "SELECT count(*) FROM jobs WHERE note = 'a;b';",
    ],
)
def test_reads_that_mention_such_words_only_in_literals_identifiers_or_comments_pass(query: str):
    assert query_problem(query) is None


@pytest.mark.parametrize(
    ("engine", "query", "named"),
    [
        # What a superuser ran inside the read-only transaction, and their kin.
        ("postgresql", "SELECT dblink_exec('dbname=test', 'DELETE FROM orders')", "dblink_exec, which connects"),
        ("postgresql", "SELECT * FROM dblink('dbname=test', 'SELECT 1') AS t(n int)", "dblink, which connects"),
        ("postgresql", "SELECT lo_export(lo_from_bytea(0, 'x'), '/tmp/x')", "lo_export, which writes files"),
        ("postgresql", "SELECT lo_import('/etc/passwd')", "lo_import, which reads files"),
        ("postgresql", "SELECT pg_read_file('/etc/passwd')", "pg_read_file, which reads files"),
        ("postgresql", "SELECT pg_read_binary_file('global/pg_control')", "pg_read_binary_file"),
        ("postgresql", "SELECT count(*) FROM pg_ls_dir('.')", "pg_ls_dir, which reads files or lists directories"),
        ("postgresql", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "pg_terminate_backend, which ends"),
        ("postgresql", "SELECT pg_cancel_backend(42)", "pg_cancel_backend, which ends or cancels other sessions"),
        ("postgresql", "SELECT pg_sleep(60)", "pg_sleep, which sleeps"),
        ("postgresql", "SELECT set_config('transaction_read_only', 'off', true)", "set_config, which changes"),
        ("postgresql", "SELECT query_to_xml('SELECT pg_sleep(9)', true, true, '')", "query_to_xml, which runs SQL"),
        ("postgresql", "WITH x AS (SELECT 1) SELECT 1 FROM x WHERE 0 = 1 UNION COPY", "copy, which copies"),
        # Robust to case, spacing, comments, schema and quoting.
        ("postgresql", "select PG_CATALOG . Pg_Terminate_Backend /* who? */ (42)", "pg_terminate_backend"),
        ("postgresql", 'SELECT "pg_sleep"(5)', "pg_sleep, which sleeps"),
        ("postgresql", "SELECT pg_catalog.pg_sleep\n\t(5)", "pg_sleep"),
        ("mariadb", "SELECT LOAD_FILE('/etc/passwd')", "load_file, which reads files"),
        ("mysql", "SELECT `load_file`('/etc/passwd')", "load_file"),
        ("mariadb", "SELECT * FROM orders INTO OUTFILE '/tmp/o'", "INTO OUTFILE, which writes files"),
        ("mysql", "SELECT 'x' INTO\n DUMPFILE '/tmp/o'", "INTO OUTFILE, which writes files"),
        ("mariadb", "SELECT SLEEP(60)", "sleep, which sleeps or burns CPU"),
        ("mysql", "SELECT BENCHMARK(1e9, MD5('x'))", "benchmark"),
        ("mysql", "SELECT sys_exec('id')", "sys_exec, which runs operating-system commands"),
        ("mssql", "SELECT 1 xp_cmdshell 'dir'", "xp_cmdshell, which is an extended stored procedure"),
        ("mssql", "SELECT [xp_dirtree]", "xp_dirtree"),
        ("mssql", "SELECT * FROM OPENQUERY(other, 'SELECT 1')", "openquery, which reads from another server"),
        ("mssql", "SELECT * FROM OPENROWSET('SQLNCLI', 'server=x', 'SELECT 1')", "openrowset, which reads from"),
        ("mssql", "SELECT * FROM OPENDATASOURCE('SQLNCLI', 'Data Source=x').db.dbo.t", "opendatasource"),
        ("mssql", "SELECT 1 WAITFOR DELAY '01:00'", "waitfor, which waits"),
        ("mssql", "SELECT * FROM sys.fn_get_audit_file('C:\\*', DEFAULT, DEFAULT)", "fn_get_audit_file, which reads"),
        # Unknown engine (consistency's endpoints): every engine's list.
        (None, "SELECT pg_sleep(1)", "pg_sleep"),
        (None, "SELECT LOAD_FILE('/x')", "load_file"),
        (None, "SELECT 1 WAITFOR DELAY '01:00'", "waitfor"),
    ],
)
def test_functions_that_reach_beyond_the_read_are_refused_by_name_in_words(engine, query, named):
    problem = query_problem(query, engine)
    assert problem is not None and problem.startswith("must not use "), (query, problem)
    assert named in problem
    assert "the database login is the boundary" in problem


def test_a_unicode_escaped_identifier_is_refused():
    problem = query_problem('SELECT U&"pg\\005Fsleep"(5)', "postgresql") or ""
    assert "Unicode escapes" in problem


@pytest.mark.parametrize(
    ("engine", "query"),
    [
        ("postgresql", "SELECT max(sleep) FROM sleep_log"),  # sleep() is MySQL's: a PostgreSQL column here
        ("postgresql", "SELECT count(*) FROM jobs WHERE note = 'pg_sleep(5)'"),  # a string literal
        ("postgresql", "SELECT count(*) FROM copy_jobs"),
        ("mssql", "SELECT count(*) FROM dblink_audit"),  # dblink is PostgreSQL's
        ("mysql", "SELECT count(*) FROM jobs -- pg_terminate_backend\n"),
    ],
)
def test_such_names_in_another_engine_or_in_literals_pass(engine, query):
    assert query_problem(query, engine) is None


def test_the_catalog_names_field_and_function(tmp_path):
    entry = {"query": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "alarms": {"value": {"threshold": 0}}}
    (line,) = catalog_problems(tmp_path, entry)

    assert "check jobs: query: must not use pg_terminate_backend, which ends or cancels other sessions" in line


def test_a_semicolon_hidden_behind_a_literal_that_looks_like_a_comment_is_found():
    # '--' inside a literal is not a comment: the ';' after it separates a second statement.
    assert "single statement" in (query_problem("SELECT '--' ; DELETE FROM orders") or "")
    assert "single statement" in (query_problem("SELECT '/*' ; DELETE FROM orders -- */") or "")


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ({}, ["check jobs:", "give one of query", "found neither"]),
        (
            {"query": "SELECT 1", "freshness": {"table": "t", "column": "c", "max_age": "1h"}},
            ["give one of query", "found both"],
        ),
        ({"query": "SELECT 1"}, ["alarms.value.threshold", "required for a query"]),
        (
            {"query": "INSERT INTO jobs VALUES (1)", "alarms": {"value": {"threshold": 0}}},
            ["query: must start with SELECT or WITH"],
        ),
        (
            {"freshness": {"table": "t", "column": "c", "max_age": "1h"}, "alarms": {"value": {"threshold": 5}}},
            ["alarms.value.threshold", "freshness.max_age", "remove it"],
        ),
        ({"freshness": {"table": "jobs; drop", "column": "c", "max_age": "1h"}}, ["freshness.table", "found"]),
        ({"freshness": {"table": "t", "column": "c", "max_age": "31d"}}, ["freshness.max_age", "not a duration"]),
        ({"freshness": {"table": "t", "column": "c", "max_age": "800h"}}, ["at most 30 days"]),
        ({"engine": "oracle", "query": "SELECT 1"}, ["engine", "'oracle'", "postgresql"]),
        (
            {"query": "SELECT 1", "alarms": {"value": {"threshold": 0}}, "cadence": "1m", "timeout": 60},
            ["timeout: 60s must be shorter than the cadence (60s)"],
        ),
        (
            {"secret": "nope", "query": "SELECT 1", "alarms": {"value": {"threshold": 0}}},
            ["secret", "unknown secret", "declared: db"],
        ),
    ],
)
def test_catalog_errors_name_the_check_field_and_fix(tmp_path: Path, entry: dict, fragments: list[str]):
    problems = catalog_problems(tmp_path, entry)
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0]
    assert problems[0].startswith(str(tmp_path / "campaign-db.yaml"))


def test_catalog_wide_alarm_defaults_still_require_a_query_threshold(tmp_path: Path):
    settings = {**SETTINGS, "defaults": {"alarm": {"evaluation_periods": 3, "datapoints_to_alarm": 2}}}
    problems = catalog_problems(tmp_path, {"query": "SELECT 1"}, settings)
    assert "alarms.value.threshold" in problems[0]


# The checker's result logic: exactly one row with one number, or a reason.


@pytest.mark.parametrize(
    ("columns", "rows", "value"),
    [(1, [(3,)], 3), (1, [(None,)], None), (1, [("x",)], "x")],
)
def test_scalar_takes_the_one_value(columns: int, rows: list, value: object):
    assert scalar(columns, rows) == value


@pytest.mark.parametrize(
    ("columns", "rows", "reason"),
    [
        (0, [], "no result set"),
        (2, [(1, 2)], "2 columns"),
        (1, [], "no rows"),
        (1, [(1,), (2,)], "more than one row"),
    ],
)
def test_scalar_refuses_other_shapes(columns: int, rows: list, reason: str):
    with pytest.raises(Unusable, match=reason):
        scalar(columns, rows)


@pytest.mark.parametrize(("raw", "value"), [(3, 3.0), (Decimal("2.5"), 2.5), (0.25, 0.25)])
def test_numbers(raw: object, value: float):
    assert number(raw) == value


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "NULL; when no rows means 0"),
        ("12", "str '12' is not a number"),
        (True, "bool"),
        (float("nan"), "finite"),
    ],
)
def test_non_numbers_are_unusable(raw: object, reason: str):
    with pytest.raises(Unusable, match=reason):
        number(raw)


def test_freshness_verdicts():
    fresh = Freshness(table="jobs", column="updated_at", max_age=3600)
    assert freshness_verdict(fresh, Decimal("120.5")) == (120.5, None, None)
    assert freshness_verdict(fresh, 7200) == (7200.0, "stale", "stale: newest jobs.updated_at is 7200s old, allowed 1h")
    age, code, reason = freshness_verdict(fresh, None)
    assert (age, code) == (EMPTY_TABLE_AGE, "empty")
    assert reason == "empty: jobs has no rows, so no newest jobs.updated_at"


def test_freshness_reads_columns_as_utc_unless_told_local():
    assert Freshness(table="jobs", column="updated_at", max_age=60).timezone == "utc"
    assert Freshness(table="jobs", column="updated_at", max_age=60, timezone="local").timezone == "local"
    with pytest.raises(ValueError, match="timezone"):
        Freshness(table="jobs", column="updated_at", max_age=60, timezone="Europe/Paris")  # type: ignore[arg-type]


@pytest.mark.parametrize("timezone", ["utc", "local"])
def test_a_newest_row_in_the_future_is_a_clock_mismatch_not_fresh(timezone: str):
    fresh = Freshness(table="jobs", column="updated_at", max_age=3600, timezone=timezone)
    with pytest.raises(ClockMismatch) as caught:
        freshness_verdict(fresh, Decimal("-3599.5"))  # a UTC column read as UTC-1, say
    other = "local" if timezone == "utc" else "utc"
    assert str(caught.value) == (
        "newest jobs.updated_at is 3600s in the future (age -3600s): the column's time zone and the database "
        f"clock disagree (freshness.timezone is {timezone}: should it be {other}?), or the writers' clocks run ahead"
    )


def test_writers_a_few_seconds_ahead_of_the_database_read_as_just_written():
    fresh = Freshness(table="jobs", column="updated_at", max_age=3600)
    assert freshness_verdict(fresh, -0.4) == (0.0, None, None)
    assert freshness_verdict(fresh, -CLOCK_SKEW_TOLERANCE) == (0.0, None, None)
    with pytest.raises(ClockMismatch):
        freshness_verdict(fresh, -CLOCK_SKEW_TOLERANCE - 1)


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "mariadb", "mssql"])
def test_a_negative_age_is_a_measure_failure_with_a_reason_on_every_engine(engine: str, monkeypatch):
    from contextlib import nullcontext

    from vigil.checkers import sql as checker

    monkeypatch.setattr(checker.sqlconn, "connect_readonly", lambda *args: nullcontext(None))
    monkeypatch.setattr(checker, "run_statement", lambda spec, conn: ("SELECT ...", 1, [(-7200,)]))
    spec = check(engine=engine, freshness={"table": "jobs", "column": "updated_at", "max_age": "1h"})

    result = checker.measure(spec, lambda name: {})

    assert (result.status, result.reason_code, result.values) == (Status.failed, "clock", {})
    assert result.reason is not None and result.reason.startswith(
        "clock: newest jobs.updated_at is 7200s in the future"
    )


# vigil.sqlconn's pure parts.

RDS_SECRET = {
    "engine": "postgres",
    "host": "campaign.abc.eu-west-1.rds.amazonaws.com",
    "port": 5432,
    "username": "vigil_ro",
    "password": "p@ss:w/rd",
    "dbname": "campaign",
}


def test_the_rds_secret_shape_is_read():
    target = sqlconn.Target.from_secret("postgresql", RDS_SECRET)
    assert (target.host, target.port, target.username, target.database) == (
        "campaign.abc.eu-west-1.rds.amazonaws.com",
        5432,
        "vigil_ro",
        "campaign",
    )
    assert target.url().render_as_string(hide_password=True) == (
        "postgresql+psycopg://vigil_ro:***@campaign.abc.eu-west-1.rds.amazonaws.com:5432/campaign"
    )


@pytest.mark.parametrize(("engine", "port"), [("mssql", 1433), ("mariadb", 3306), ("postgresql", 5432)])
def test_a_missing_port_is_the_engines_default(engine: str, port: int):
    secret = {k: v for k, v in RDS_SECRET.items() if k != "port"}
    assert sqlconn.Target.from_secret(engine, secret).port == port
    assert sqlconn.Target.from_secret(engine, {**secret, "port": "6543"}).port == 6543


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"host": None}, "host is missing"),
        ({"username": 7}, "username is missing or not a string"),
        ({"password": None}, "password is missing"),
        ({"port": "five"}, "port must be a number"),
        ({"port": 70000}, "between 1 and 65535"),
        ({"dbname": 3}, "dbname must be a string"),
    ],
)
def test_secret_errors_name_the_field_never_the_value(change: dict, message: str):
    secret = {k: v for k, v in {**RDS_SECRET, **change}.items() if v is not None}
    with pytest.raises(sqlconn.SecretFormatError) as caught:
        sqlconn.Target.from_secret("postgresql", secret)
    assert message in str(caught.value)
    assert RDS_SECRET["password"] not in str(caught.value)


def test_mask_hides_the_password_as_written_and_url_encoded():
    text = "could not connect to postgresql://vigil_ro:p%40ss%3Aw%2Frd@host/db: bad password p@ss:w/rd"
    assert sqlconn.mask(text, "p@ss:w/rd") == "could not connect to postgresql://vigil_ro:***@host/db: bad password ***"
    assert sqlconn.mask("nothing to hide", "") == "nothing to hide"


def test_connect_args_bound_connecting_and_statements():
    pg = sqlconn.connect_args("postgresql", 1.5)
    assert pg["options"] == "-c default_transaction_read_only=on -c statement_timeout=1500"
    assert (pg["connect_timeout"], pg["prepare_threshold"]) == (2, 0)  # libpq's floor; extended protocol only
    assert sqlconn.connect_args("mysql", 30) == {"connect_timeout": 5.0, "read_timeout": 32.0, "write_timeout": 32.0}
    assert sqlconn.connect_args("mssql", 7.2) == {"login_timeout": 5, "timeout": 8}


@pytest.mark.parametrize(
    ("mariadb", "limit"),
    [(True, "SET SESSION max_statement_time = 2.5"), (False, "SET SESSION max_execution_time = 2500")],
)
def test_mysql_and_mariadb_session_statements(mariadb: bool, limit: str):
    statements = [str(s) for s in sqlconn.session_statements("mysql", 2.5, mariadb)]
    assert statements == [limit, "SET SESSION TRANSACTION READ ONLY", "START TRANSACTION READ ONLY"]
    assert [str(s) for s in sqlconn.session_statements("postgresql", 2.5)] == ["SET TRANSACTION READ ONLY"]
