"""The heartbeat table: one item per check, holding its last ping of each kind.

    check         S  the check id (partition key)
    token_secret  S  the Secrets Manager name of the check's ping token (never the token)
    watched_since N  ms: when the checker first saw the check
    expires       N  s: TTL; rows of removed checks vanish on their own
    start, success, fail  M  {at: N ms, exit_code: N (optional), lines: L of S}

Only the checker creates an item (`register`, on its first run for a check and again when the
catalog changes the token's secret), so the endpoint knows which checks exist and which secret
holds each one's token without any per-check configuration of its own: adding a check touches no
shared resource. The endpoint only updates existing items (`record`). The checker refreshes
`expires` when half of RETENTION is left, so a watched check's row never expires, however long its
job stays silent.

boto3 is imported on first use (vigil.secrets does the same).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from vigil.heartbeat.state import Ping, Pings

TABLE_ENV = "VIGIL_HEARTBEAT_TABLE"
RETENTION = timedelta(days=90)
KEY = "check"
KINDS = ("start", "success", "fail")


def table_name() -> str:
    name = os.environ.get(TABLE_ENV)
    if not name:
        raise RuntimeError(f"{TABLE_ENV} is not set: the heartbeat table is unknown (stack misconfigured)")
    return name


@cache
def client() -> Any:
    import boto3
    from botocore.config import Config

    # Bounded per call, so one slow request cannot run past the function's own timeout.
    return boto3.client(
        "dynamodb", config=Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})
    )


def register(db: Any, table: str, check_id: str, token_secret: str, now: datetime) -> Pings:
    """The check's pings; creates or refreshes its item first when it is new, moved to another secret,
    or half-way to expiry (one write per check every 45 days, otherwise reads only)."""
    item = _plain(db.get_item(TableName=table, Key={KEY: {"S": check_id}}).get("Item"))
    fresh = item is not None and item.get("token_secret") == token_secret and _expires(item) > now + RETENTION / 2
    if not fresh:
        item = _plain(
            db.update_item(
                TableName=table,
                Key={KEY: {"S": check_id}},
                UpdateExpression="SET token_secret = :secret, watched_since = if_not_exists(watched_since, :now), "
                "expires = :expires",
                ExpressionAttributeValues={
                    ":secret": {"S": token_secret},
                    ":now": {"N": str(_ms(now))},
                    ":expires": {"N": str(_seconds(now + RETENTION))},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        )
    assert item is not None
    return pings(item)


def token_secret(db: Any, table: str, check_id: str, now: datetime) -> str | None:
    """The secret holding a registered check's token; None for a check this stack does not watch."""
    item = _plain(
        db.get_item(TableName=table, Key={KEY: {"S": check_id}}, ProjectionExpression="token_secret, expires").get(
            "Item"
        )
    )
    # TTL deletes lazily (within days): an expired row is already gone as far as pings go.
    if item is None or _expires(item) <= now or not isinstance(item.get("token_secret"), str):
        return None
    return str(item["token_secret"])


def record(db: Any, table: str, check_id: str, kind: str, ping: Ping, now: datetime) -> None:
    """Store the ping as the check's last of its kind; never creates an item (register does)."""
    assert kind in KINDS, kind
    value: dict[str, Any] = {"at": {"N": str(_ms(ping.at))}, "lines": {"L": [{"S": line} for line in ping.lines]}}
    if ping.exit_code is not None:
        value["exit_code"] = {"N": str(ping.exit_code)}
    db.update_item(
        TableName=table,
        Key={KEY: {"S": check_id}},
        UpdateExpression="SET #kind = :ping, expires = :expires",
        ConditionExpression="attribute_exists(#key)",  # "check" is a DynamoDB reserved word
        ExpressionAttributeNames={"#kind": kind, "#key": KEY},
        ExpressionAttributeValues={":ping": {"M": value}, ":expires": {"N": str(_seconds(now + RETENTION))}},
    )


def pings(item: dict[str, Any]) -> Pings:
    """An item (plain values, see _plain) as Pings."""
    return Pings(
        watched_since=_time(item["watched_since"]),
        **{kind: _ping(item[kind]) for kind in KINDS if isinstance(item.get(kind), dict)},
    )


def _ping(value: dict[str, Any]) -> Ping:
    code = value.get("exit_code")
    return Ping(
        at=_time(value["at"]),
        exit_code=int(code) if code is not None else None,
        lines=tuple(str(line) for line in value.get("lines", [])),
    )


def _plain(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}


def _expires(item: dict[str, Any]) -> datetime:
    value = item.get("expires")
    return (
        datetime.fromtimestamp(int(value), tz=UTC)
        if isinstance(value, Decimal | int)
        else datetime.min.replace(tzinfo=UTC)
    )


def _time(ms: Any) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())
