"""Secrets Manager reads: JSON objects only, cached per container with a TTL, values never in errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from vigil import secrets


@pytest.fixture
def sm() -> Iterator[Any]:
    secrets.clear_cache()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")
    secrets.clear_cache()


def test_reads_json_object_by_name_and_arn(sm):
    arn = sm.create_secret(Name="vigil/db", SecretString=json.dumps({"user": "u", "password": "p"}))["ARN"]

    assert secrets.get_json_secret("vigil/db") == {"user": "u", "password": "p"}
    assert secrets.get_json_secret(arn) == {"user": "u", "password": "p"}


def test_cached_within_ttl(sm):
    sm.create_secret(Name="vigil/db", SecretString=json.dumps({"v": 1}))
    assert secrets.get_json_secret("vigil/db") == {"v": 1}
    sm.put_secret_value(SecretId="vigil/db", SecretString=json.dumps({"v": 2}))

    assert secrets.get_json_secret("vigil/db") == {"v": 1}, "served from cache"
    secrets.clear_cache()
    assert secrets.get_json_secret("vigil/db") == {"v": 2}


def test_refetched_after_ttl(sm):
    sm.create_secret(Name="vigil/db", SecretString=json.dumps({"v": 1}))
    assert secrets.get_json_secret("vigil/db", ttl=0) == {"v": 1}  # stored already expired
    sm.put_secret_value(SecretId="vigil/db", SecretString=json.dumps({"v": 2}))

    assert secrets.get_json_secret("vigil/db") == {"v": 2}


def test_missing_secret(sm):
    with pytest.raises(secrets.SecretError, match=r"secret vigil/none: ResourceNotFoundException"):
        secrets.get_json_secret("vigil/none")


@pytest.mark.parametrize(
    ("text", "message"),
    [("hunter2-not-json", "not valid JSON"), (json.dumps(["hunter2-in-a-list"]), "not an object")],
)
def test_not_a_json_object_and_value_not_quoted(sm, text, message):
    sm.create_secret(Name="vigil/bad", SecretString=text)

    with pytest.raises(secrets.SecretError, match=message) as caught:
        secrets.get_json_secret("vigil/bad")
    assert "hunter2" not in str(caught.value)


def test_binary_secret_is_refused(sm):
    sm.create_secret(Name="vigil/bin", SecretBinary=b"\x00\x01")

    with pytest.raises(secrets.SecretError, match="no SecretString"):
        secrets.get_json_secret("vigil/bin")


def test_errors_are_not_cached(sm):
    with pytest.raises(secrets.SecretError):
        secrets.get_json_secret("vigil/later")
    sm.create_secret(Name="vigil/later", SecretString="{}")

    assert secrets.get_json_secret("vigil/later") == {}


def test_resolver_reads_catalog_names_through_their_secret_ids(sm):
    sm.create_secret(Name="vigil/servicenow/api", SecretString=json.dumps({"username": "u", "password": "p"}))
    resolve = secrets.resolver({"servicenow-api": "vigil/servicenow/api"})

    assert resolve("servicenow-api") == {"username": "u", "password": "p"}
    with pytest.raises(secrets.SecretError, match="secret slack-oncall is not in this function's secrets"):
        resolve("slack-oncall")
