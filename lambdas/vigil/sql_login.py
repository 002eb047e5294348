"""Privileged logins refused at connect: the read-only transaction does not hold them back.

A superuser got past every guard of vigil.sqlconn: `dblink_exec` (a connection of its own, not
read-only), `lo_export` and `COPY ... TO PROGRAM` (files and programs on the server are not writes
to the database) and `pg_terminate_backend` (other sessions) all ran inside the read-only
transaction. The catalog refuses those names (vigil.spec.sql), but the login is the boundary: a
login that holds such privileges is refused before the check's statement runs, as a failure
(reason_code `privileged`) that names the privilege in words, never the user.

What is refused, per engine (`privileges` reads it, the pure `*_privileges` judge it):

  postgresql     superuser, and membership (direct or inherited) in pg_execute_server_program
                 (COPY ... TO/FROM PROGRAM runs shell commands), pg_write_server_files and
                 pg_read_server_files (COPY to and from any server file, lo_export, pg_read_file:
                 the PostgreSQL manual warns these can be used to gain superuser-level access) and
                 pg_signal_backend (pg_terminate_backend and pg_cancel_backend on other sessions).
                 Not refused: pg_monitor, pg_read_all_stats and pg_read_all_data, which only read,
                 what a monitoring query is for; nor pg_write_all_data and CREATEROLE, whose writes
                 (INSERT..., GRANT, CREATE ROLE) the read-only transaction does stop.
  mysql/mariadb  any of these granted ON *.* (SHOW GRANTS, with MySQL's active roles USING'd in;
                 MariaDB lists its current role's grants itself): ALL PRIVILEGES, FILE (reads and
                 writes server files: LOAD_FILE, INTO OUTFILE), SUPER (kills any session, changes
                 global settings, writes while the server is read-only), PROCESS (reads every
                 session's statements, passwords in them included), SHUTDOWN, RELOAD, CREATE USER,
                 SET USER and SYSTEM_USER, every *ADMIN privilege (CONNECTION ADMIN, READ_ONLY
                 ADMIN, SYSTEM_VARIABLES_ADMIN ...), and WITH GRANT OPTION on *.*. Privileges on a
                 database (GRANT ... ON app.*) are the read-only transaction's to stop.
  mssql          sysadmin and CONTROL SERVER (everything), securityadmin ("should be treated as
                 equivalent to the sysadmin role": Microsoft, Permissions of Fixed Server Roles),
                 serveradmin (settings, SHUTDOWN), bulkadmin (reads server files: BULK INSERT,
                 OPENROWSET(BULK)), processadmin (KILL), and in the database db_owner,
                 db_datawriter and db_ddladmin: SQL Server has no read-only transaction, so a login
                 that can write is refused outright (explicit GRANTs on single tables are not seen
                 here: the login must still hold only SELECT).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

PRIVILEGED = "privileged"

# -- PostgreSQL ---------------------------------------------------------------------------------

POSTGRES_ROLES = {
    "pg_execute_server_program": "runs programs on the server (COPY ... TO PROGRAM)",
    "pg_write_server_files": "writes files on the server (COPY ... TO, lo_export)",
    "pg_read_server_files": "reads any file on the server (COPY ... FROM, pg_read_file)",
    "pg_signal_backend": "ends other sessions (pg_terminate_backend)",
}
POSTGRES_PROBE = sa.text(
    "SELECT r.rolsuper, ARRAY(SELECT g.rolname::text FROM pg_roles g WHERE g.rolname = ANY(:roles) "
    "AND pg_has_role(current_user, g.oid, 'MEMBER') ORDER BY 1) FROM pg_roles r WHERE r.rolname = current_user"
).bindparams(roles=list(POSTGRES_ROLES))


def postgres_privileges(superuser: bool, roles: Sequence[str]) -> list[str]:
    if superuser:  # a member of every role too: that says nothing more
        return ["is a superuser (anything on the server, COPY ... TO PROGRAM included)"]
    return [f"is a member of {role}, which {POSTGRES_ROLES[role]}" for role in roles if role in POSTGRES_ROLES]


# -- MySQL and MariaDB --------------------------------------------------------------------------

MYSQL_PRIVILEGES = {
    "ALL": "every privilege, FILE and SUPER among them",
    "ALL PRIVILEGES": "every privilege, FILE and SUPER among them",
    "FILE": "reads and writes files on the server (LOAD_FILE, INTO OUTFILE)",
    "SUPER": "kills any session, changes global settings and writes while the server is read-only",
    "PROCESS": "reads every session's statements, passwords in them included",
    "SHUTDOWN": "stops the server",
    "RELOAD": "flushes and locks every table",
    "CREATE USER": "creates and changes logins",
    "SET USER": "acts as another account",
    "SET_USER_ID": "acts as another account",
    "SET_ANY_DEFINER": "acts as another account",
    "SYSTEM_USER": "changes system accounts",
}
_ADMIN_WORDS = "administers the server"
_GRANT_LINE = re.compile(r"^GRANT\s+(?P<privileges>.+?)\s+ON\s+(?P<target>\S+)\s+TO\s", re.IGNORECASE | re.DOTALL)
_COLUMNS = re.compile(r"\([^)]*\)")


def mysql_privileges(grants: Sequence[str]) -> list[str]:
    """What the SHOW GRANTS lines give on *.* that a read-only transaction does not stop."""
    found: dict[str, str] = {}
    for line in grants:
        match = _GRANT_LINE.match(line.strip())
        if match is None or match.group("target").replace("`", "") != "*.*":
            continue  # a role grant, a proxy grant, or privileges on one database or table
        for raw in _COLUMNS.sub("", match.group("privileges")).split(","):
            privilege = " ".join(raw.split()).upper()
            words = MYSQL_PRIVILEGES.get(privilege) or (_ADMIN_WORDS if privilege.endswith("ADMIN") else None)
            if words:
                found[privilege] = words
        if re.search(r"\bWITH\s+GRANT\s+OPTION\b", line, re.IGNORECASE):
            found["GRANT OPTION"] = "passes its privileges on to other logins"
    return [f"holds {privilege} on *.*, which {words}" for privilege, words in found.items()]


def _mysql_grants(conn: sa.Connection) -> list[str]:
    if getattr(conn.dialect, "is_mariadb", False):
        # MariaDB's SHOW GRANTS adds the current role's grants (SHOW GRANTS FOR CURRENT_USER does not).
        return [str(row[0]) for row in conn.exec_driver_sql("SHOW GRANTS")]
    # MySQL 8 lists role privileges only when asked with USING; CURRENT_ROLE() gives them quoted.
    roles = conn.exec_driver_sql("SELECT CURRENT_ROLE()").scalar()
    using = f" USING {roles}" if roles and str(roles).upper() != "NONE" else ""
    return [str(row[0]) for row in conn.exec_driver_sql(f"SHOW GRANTS FOR CURRENT_USER(){using}")]


# -- SQL Server ---------------------------------------------------------------------------------

MSSQL_MEMBERSHIPS = {
    "sysadmin": ("IS_SRVROLEMEMBER('sysadmin')", "is sysadmin (anything on the server, xp_cmdshell included)"),
    "control_server": ("HAS_PERMS_BY_NAME(NULL, NULL, 'CONTROL SERVER')", "holds CONTROL SERVER (as sysadmin)"),
    "securityadmin": ("IS_SRVROLEMEMBER('securityadmin')", "is securityadmin (can grant itself almost anything)"),
    "serveradmin": ("IS_SRVROLEMEMBER('serveradmin')", "is serveradmin (changes settings, shuts the server down)"),
    "bulkadmin": ("IS_SRVROLEMEMBER('bulkadmin')", "is bulkadmin (reads files on the server: BULK INSERT)"),
    "processadmin": ("IS_SRVROLEMEMBER('processadmin')", "is processadmin (ends other sessions: KILL)"),
    "db_owner": (
        "IS_MEMBER('db_owner')",
        "is db_owner of the database (writes, and SQL Server has no read-only session)",
    ),
    "db_datawriter": (
        "IS_MEMBER('db_datawriter')",
        "is db_datawriter (writes, and SQL Server has no read-only session)",
    ),
    "db_ddladmin": ("IS_MEMBER('db_ddladmin')", "is db_ddladmin (changes the schema)"),
}
MSSQL_PROBE = sa.text("SELECT " + ", ".join(f"{sql} AS {name}" for name, (sql, _) in MSSQL_MEMBERSHIPS.items()))


def mssql_privileges(row: Mapping[str, Any]) -> list[str]:
    """Memberships answered 1 (NULL: the role is unknown there, so not a member)."""
    return [words for name, (_, words) in MSSQL_MEMBERSHIPS.items() if row.get(name) == 1]


# -- the probe ----------------------------------------------------------------------------------


def privileges(engine: str, conn: sa.Connection) -> list[str]:
    """What the connected login holds that a read-only transaction does not hold back, in words."""
    if engine == "postgresql":
        superuser, roles = conn.execute(POSTGRES_PROBE).one()
        return postgres_privileges(bool(superuser), list(roles or []))
    if engine in ("mysql", "mariadb"):
        return mysql_privileges(_mysql_grants(conn))
    if engine == "mssql":
        return mssql_privileges(conn.execute(MSSQL_PROBE).mappings().one())
    raise ValueError(f"engine {engine!r}: no login probe")


def refusal(found: Sequence[str]) -> str:
    """The reason a privileged login is refused: what it may do, never who it is."""
    # The way out first: a long list is what gets cut.
    return (
        f"{PRIVILEGED}: a read-only transaction does not hold this login back; give the check a login that may "
        f"only read (docs/catalog.md, sql). The login {'; '.join(found)}"
    )
