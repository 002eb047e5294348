"""`python -m infra run` on kind sql against the real PostgreSQL, its secret from a local secrets
file: a breaching count exits 1 naming the signal, a healthy one 0, and the file's values never
show in the output."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from infra.__main__ import main
from tests.support.services import require_service
from tests.unit.test_catalog import SETTINGS

pytestmark = pytest.mark.service

HOST = "127.0.0.1"
PASSWORD = "n0t-in-the-output"


@pytest.fixture
def jobs() -> Iterator[tuple[str, str]]:
    """(table with 3 failed jobs, a login that may only read it); both dropped afterwards."""
    require_service("postgresql", HOST, 5432, "start it with `bash .ci/services`")
    table, login = f"vigil_it_{uuid.uuid4().hex[:10]}", f"vigil_it_reader_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(f"postgresql+psycopg://postgres@{HOST}:5432/test", poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (id INT PRIMARY KEY, status VARCHAR(20))")
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1, 'failed'), (2, 'failed'), (3, 'failed'), (4, 'done')")
        conn.exec_driver_sql(f"CREATE ROLE {login} LOGIN")
        conn.exec_driver_sql(f"GRANT SELECT ON {table} TO {login}")
    yield table, login
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql(f"DROP ROLE {login}")
    admin.dispose()


def catalog(root: Path, table: str, threshold: int) -> str:
    root.mkdir()
    settings = {**SETTINGS, "secrets": {"jobs-db": "vigil/jobs-db/readonly"}}
    check: dict[str, Any] = {
        "id": "failed-jobs",
        "kind": "sql",
        "severity": "warning",
        "engine": "postgresql",
        "secret": "jobs-db",
        "query": f"SELECT count(*) FROM {table} WHERE status = 'failed'",
        "alarms": {"value": {"threshold": threshold}},
    }
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings))
    (root / "jobs.yaml").write_text(yaml.safe_dump({"service": "jobs", "checks": [check]}))
    return str(root)


@pytest.mark.parametrize(("threshold", "code"), [(0, 1), (5, 0)])
def test_sql_with_its_secret_from_a_local_file(tmp_path, capsys, jobs, threshold, code):
    table, login = jobs
    secret = {"host": HOST, "port": 5432, "username": login, "password": PASSWORD, "dbname": "test"}
    secrets_file = tmp_path / ".vigil-secrets.yaml"
    secrets_file.write_text(yaml.safe_dump({"jobs-db": secret}))

    exit_code = main(
        [
            "run",
            "failed-jobs",
            "--catalog",
            catalog(tmp_path / "checks", table, threshold),
            "--secrets",
            str(secrets_file),
        ]
    )
    out = capsys.readouterr().out

    assert exit_code == code, out
    assert f"secret jobs-db: from {secrets_file}" in out
    assert "value    3" in out
    assert ("alarm: value" in out) == bool(code)
    assert PASSWORD not in out and login not in out
