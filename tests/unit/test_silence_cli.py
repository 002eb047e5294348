"""`python -m infra silence` against moto DynamoDB: create, list, expire, clear errors; the notifier honours it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from test_notifier_delivery import sns_event
from test_notifier_handler import REGION, Routes, summary

from infra.__main__ import main
from tests.support.catalogs import FIXTURE_CATALOG
from tests.support.state_table import create_state_table
from vigil.notifier import handler as notifier
from vigil.notifier.state import table_name
from vigil.silences.adhoc import PARTITION, AdhocSilence

TABLE = table_name("demo")  # the default environment's table


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_state_table(client, TABLE)
        yield client


def silence(*args: str) -> int:
    return main(["silence", *args, "--catalog", str(FIXTURE_CATALOG)])


def stored(client: Any) -> list[AdhocSilence]:
    items = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": PARTITION}}
    )["Items"]
    return [AdhocSilence.from_item(i) for i in items]


def created_id(out: str) -> str:
    match = re.search(r"^silence ([0-9a-f]{6}): ", out, flags=re.MULTILINE)
    assert match, out
    return match.group(1)


def test_a_check_is_silenced_for_a_while_with_who_and_why(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    before = datetime.now(UTC).replace(microsecond=0)  # stored to the second
    assert silence("campaign-api-health", "--for", "2h", "--reason", "deploying v2", "--by", "alice") == 0
    (found,) = stored(aws)
    assert (found.target, found.name, found.reason, found.created_by) == (
        "check",
        "campaign-api-health",
        "deploying v2",
        "alice",
    )
    assert timedelta(hours=2) <= found.until - before <= timedelta(hours=2, seconds=30)
    item = aws.get_item(TableName=TABLE, Key={"pk": {"S": PARTITION}, "sk": {"S": f"adhoc#{found.id}"}})["Item"]
    assert item["expires_at"] == {"N": str(int(found.until.timestamp()))}  # the TTL is the silence's end
    assert created_id(capsys.readouterr().out) == found.id


def test_a_service_is_silenced_and_the_caller_is_who_by_default(aws: Any) -> None:
    assert silence("campaign-db", "--for", "30m", "--reason", "patching") == 0
    (found,) = stored(aws)
    assert (found.target, found.name, found.created_by) == ("service", "campaign-db", "moto")  # moto's caller


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["no-such-thing", "--for", "1h", "--reason", "x"], "'no-such-thing' is neither a check nor a service"),
        (["orders", "--reason", "x"], "give --for"),
        (["orders", "--for", "1h"], "and --reason"),
        (["orders", "--for", "two hours", "--reason", "x"], "--for: not a duration"),
        (["orders", "--for", "361h", "--reason", "x"], "from 1m to 360h"),
        (["expire"], "expire needs the id"),
        (["expire", "nope42"], "no silence 'nope42'"),
    ],
)
def test_wrong_use_is_a_clear_error(aws: Any, capsys: pytest.CaptureFixture[str], args: list[str], words: str) -> None:
    assert silence(*args) == 1
    assert words in capsys.readouterr().out
    assert stored(aws) == []


def test_list_shows_silences_in_force_and_with_all_those_that_ended(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert silence("orders", "--for", "1h", "--reason", "reindex", "--by", "alice") == 0
    kept = created_id(capsys.readouterr().out)
    assert silence("campaign-db", "--for", "1h", "--reason", "patching", "--by", "bob") == 0
    ended = created_id(capsys.readouterr().out)
    assert silence("expire", ended, "--by", "carol") == 0
    printed = capsys.readouterr().out
    assert f"silence {ended} (service campaign-db) ended at " in printed
    assert "still in ALARM pages at " in printed and ", its planned end, or at its next change" in printed

    assert silence("list") == 0
    out = capsys.readouterr().out
    assert re.search(rf"^{kept}  service orders  .* in force  by alice: reindex$", out, flags=re.MULTILINE)
    assert ended not in out
    assert silence("list", "--all") == 0
    out = capsys.readouterr().out
    assert re.search(
        rf"^{ended}  service campaign-db  .* expired early by carol  by bob: patching$", out, flags=re.MULTILINE
    )
    assert silence("expire", ended) == 0
    assert "already ended" in capsys.readouterr().out


def test_without_the_table_the_command_says_what_to_check(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    aws.delete_table(TableName=TABLE)
    assert silence("list") == 1
    out = capsys.readouterr().out
    assert TABLE in out and "ResourceNotFoundException" in out and "that the stack is deployed" in out


def test_without_a_region_the_command_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert silence("list") == 1
    out = capsys.readouterr().out
    assert (
        out.startswith(f"error: {TABLE}: You must specify a region.") and "check the AWS credentials and region" in out
    )


def test_the_notifier_holds_what_the_command_silenced_and_pages_once_it_is_expired(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "TOPIC_ARN_PREFIX": f"arn:aws:sns:{REGION}:123456789012:vigil-prod-",
        "FALLBACK_ROUTE": "ops-fallback",
        "STATE_TABLE": TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(notifier, "_clients", {})
    Routes()
    assert silence("orders", "--for", "1h", "--reason", "reindex", "--by", "alice") == 0
    silence_id = created_id(capsys.readouterr().out)

    def alarm_now(state: str) -> dict[str, Any]:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        return sns_event(f"m-{state}-{now}", NewStateValue=state, StateChangeTime=now)

    assert notifier.handler(alarm_now("ALARM"), None) == summary(skipped=1)  # orders-queue is of service orders
    assert Routes.published("campaigns-critical") == []
    assert silence("expire", silence_id, "--by", "alice") == 0
    assert notifier.handler(alarm_now("OK"), None) == summary(published=1)
    ((subject, message),) = Routes.published("campaigns-critical")
    assert subject == "[OK][critical] orders-queue backlog recovered - orders"
    assert (
        f"by silence {silence_id} by alice (reindex): 1 alarm held: orders-queue backlog (ALARM " in message["default"]
    )
