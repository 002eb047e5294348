"""Kind `sql`: one number from a relational database (PostgreSQL, MySQL/MariaDB, SQL Server).

Either `query` (one SELECT returning one row with one numeric column: failed jobs in the last
hour) or `freshness` (how many seconds old the newest row of a table is). The checker runs it in
a read-only, time-bounded transaction (vigil.sqlconn) with credentials from Secrets Manager.

The query's shape is checked when the catalog loads (one statement, starting with SELECT or
WITH, and no data-modifying or procedural keyword outside string literals, quoted identifiers and
comments: `WITH x AS (SELECT 1) DELETE FROM orders` is refused, and so is a locking read, SELECT
... FOR UPDATE). Nor may it name a function or statement that reaches beyond its own read, which
a read-only transaction does not stop (FORBIDDEN_CALLS: the server's files and programs, other
sessions, other servers, SQL hidden in a string): `SELECT lo_export(...)` and `SELECT
pg_terminate_backend(...)` ran in a read-only transaction under a superuser.

All of that catches mistakes and the obvious early, but it is not the security boundary: a
function with side effects (nextval, a user function that writes) passes it. The database
enforces read-only (see vigil.sqlconn), the checker refuses privileged logins, and the secret's
login should hold only SELECT (docs/catalog.md, sql).
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from vigil.spec.common import (
    CHECKER_MISSING_DATA,
    AlarmRule,
    CheckBase,
    Comparison,
    Duration,
    Signal,
    Slug,
    StrictModel,
    VpcPlacement,
    checker_signals,
    format_duration,
    worded,
)

VALUE = "value"
VALUE_METRIC = "Value"
MAX_QUERY_LENGTH = 4000
MAX_FRESHNESS_AGE = 30 * 86400
# An empty table has no newest row: it is reported as this age (a year), beyond any max_age, so
# a table that was emptied or never written pages as stale, with the reason saying it is empty.
EMPTY_TABLE_AGE = 365 * 86400
# Letters, digits, _ and $, not starting with a digit: valid unquoted in every supported engine,
# and quoted by the checker anyway.
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_$]{0,127}"

_FIRST_WORD = re.compile(r"[A-Za-z]+")
# Words that write, run other code (here or, OPEN*, on another server), change the session or the
# schema, or lock rows: refused as whole words outside literals, quoted identifiers and comments.
# UPDATE also refuses SELECT ... FOR UPDATE, as FOR SHARE and MySQL's LOCK IN SHARE MODE are: a
# monitoring query has no business locking the application's rows until the checker rolls back.
# SET is fine in CHARACTER SET (MySQL's CAST and CONVERT). USE is not here: MySQL's index hints
# (USE INDEX) read. T-SQL needs this list most: a batch runs `SELECT 1 DELETE FROM orders` as two
# statements without any ';'.
FORBIDDEN_KEYWORDS = frozenset(
    {
        *("INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "INTO"),
        *("EXEC", "EXECUTE", "CALL", "DECLARE"),
        *("CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME"),
        *("GRANT", "REVOKE", "DENY"),
        *("SET", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "LOCK"),
        *("KILL", "SHUTDOWN", "DBCC", "BACKUP", "RESTORE", "RECONFIGURE", "BULK"),
        *("OPENQUERY", "OPENROWSET", "OPENDATASOURCE"),
    }
)
# A word as the engines split them: $ and digits belong to it ($$delete is a MySQL identifier).
_WORD = re.compile(r"[A-Za-z0-9_$]+")

# Functions and statements that reach beyond the query's own read, per engine, with what each
# does in words. A read-only transaction stops none of them (they write files, run programs,
# signal other sessions or open connections of their own, none of which is a write to this
# database), and a privileged login may use every one: refused by name, whatever the login.
_SERVER_FILES_READ = "reads files or lists directories on the database server"
_SERVER_FILES_WRITE = "writes files on the database server"
_OTHER_SESSIONS = "ends or cancels other sessions"
_SLEEPS = "sleeps, holding a connection to the database"
_ADMIN = "administers the database server"
_SQL_IN_A_STRING = "runs SQL written in a string, which no catalog check can read"
_POSTGRES_CALLS = {
    "lo_import": "reads files on the database server into the database",
    "lo_export": _SERVER_FILES_WRITE,
    **dict.fromkeys(
        (
            "pg_read_file",
            "pg_read_binary_file",
            "pg_stat_file",
            "pg_ls_dir",
            "pg_ls_logdir",
            "pg_ls_waldir",
            "pg_ls_tmpdir",
            "pg_ls_archive_statusdir",
            "pg_ls_logicalmapdir",
            "pg_ls_logicalsnapdir",
            "pg_ls_replslotdir",
            "pg_logdir_ls",
        ),
        _SERVER_FILES_READ,
    ),
    **dict.fromkeys(("pg_file_write", "pg_file_rename", "pg_file_unlink", "pg_file_sync"), _SERVER_FILES_WRITE),
    **dict.fromkeys(("pg_terminate_backend", "pg_cancel_backend"), _OTHER_SESSIONS),
    **dict.fromkeys(("pg_sleep", "pg_sleep_for", "pg_sleep_until"), _SLEEPS),
    **dict.fromkeys(
        (
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_promote",
            "pg_switch_wal",
            "pg_create_restore_point",
            "pg_backup_start",
            "pg_backup_stop",
            "pg_start_backup",
            "pg_stop_backup",
            "pg_log_backend_memory_contexts",
        ),
        _ADMIN,
    ),
    "set_config": "changes the session's settings, the read-only guard among them",
    **dict.fromkeys(
        (
            "query_to_xml",
            "query_to_xml_and_xmlschema",
            "query_to_xmlschema",
            "cursor_to_xml",
            "cursor_to_xmlschema",
            "ts_stat",
            "ts_rewrite",
        ),
        _SQL_IN_A_STRING,
    ),
    "copy": "copies between tables and server files or programs (COPY ... TO PROGRAM runs a shell command)",
}
_MYSQL_CALLS = {
    "load_file": "reads files on the database server",
    **dict.fromkeys(("sleep", "benchmark"), "sleeps or burns CPU, holding a connection to the database"),
    **dict.fromkeys(("sys_exec", "sys_eval"), "runs operating-system commands (lib_mysqludf_sys)"),
}
_MSSQL_CALLS = {
    **dict.fromkeys(("openrowset", "opendatasource", "openquery"), "reads from another server or from files"),
    **dict.fromkeys(("fn_xe_file_target_read_file", "fn_get_audit_file", "fn_trace_gettable"), _SERVER_FILES_READ),
    "waitfor": "waits, holding a connection to the database",
}
FORBIDDEN_CALLS: dict[str, dict[str, str]] = {
    "postgresql": _POSTGRES_CALLS,
    "mysql": _MYSQL_CALLS,
    "mariadb": _MYSQL_CALLS,
    "mssql": _MSSQL_CALLS,
}
# Whole families, by the start of the name.
_FORBIDDEN_PREFIXES: dict[str, dict[str, str]] = {
    "postgresql": {"dblink": "connects to another database and runs statements there, outside this transaction"},
    "mssql": {"xp_": "is an extended stored procedure, code outside SQL (xp_cmdshell runs operating-system commands)"},
}
# Statements of more than one word: (engine, pattern, name, words).
_FORBIDDEN_PHRASES = [
    ("mysql", re.compile(r"\bINTO\s+(?:OUTFILE|DUMPFILE)\b", re.IGNORECASE), "INTO OUTFILE", _SERVER_FILES_WRITE),
    ("mysql", re.compile(r"\bLOAD\s+(?:DATA|XML)\b", re.IGNORECASE), "LOAD DATA", "reads files into tables"),
]
# Quoted identifiers: a quoted name still calls the function ("pg_sleep"(5) is pg_sleep).
_QUOTED_NAME = re.compile(r'"((?:[^"]|"")*)"|`([^`]*)`|\[([^\]]*)\]')
_UNICODE_IDENTIFIER = re.compile(r'\bU&""', re.IGNORECASE)


def _engines(engine: str | None) -> list[str]:
    """The engine's own rules; all of them when the engine is not known (consistency's endpoints)."""
    if engine is None:
        return list(FORBIDDEN_CALLS)
    return ["mysql" if engine == "mariadb" else engine]


def forbidden_calls(query: str, readings: list[str], engine: str | None) -> dict[str, str]:
    """Name → what it does, for every forbidden function or statement the query names."""
    names = {word.group(0).lower() for code in readings for word in _WORD.finditer(code)}
    names |= {"".join(found).strip().lower() for found in _QUOTED_NAME.findall(query)}
    calls: dict[str, str] = {}
    for name in sorted(names):
        for rules in _engines(engine):
            words = FORBIDDEN_CALLS[rules].get(name) or next(
                (w for start, w in _FORBIDDEN_PREFIXES.get(rules, {}).items() if name.startswith(start)), None
            )
            if words:
                calls[name] = words
    for rules, pattern, name, words in _FORBIDDEN_PHRASES:
        if rules in _engines(engine) and any(pattern.search(code) for code in readings):
            calls[name] = words
    return calls


_CHARACTER_SET = re.compile(r"\b(?:CHARACTER|CHAR)\s+$", re.IGNORECASE)
_FOR_SHARE = re.compile(r"\bFOR\s+(?:KEY\s+)?SHARE\b", re.IGNORECASE)
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_$]")


def _code(query: str, backslash_escapes: bool, nested_comments: bool, hash_comments: bool, dollar_quotes: bool) -> str:
    """The query with every string literal as '' and quoted identifier as "", comments as a space.

    The engines disagree (MySQL: backslash escapes, # comments, no nesting; PostgreSQL and SQL
    Server: nested block comments; PostgreSQL: $tag$ strings and E'...' escapes), so query_problem
    reads the text every way and refuses what any reading finds. MySQL runs the body of /*! ... */:
    it stays code.
    """
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        c, pair = query[i], query[i : i + 2]
        if pair == "--" or (hash_comments and c == "#"):
            end = query.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif pair == "/*" and query[i + 2 : i + 3] != "!":
            depth, i = 1, i + 2
            while i < n and depth:
                if query.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                elif nested_comments and query.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                else:
                    i += 1
            out.append(" ")
        elif c in "'\"`[":
            close = "]" if c == "[" else c
            i += 1
            while i < n:
                if backslash_escapes and c != "[" and query[i] == "\\":
                    i += 2
                elif query[i] == close:
                    if query[i + 1 : i + 2] == close and c != "[":  # a doubled quote stays inside
                        i += 2
                    else:
                        break
                else:
                    i += 1
            i += 1
            out.append("''" if c == "'" else '""')
        elif dollar_quotes and (tag := _DOLLAR_TAG.match(query, i)) and not _WORD_CHAR.match(query[i - 1 : i]):
            end = query.find(tag.group(0), tag.end())
            i = n if end < 0 else end + len(tag.group(0))
            out.append("''")
        else:
            out.append(c)
            i += 1
    return "".join(out)


# Every combination of the engines' lexical rules (16 readings of at most MAX_QUERY_LENGTH characters).
_READINGS = [
    (b, nest, h, d) for b in (False, True) for nest in (False, True) for h in (False, True) for d in (False, True)
]


def _forbidden(code: str) -> list[str]:
    found = []
    for word in _WORD.finditer(code):
        upper = word.group(0).upper()
        if upper in FORBIDDEN_KEYWORDS and not (upper == "SET" and _CHARACTER_SET.search(code[: word.start()])):
            found.append(upper)
    if _FOR_SHARE.search(code):
        found.append("FOR SHARE")
    return found


def query_problem(query: str, engine: str | None = None) -> str | None:
    """Why the text is not one read-only SELECT (or WITH ... SELECT) statement; None when it looks like one.

    `engine` picks its forbidden functions (FORBIDDEN_CALLS); None applies every engine's.
    A convenience for the catalog author, not the security boundary (see the module docstring).
    """
    readings = [_code(query, *reading) for reading in _READINGS]
    body = readings[0].strip().removesuffix(";").rstrip()
    if not body:
        return "is empty once comments are removed"
    first = _FIRST_WORD.match(body)
    if first is None or first.group(0).upper() not in ("SELECT", "WITH"):
        return f"must start with SELECT or WITH, found {body.split(maxsplit=1)[0][:20]!r}"
    if any(";" in code.strip().removesuffix(";") for code in readings):
        return "must be a single statement: remove the ';' inside it (only one at the very end is allowed)"
    if any(_UNICODE_IDENTIFIER.search(code) for code in readings):
        return 'must not write an identifier with Unicode escapes (U&"..."): it can hide a function\'s name'
    calls = forbidden_calls(query, readings, engine)
    if calls:
        named = "; ".join(f"{name}, which {words}" for name, words in calls.items())
        return (
            f"must not use {named}: a monitoring query has no use for it and a read-only transaction does not "
            "stop it (the database login is the boundary: docs/catalog.md, sql)"
        )
    found = sorted({word for code in readings for word in _forbidden(code)})
    if found:
        locking = " and not lock rows" if {"UPDATE", "LOCK", "FOR SHARE"} & set(found) else ""
        return (
            f"must only read{locking}: found {', '.join(found)} outside string literals and comments "
            "(a convenience check: the database's read-only session and a SELECT-only login are what stop writes)"
        )
    return None


class Freshness(StrictModel):
    """The newest `column` value in `table` must be at most `max_age` old (the database's clock)."""

    table: str = Field(
        pattern=worded(
            rf"^({IDENTIFIER}\.)?{IDENTIFIER}$",
            "a table, or schema.table: each name 1 to 128 letters, digits, _ and $, not starting with a digit, "
            "no quotes",
        ),
        description="table, optionally schema.table (no quotes)",
    )
    column: str = Field(
        pattern=worded(
            rf"^{IDENTIFIER}$", "a column name: 1 to 128 letters, digits, _ and $, not starting with a digit, no quotes"
        ),
        description="a timestamp column, such as updated_at",
    )
    max_age: Duration = Field(description="older than this alarms; at most 30 days")
    timezone: Literal["utc", "local"] = Field(
        default="utc",
        description=(
            "what a column without a zone holds: utc (compared with the database's UTC clock) or local "
            "(the server's or session's local time, as GETDATE()/NOW() defaults write it); zone-aware "
            "columns (timestamptz, datetimeoffset) are right either way"
        ),
    )

    @model_validator(mode="after")
    def _bounded(self) -> Freshness:
        if self.max_age > MAX_FRESHNESS_AGE:
            raise ValueError(f"max_age {format_duration(self.max_age)}: at most 30 days (720h)")
        return self


def value_signal(unit: str, threshold: float) -> Signal:
    return Signal(
        name=VALUE,
        metric=VALUE_METRIC,
        unit=unit,
        summary="the number the check's SQL returned (freshness: age of the newest row)",
        # The query already sums up its own window (the last hour's failed jobs): one run says it.
        # No value while the checker cannot measure keeps the state (CHECKER_MISSING_DATA).
        default=AlarmRule.sustained(threshold, Comparison.gt, 1, CHECKER_MISSING_DATA),
        period_follows_cadence=True,
    )


# For the class (catalog defaults only read the names): a query's threshold is the catalog's own.
_CLASS_SIGNALS = checker_signals(value_signal("", 0))


class _SqlSignals:
    """`signals` for sql: a freshness check's value is in seconds and its threshold is max_age."""

    def __get__(self, check: SqlCheck | None, owner: type | None = None) -> dict[str, Signal]:
        if check is None or check.freshness is None:
            return _CLASS_SIGNALS
        return checker_signals(value_signal("seconds", check.freshness.max_age))


class SqlCheck(CheckBase):
    """A scalar SQL query (or a table's freshness) on PostgreSQL, MySQL/MariaDB or SQL Server."""

    signals: ClassVar = _SqlSignals()  # type: ignore[assignment]

    kind: Literal["sql"]
    engine: Literal["postgresql", "mysql", "mariadb", "mssql"]
    secret: Slug = Field(
        description="name of a secret (see settings secrets) in the RDS shape: host, port, username, password, dbname"
    )
    query: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_QUERY_LENGTH,
        description="one SELECT returning one row with one numeric column",
    )
    freshness: Freshness | None = Field(default=None, description="instead of query: the newest row's age")
    timeout: float = Field(
        default=10.0, ge=1, le=60, description="seconds the statement may run (connecting has its own 5)"
    )
    vpc: VpcPlacement | None = Field(default=None, description="where the checker runs: the database's VPC (RDS)")

    @model_validator(mode="after")
    def _sql_sane(self) -> SqlCheck:
        if (self.query is None) == (self.freshness is None):
            found = "both" if self.query is not None else "neither"
            raise ValueError(f"give one of query (a SELECT) or freshness (table, column, max_age); found {found}")
        if self.query is not None and (problem := query_problem(self.query, self.engine)):
            raise ValueError(f"query: {problem}")
        override = self.alarms.get(VALUE)
        if self.freshness is not None and override is not None and override.threshold is not None:
            raise ValueError("alarms.value.threshold: a freshness check alarms above freshness.max_age; remove it")
        if self.query is not None and (override is None or override.threshold is None):
            raise ValueError(
                "alarms.value.threshold: required for a query, vigil cannot guess what its number means; "
                "for example alarms: {value: {threshold: 0}} alarms when it returns more than 0"
            )
        return self
