"""vigil.sql_login without a server: what each engine's grants mean, SQL Server's probe compiled and
run, and vigil.sqlconn's masking of connect errors (no password, user, host or address)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from vigil import sql_login, sqlconn

# -- PostgreSQL ---------------------------------------------------------------------------------


def test_a_postgres_superuser_and_each_dangerous_role_are_named() -> None:
    assert sql_login.postgres_privileges(False, []) == []
    assert sql_login.postgres_privileges(False, ["pg_monitor", "pg_read_all_data"]) == []
    # A superuser is a member of every role: being a superuser says it all.
    assert sql_login.postgres_privileges(True, ["pg_execute_server_program"]) == [
        "is a superuser (anything on the server, COPY ... TO PROGRAM included)"
    ]
    assert sql_login.postgres_privileges(False, ["pg_execute_server_program", "pg_signal_backend"]) == [
        "is a member of pg_execute_server_program, which runs programs on the server (COPY ... TO PROGRAM)",
        "is a member of pg_signal_backend, which ends other sessions (pg_terminate_backend)",
    ]


def test_the_postgres_probe_asks_for_exactly_the_four_roles() -> None:
    assert set(sql_login.POSTGRES_PROBE.compile().params["roles"]) == {
        "pg_execute_server_program",
        "pg_write_server_files",
        "pg_read_server_files",
        "pg_signal_backend",
    }


# -- MySQL and MariaDB --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grants", "named"),
    [
        (["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"], ["ALL PRIVILEGES", "GRANT OPTION"]),
        (["GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*D82'", "GRANT FILE ON *.* TO `r`"], ["FILE"]),
        (["GRANT SELECT, PROCESS, RELOAD ON *.* TO 'u'@'%'"], ["PROCESS", "RELOAD"]),
        (["GRANT SUPER ON *.* TO u"], ["SUPER"]),
        # MySQL 8 lists dynamic privileges without spaces; MariaDB 10.5+ spells its own with spaces.
        (["GRANT BACKUP_ADMIN,CONNECTION_ADMIN,XA_RECOVER_ADMIN ON *.* TO `u`@`%`"], ["BACKUP_ADMIN"]),
        (["GRANT READ_ONLY ADMIN, BINLOG MONITOR ON *.* TO `u`@`%`"], ["READ_ONLY ADMIN"]),
        (["grant create user on *.* to `u`@`%`"], ["CREATE USER"]),
    ],
)
def test_global_privileges_a_read_only_transaction_does_not_stop_are_named(grants: list[str], named: list[str]) -> None:
    found = " | ".join(sql_login.mysql_privileges(grants))
    for privilege in named:
        assert f"holds {privilege} on *.*, which " in found


@pytest.mark.parametrize(
    "grants",
    [
        ["GRANT USAGE ON *.* TO `vigil_ro`@`%` IDENTIFIED BY PASSWORD '*D82'"],
        ["GRANT SELECT ON *.* TO `vigil_ro`@`%`", "GRANT SELECT ON `campaign`.* TO `vigil_ro`@`%`"],
        ["GRANT ALL PRIVILEGES ON `app`.* TO `u`@`%`"],  # one database: the read-only transaction stops writes
        ["GRANT SELECT (`Host`), INSERT ON `mysql`.`db` TO `u`@`%`"],
        ["GRANT `reader` TO `u`@`%`", "GRANT REPLICATION CLIENT, SLAVE MONITOR ON *.* TO `u`@`%`"],
        ["GRANT PROXY ON ''@'' TO 'u'@'%'"],
    ],
)
def test_reading_grants_pass(grants: list[str]) -> None:
    assert sql_login.mysql_privileges(grants) == []


# -- SQL Server: compiled, and run against SQLite standing in for the server's functions ---------


def test_the_mssql_probe_compiles_to_one_select_of_memberships() -> None:
    tsql = " ".join(str(sql_login.MSSQL_PROBE.compile(dialect=mssql.pymssql.dialect())).split())
    assert tsql == (
        "SELECT IS_SRVROLEMEMBER('sysadmin') AS sysadmin, HAS_PERMS_BY_NAME(NULL, NULL, 'CONTROL SERVER') AS "
        "control_server, IS_SRVROLEMEMBER('securityadmin') AS securityadmin, IS_SRVROLEMEMBER('serveradmin') AS "
        "serveradmin, IS_SRVROLEMEMBER('bulkadmin') AS bulkadmin, IS_SRVROLEMEMBER('processadmin') AS processadmin, "
        "IS_MEMBER('db_owner') AS db_owner, IS_MEMBER('db_datawriter') AS db_datawriter, IS_MEMBER('db_ddladmin') "
        "AS db_ddladmin"
    )


def fake_server(server_roles: set[str], database_roles: set[str], control_server: bool = False) -> sa.Engine:
    """SQLite with SQL Server's membership functions: 1 member, 0 not, NULL for an unknown role."""
    engine = sa.create_engine("sqlite://")

    @sa.event.listens_for(engine, "connect")
    def functions(dbapi: object, record: object) -> None:
        known = {"sysadmin", "securityadmin", "serveradmin", "bulkadmin", "processadmin"}
        dbapi.create_function(  # type: ignore[attr-defined]
            "IS_SRVROLEMEMBER", 1, lambda role: int(role in server_roles) if role in known else None
        )
        dbapi.create_function("IS_MEMBER", 1, lambda role: int(role in database_roles))  # type: ignore[attr-defined]
        dbapi.create_function(  # type: ignore[attr-defined]
            "HAS_PERMS_BY_NAME", 3, lambda a, b, permission: int(control_server and permission == "CONTROL SERVER")
        )

    return engine


@pytest.fixture
def connect() -> Iterator[object]:
    engines: list[sa.Engine] = []

    def make(*args: object, **kwargs: object) -> sa.Connection:
        engines.append(fake_server(*args, **kwargs))  # type: ignore[arg-type]
        return engines[-1].connect()

    yield make
    for engine in engines:
        engine.dispose()


def test_a_reader_login_passes_on_sql_server(connect) -> None:
    assert sql_login.privileges("mssql", connect(set(), {"db_datareader"})) == []


@pytest.mark.parametrize(
    ("server_roles", "database_roles", "control", "words"),
    [
        ({"sysadmin"}, set(), False, "is sysadmin"),
        ({"securityadmin"}, set(), False, "is securityadmin"),
        ({"bulkadmin"}, set(), False, "reads files on the server"),
        ({"processadmin"}, set(), False, "ends other sessions"),
        (set(), set(), True, "holds CONTROL SERVER"),
        (set(), {"db_owner"}, False, "is db_owner"),
        (set(), {"db_datareader", "db_datawriter"}, False, "is db_datawriter"),
    ],
)
def test_a_privileged_sql_server_login_is_named(connect, server_roles, database_roles, control, words) -> None:
    found = sql_login.privileges("mssql", connect(server_roles, database_roles, control))
    assert len(found) == 1 and words in found[0]
    assert sql_login.refusal(found) == (
        "privileged: a read-only transaction does not hold this login back; give the check a login that may only "
        f"read (docs/catalog.md, sql). The login {found[0]}"
    )


# -- masking (vigil.sqlconn) --------------------------------------------------------------------


def target(**secret: object) -> sqlconn.Target:
    base = {"host": "campaign.abc.eu-west-1.rds.amazonaws.com", "username": "vigil_ro", "password": "Pw-9x"}
    return sqlconn.Target.from_secret("postgresql", {**base, **secret})


def test_a_password_inside_the_host_never_reaches_the_reason() -> None:
    bad = target(host="admin:Sekr1t-h0st@db.internal")
    message = 'could not translate host name "admin:Sekr1t-h0st@db.internal" to address: Name or service not known'
    masked = sqlconn.mask_target(message, bad)

    assert masked == 'could not translate host name "***" to address: Name or service not known'
    # Should the driver print the parts alone, they are masked too.
    assert "Sekr1t-h0st" not in sqlconn.mask_target("bad host part Sekr1t-h0st in admin", bad)


def test_user_host_and_addresses_are_masked_as_whole_words() -> None:
    message = (
        'connection to server at "campaign.abc.eu-west-1.rds.amazonaws.com" (10.0.1.5), port 5432 failed: FATAL: '
        'password authentication failed for user "vigil_ro" (vigil_ro_old is fine; postgresql at fe80::1 too)'
    )
    assert sqlconn.mask_target(message, target()) == (
        'connection to server at "***" (***), port 5432 failed: FATAL: password authentication failed for user '
        '"***" (vigil_ro_old is fine; postgresql at *** too)'
    )
