"""Heartbeats against moto: the table as the stack builds it, token secrets, function URL requests, checker runs."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.catalog import Catalog, load_catalog
from vigil import secrets
from vigil.checkers import heartbeat as checker
from vigil.checkers.runner import make_event
from vigil.heartbeat import endpoint, store
from vigil.spec.heartbeat import HeartbeatCheck

ROOT = Path(__file__).resolve().parents[2]
CATALOG_DIR = ROOT / "tests" / "fixtures" / "heartbeat"
URL_EVENT = ROOT / "tests" / "fixtures" / "function_url" / "ping_post.json"
TABLE = "vigil-test-heartbeats"
TOKEN = "s3cr3t-token-for-the-nightly-export"  # a test value, not a secret


def catalog() -> Catalog:
    return load_catalog(CATALOG_DIR)


def check(check_id: str = "nightly-export") -> HeartbeatCheck:
    found = catalog().by_id(check_id)
    assert isinstance(found, HeartbeatCheck)
    return found


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto with the heartbeat table (key and TTL as infra/checks/heartbeat.py makes it) and the fixture's
    token secrets; yields the DynamoDB client."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv(store.TABLE_ENV, TABLE)
    with mock_aws():
        store.client.cache_clear()
        secrets.clear_cache()
        db = boto3.client("dynamodb")
        db.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": store.KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": store.KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        db.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
        manager = boto3.client("secretsmanager")
        for c in catalog().checks:
            if isinstance(c, HeartbeatCheck):
                manager.create_secret(Name=c.token_secret_name, SecretString=json.dumps({"token": TOKEN}))
        yield db
        store.client.cache_clear()
        secrets.clear_cache()


def item(db: Any, check_id: str) -> dict[str, Any] | None:
    return db.get_item(TableName=TABLE, Key={store.KEY: {"S": check_id}}, ConsistentRead=True).get("Item")


def request(path: str, *, token: str | None = TOKEN, body: bytes = b"", method: str = "POST") -> dict[str, Any]:
    """The documented function URL event with this path, token and (base64, as curl's form posts arrive) body."""
    event = copy.deepcopy(json.loads(URL_EVENT.read_text()))
    event.pop("_comment")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    if token is None:
        del event["headers"]["authorization"]
    else:
        event["headers"]["authorization"] = f"Bearer {token}"
    event["body"] = base64.b64encode(body).decode("ascii")
    return event


def ping(db: Any, path: str, at: datetime, **kwargs: Any) -> endpoint.Answer:
    return endpoint.handle(request(path, **kwargs), at, db, TABLE, secrets.get_json_secret)


def run_checker(monkeypatch: pytest.MonkeyPatch, c: HeartbeatCheck, at: datetime) -> dict[str, Any]:
    """One scheduled run of the heartbeat checker at `at`, through its Lambda handler."""
    monkeypatch.setattr(checker, "now", lambda: at)
    return checker.handler(make_event(c, {}))
