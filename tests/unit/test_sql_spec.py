"""Kind `sql` catalog entries, the checker's pure result logic and vigil.sqlconn's pure parts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from vigil import sqlconn
from vigil.checkers.sql import Unusable, freshness_verdict, number, scalar
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
            ["secret", "unknown secret 'nope'"],
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
