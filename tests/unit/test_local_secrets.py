"""Secrets for `python -m infra run` without Secrets Manager: VIGIL_SECRET_<NAME> or a git-ignored
file, by catalog name; values never printed, not even in errors about them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from infra.__main__ import main
from infra.local_checker import SECRETS_FILES, LocalSecretsError, env_name, local_secrets
from tests.support.http_server import LoopbackServer, running_server
from tests.unit.test_catalog import SETTINGS
from vigil import secrets

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"Authorization": "Bearer t0p-s3cret"}


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    secrets.clear_cache()
    yield
    secrets.clear_cache()


def test_the_variable_name_follows_the_catalog_name() -> None:
    assert env_name("api-headers") == "VIGIL_SECRET_API_HEADERS"
    assert env_name("db.main") == "VIGIL_SECRET_DB_MAIN"


def test_an_environment_variable_wins_over_the_file(tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump({"api-headers": {"X-Key": "from-file"}, "db": {"host": "h", "password": "p"}}))
    environ = {"VIGIL_SECRET_API_HEADERS": json.dumps(HEADERS)}

    found = local_secrets(["api-headers", "db", "absent"], file, environ)

    assert found.values == {"api-headers": HEADERS, "db": {"host": "h", "password": "p"}}
    assert found.origins == {"api-headers": "environment variable VIGIL_SECRET_API_HEADERS", "db": str(file)}


def test_the_default_files_are_read_from_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert local_secrets(["db"], environ={}).values == {}
    Path(SECRETS_FILES[1]).write_text(json.dumps({"db": {"password": "p"}}))  # .json
    assert local_secrets(["db"], environ={}).values == {"db": {"password": "p"}}


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        ("db:\n  password: 'hunter2\n", "not valid YAML (line 2)"),  # an unclosed quote
        ("db: hunter2\n", "db must be a mapping"),
        ("- hunter2\n", "must be a mapping of secret name"),
    ],
)
def test_a_broken_file_is_named_without_its_values(tmp_path: Path, content: str, shown: str) -> None:
    file = tmp_path / ".vigil-secrets.yaml"
    file.write_text(content)
    with pytest.raises(LocalSecretsError) as caught:
        local_secrets(["db"], file, {})
    assert shown in str(caught.value) and "hunter2" not in str(caught.value)


@pytest.mark.parametrize("value", ["{'password': 'hunter2'", '["hunter2"]'])
def test_a_broken_variable_is_named_without_its_value(value: str) -> None:
    with pytest.raises(LocalSecretsError) as caught:
        local_secrets(["db"], None, {"VIGIL_SECRET_DB": value})
    assert "environment variable VIGIL_SECRET_DB" in str(caught.value) and "hunter2" not in str(caught.value)


def test_served_locally_only_within_the_block_and_the_rest_from_secrets_manager() -> None:
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name="vigil/db", SecretString=json.dumps({"v": "aws"}))
        with secrets.served_locally({"vigil/api": HEADERS}.get):
            assert secrets.get_json_secret("vigil/api") == HEADERS
            assert secrets.get_json_secret("vigil/db") == {"v": "aws"}
        with pytest.raises(secrets.SecretError, match="ResourceNotFoundException"):
            secrets.get_json_secret("vigil/api")


def test_both_files_are_ignored_by_git() -> None:
    for name in SECRETS_FILES:
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False)
        assert ignored.returncode == 0, f"{name} is not in .gitignore"


# -- through `python -m infra run` -----------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        yield srv


def catalog(tmp_path: Path, url: str) -> str:
    root = tmp_path / "checks"
    root.mkdir()
    check = {
        "id": "api",
        "kind": "http",
        "severity": "critical",
        "url": url,
        "headers_secret": "api-headers",
        "allow_private": True,
    }
    (root / "_settings.yaml").write_text(yaml.safe_dump(SETTINGS))
    (root / "svc.yaml").write_text(yaml.safe_dump({"service": "svc", "checks": [check]}))
    return str(root)


def test_run_sends_a_header_from_the_environment_and_never_prints_it(tmp_path, server, capsys, monkeypatch):
    monkeypatch.setenv("VIGIL_SECRET_API_HEADERS", json.dumps(HEADERS))
    before = len(server.requests)

    assert main(["run", "api", "--catalog", catalog(tmp_path, server.url("/health"))]) == 0
    out = capsys.readouterr().out

    assert server.requests[before:][0].headers["authorization"] == HEADERS["Authorization"]
    assert "secret api-headers: from environment variable VIGIL_SECRET_API_HEADERS" in out
    assert "t0p-s3cret" not in out


def test_run_from_a_secrets_file(tmp_path, server, capsys):
    file = tmp_path / ".vigil-secrets.yaml"
    file.write_text(yaml.safe_dump({"api-headers": HEADERS}))

    assert main(["run", "api", "--catalog", catalog(tmp_path, server.url("/health")), "--secrets", str(file)]) == 0
    out = capsys.readouterr().out

    assert f"secret api-headers: from {file}" in out and "t0p-s3cret" not in out


def test_a_secret_found_nowhere_says_how_to_serve_it_locally(tmp_path, server, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with mock_aws():
        assert main(["run", "api", "--catalog", catalog(tmp_path, server.url("/health"))]) == 2
    out = capsys.readouterr().out

    assert "could not measure: secret: secret vigil/api/headers: ResourceNotFoundException" in out
    assert "VIGIL_SECRET_API_HEADERS='{...}'" in out and ".vigil-secrets.yaml" in out


def test_a_broken_secrets_file_stops_run_with_one_line(tmp_path, server, capsys):
    file = tmp_path / "broken.yaml"
    file.write_text("api-headers: {Authorization: 'Bearer t0p-s3cret\n")

    assert main(["run", "api", "--catalog", catalog(tmp_path, server.url("/health")), "--secrets", str(file)]) == 2
    out = capsys.readouterr().out

    assert out.startswith(f"error: {file}: not valid YAML (line") and "t0p-s3cret" not in out
