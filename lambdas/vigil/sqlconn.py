"""Read-only SQL connections for checkers (kinds `sql` and `consistency`): PostgreSQL, MySQL or
MariaDB, and SQL Server, through SQLAlchemy 2 with psycopg 3, PyMySQL and pymssql.

    with connect_readonly("postgresql", secret, timeout=10) as conn:
        rows = conn.execute(statement).fetchmany(2)

The connection is inside a transaction that the database itself keeps read-only wherever it can,
every statement is bounded by `timeout`, and the transaction is always rolled back, never
committed. Per engine (the statements are in `session_statements`, the driver settings in
`connect_args`):

  postgresql      startup options default_transaction_read_only=on and statement_timeout, then
                  SET TRANSACTION READ ONLY as the transaction's first statement. Every statement
                  goes through the extended protocol (psycopg prepare_threshold=0), which refuses
                  "SELECT 1; COMMIT; ..." outright: the simple protocol would run all of it.
  mysql/mariadb   SET SESSION TRANSACTION READ ONLY, then START TRANSACTION READ ONLY; writes and
                  DDL fail with error 1792. The statement timeout is max_statement_time (MariaDB,
                  seconds) or max_execution_time (MySQL, milliseconds, SELECT only), picked from the
                  server SQLAlchemy detects; PyMySQL's read timeout is the client-side backstop.
                  PyMySQL sends one statement per call (no MULTI_STATEMENTS flag).
  mssql           SQL Server has no read-only transaction and pymssql cannot ask for
                  ApplicationIntent=ReadOnly: the guarantee is the login, which must hold only
                  SELECT (db_datareader or narrower). READ COMMITTED and LOCK_TIMEOUT keep a read
                  from waiting on writers' locks; pymssql's query timeout bounds the rest.

The login is the boundary, not the transaction: a superuser's COPY ... TO PROGRAM, lo_export or
pg_terminate_backend run inside a read-only transaction. So right after connecting, before the
caller's first statement, the login's privileges are read and a privileged login is refused
(SqlError `privileged`, vigil.sql_login says which privileges and why).

Errors: any SQLAlchemy or driver error leaving the block is re-raised as SqlError(code, reason),
one line, with the password, the user, the host (and any address) masked: driver messages echo
them, and a host string can itself hold a password (a DSN pasted into the secret's host). The
original exception is dropped (`from None`) so a logged traceback cannot carry it either.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from vigil import sql_login
from vigil.checkers.runner import CannotMeasure
from vigil.text import REASON_LIMIT, clip, one_line

ENGINES = ("postgresql", "mysql", "mariadb", "mssql")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",  # one driver for both; the server's flavour is read on connect
    "mssql": "mssql+pymssql",
}
# Connecting has its own deadline, so a checker's worst case is this plus the statement timeout.
CONNECT_TIMEOUT = 5.0
# libpq refuses a connect_timeout under 2 seconds (it rounds it up itself, silently).
_PG_MIN_CONNECT = 2
# A client-side read deadline beyond the server's statement timeout: if the server does not cut
# the statement (MySQL's max_execution_time covers only SELECT), the socket still gives up.
_CLIENT_MARGIN = 2.0
MASK = "***"

# Driver error codes (PostgreSQL SQLSTATE, MySQL/MariaDB and SQL Server error numbers) → SqlError code.
_PG_CODES = {"57014": "timeout", "55P03": "timeout", "25006": "read-only"}
_MYSQL_CODES = {1969: "timeout", 3024: "timeout", 2013: "timeout", 1792: "read-only"}
_MSSQL_CODES = {1222: "timeout", 20003: "timeout"}


class SqlError(CannotMeasure):
    """The database could not be reached, refused a statement or the login is privileged (code:
    connect | timeout | read-only | query | privileged); `reason` is safe to show."""


class SecretFormatError(ValueError):
    """The secret lacks a field or has one of the wrong type; the message names the field only."""


@dataclass(frozen=True)
class Target:
    """Where to connect, from a secret in the RDS shape {host, port, username, password, dbname}."""

    engine: str
    host: str
    port: int
    username: str
    password: str
    database: str | None

    @classmethod
    def from_secret(cls, engine: str, secret: Mapping[str, Any]) -> Target:
        if engine not in ENGINES:
            raise unknown_engine(engine)
        text = {key: _text_field(secret, key) for key in ("host", "username", "password")}
        database = secret.get("dbname")
        if database is not None and not isinstance(database, str):
            raise SecretFormatError("dbname must be a string")
        return cls(
            engine, text["host"], _port(secret.get("port"), engine), text["username"], text["password"], database
        )

    def url(self) -> sa.URL:
        return sa.URL.create(
            _DRIVERS[self.engine],
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database or None,
        )


def _text_field(secret: Mapping[str, Any], key: str) -> str:
    value = secret.get(key)
    if not isinstance(value, str) or (key != "password" and not value):
        raise SecretFormatError(f"{key} is missing or not a string")
    return value


def _port(value: Any, engine: str) -> int:
    if value is None or value == "":
        return DEFAULT_PORTS[engine]
    # RDS writes the port as a number; hand-made secrets often have it as text.
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
        raise SecretFormatError("port must be a number")
    port = int(value)
    if not 0 < port < 65536:
        raise SecretFormatError("port must be between 1 and 65535")
    return port


def connect_args(engine: str, timeout: float) -> dict[str, Any]:
    """Driver settings: the connect deadline, and what bounds or restricts every statement."""
    connect = min(timeout, CONNECT_TIMEOUT)
    if engine == "postgresql":
        options = f"-c default_transaction_read_only=on -c statement_timeout={_ms(timeout)}"
        return {"connect_timeout": max(_PG_MIN_CONNECT, math.ceil(connect)), "options": options, "prepare_threshold": 0}
    if engine in ("mysql", "mariadb"):
        client = timeout + _CLIENT_MARGIN
        return {"connect_timeout": connect, "read_timeout": client, "write_timeout": client}
    if engine == "mssql":
        return {"login_timeout": math.ceil(connect), "timeout": math.ceil(timeout)}
    raise unknown_engine(engine)


def session_statements(engine: str, timeout: float, mariadb: bool = False) -> list[sa.TextClause]:
    """What runs right after connecting, in order, before the caller's first statement."""
    if engine == "postgresql":
        # The startup options already made the transaction read-only; saying so per transaction
        # keeps it read-only even behind a pooler that drops startup options.
        return [sa.text("SET TRANSACTION READ ONLY")]
    if engine in ("mysql", "mariadb"):
        limit = (
            f"SET SESSION max_statement_time = {timeout:g}"
            if mariadb
            else f"SET SESSION max_execution_time = {_ms(timeout)}"
        )
        return [
            sa.text(limit),
            # The session default too: should anything end the transaction early, the next one
            # the session would start is read-only as well.
            sa.text("SET SESSION TRANSACTION READ ONLY"),
            sa.text("START TRANSACTION READ ONLY"),
        ]
    if engine == "mssql":
        return [
            sa.text("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"),
            sa.text(f"SET LOCK_TIMEOUT {_ms(timeout)}"),
        ]
    raise unknown_engine(engine)


def unknown_engine(engine: str) -> ValueError:
    return ValueError(f"engine {engine!r}: allowed {', '.join(ENGINES)}")


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


@contextmanager
def connect_readonly(engine: str, secret: Mapping[str, Any], timeout: float) -> Iterator[sa.Connection]:
    """A read-only, time-bounded connection, rolled back and closed on the way out.

    Raises SecretFormatError (a ValueError) for a secret that does not say where to connect, and
    SqlError for everything the database or the network says.
    """
    target = Target.from_secret(engine, secret)
    # No pool: every run connects afresh, so a rotated password or a failed-over host is picked
    # up at once and nothing is left open between runs.
    db = sa.create_engine(target.url(), poolclass=NullPool, connect_args=connect_args(engine, timeout))
    try:
        try:
            conn = db.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise sql_error(exc, target, connecting=True) from None
        try:
            mariadb = bool(getattr(conn.dialect, "is_mariadb", False))
            for statement in session_statements(engine, timeout, mariadb):
                conn.execute(statement)
            found = sql_login.privileges(engine, conn)
            if found:
                raise SqlError(sql_login.PRIVILEGED, clip(sql_login.refusal(found), REASON_LIMIT))
            yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise sql_error(exc, target, connecting=False) from None
        finally:
            _rollback_and_close(conn)
    finally:
        db.dispose()


def _rollback_and_close(conn: sa.Connection) -> None:
    # A statement the server cancelled may have taken the connection with it: closing is all
    # that is left to do, and nothing was ever committed.
    with suppress(sa.exc.SQLAlchemyError):
        conn.rollback()
    with suppress(sa.exc.SQLAlchemyError):
        conn.close()


def sql_error(exc: sa.exc.SQLAlchemyError, target: Target, connecting: bool) -> SqlError:
    """A database error as a SqlError whose reason holds no password, user, host or address (the
    consistency endpoints use it too)."""
    # The driver's own exception: SQLAlchemy's wrapper adds the statement and a help link.
    original = getattr(exc, "orig", None) or exc
    code = "connect" if connecting else error_code(original)
    message = mask_target(one_line(str(original)) or type(original).__name__, target)
    return SqlError(code, clip(f"{code}: {message}", REASON_LIMIT))


def error_code(error: BaseException) -> str:
    """timeout, read-only or query, from the driver error's SQLSTATE or error number."""
    module = type(error).__module__
    if module.startswith("psycopg"):
        return _PG_CODES.get(getattr(error, "sqlstate", None) or "", "query")
    number = error.args[0] if error.args and isinstance(error.args[0], int) else None
    if module.startswith("pymysql"):
        return _MYSQL_CODES.get(number or 0, "query")
    if module.startswith("pymssql"):
        return _MSSQL_CODES.get(number or 0, "query")
    return "query"


def mask(text: str, password: str) -> str:
    """The text with the password, as written or URL-encoded, replaced by ***."""
    if not password:
        return text
    for form in sorted({password, quote(password, safe=""), quote_plus(password)}, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


# An IP address in a driver message ("connection to server at "db" (10.0.1.5)"): where the host is.
_ADDRESS = re.compile(
    r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4})*::[0-9A-Fa-f:.]*|"
    r"[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7})(?![\w.:])"
)


def mask_target(text: str, target: Target) -> str:
    """The text with the password (anywhere), the host, its parts, the user and any IP address
    (as whole words) replaced by ***."""
    text = mask(text, target.password)
    # A host such as "admin:pw@db.internal" (a DSN pasted into the field): its parts count too.
    words = {target.host, *re.split(r"[@:/]", target.host), target.username}
    for word in sorted((w for w in words if w), key=len, reverse=True):
        text = re.sub(rf"(?<![\w.-]){re.escape(word)}(?![\w.-])", MASK, text)
    return _ADDRESS.sub(MASK, text)
