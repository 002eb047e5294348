"""SQL Server without a server: what the sql checker sends, compiled with SQLAlchemy's mssql dialect.

The T-SQL text is asserted exactly: the session settings that bound and restrict every read, the
freshness query, and the driver settings pymssql receives.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import mssql

from vigil import sqlconn
from vigil.checkers.sql import freshness_query
from vigil.spec.sql import Freshness


def tsql(statement: Any) -> str:
    return " ".join(str(statement.compile(dialect=mssql.pymssql.dialect())).split())


def test_session_statements_are_read_committed_with_a_lock_timeout():
    assert [tsql(s) for s in sqlconn.session_statements("mssql", 7.5)] == [
        "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
        "SET LOCK_TIMEOUT 7500",
    ]


def test_freshness_of_a_utc_column_uses_the_servers_utc_clock_and_quotes_reserved_names():
    # The default: a UTC column on a server whose local time is behind UTC must not come out young.
    statement = freshness_query("mssql", Freshness(table="dbo.jobs", column="updated_at", max_age=3600))
    assert tsql(statement) == (
        "SELECT DATEDIFF_BIG(SECOND, max(updated_at), SYSUTCDATETIME()) AS age_seconds FROM dbo.jobs"
    )
    reserved = freshness_query("mssql", Freshness(table="order", column="Updated", max_age=3600, timezone="utc"))
    assert tsql(reserved) == "SELECT DATEDIFF_BIG(SECOND, max([Updated]), SYSUTCDATETIME()) AS age_seconds FROM [order]"


def test_freshness_of_a_local_column_uses_the_servers_local_clock():
    # GETDATE()/SYSDATETIME() defaults write the server's local time: compare with the same clock.
    statement = freshness_query(
        "mssql", Freshness(table="dbo.jobs", column="updated_at", max_age=3600, timezone="local")
    )
    assert tsql(statement) == "SELECT DATEDIFF_BIG(SECOND, max(updated_at), SYSDATETIME()) AS age_seconds FROM dbo.jobs"


def test_pymssql_gets_a_login_deadline_and_a_query_timeout():
    assert sqlconn.connect_args("mssql", 12) == {"login_timeout": 5, "timeout": 12}


def test_the_url_names_the_pymssql_driver_and_the_database():
    secret = {"host": "campaign-sql.abc.eu-west-1.rds.amazonaws.com", "username": "vigil_ro", "password": "x"}
    target = sqlconn.Target.from_secret("mssql", {**secret, "dbname": "campaign"})
    assert target.url().render_as_string(hide_password=True) == (
        "mssql+pymssql://vigil_ro:***@campaign-sql.abc.eu-west-1.rds.amazonaws.com:1433/campaign"
    )
