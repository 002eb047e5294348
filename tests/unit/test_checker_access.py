"""The AWS-reading checkers (logs_query, sqs by prefix) work in the access role their schedule names
(vigil.checkers.aws, infra.checks.access): moto records every AssumeRole, so these tests see it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sts.models import sts_backends

from tests.support.emf import assert_vigil_emf, only_emf
from vigil.checkers import aws, logs_query, sqs
from vigil.checkers.runner import make_event
from vigil.spec.logs_query import LogsQueryCheck
from vigil.spec.sqs import SqsCheck

REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/vigil-demo/sqs/VigilOrdersAccess"


def _assumed() -> list[tuple[str, str]]:
    backend = sts_backends[DEFAULT_ACCOUNT_ID]["aws"]
    return [(role.role_arn, role.session_name) for role in backend.assumed_roles]


@pytest.fixture
def moto(monkeypatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        aws.clear_cache()
        yield boto3.client("sqs", region_name=REGION)
    aws.clear_cache()


def _sqs_check() -> SqsCheck:
    return SqsCheck.model_validate(
        {"id": "fulfilment", "kind": "sqs", "service": "orders", "severity": "warning", "queue_prefix": "orders-"}
    )


def test_the_checker_reads_in_the_role_its_schedule_names(moto, capsys):
    moto.create_queue(QueueName="orders-eu")
    result = sqs.handler(make_event(_sqs_check(), {}, access_role=ROLE))
    assert result["status"] == "ok", result
    assert result["values"]["Queues"] == 1
    assert _assumed() == [(ROLE, aws.SESSION_NAME)]
    # The client signs with the role's temporary credentials, not the function's own.
    signer = aws.client("sqs", ROLE)._request_signer._credentials
    assert signer.access_key.startswith("ASIA") and signer.token


def test_without_a_role_the_caller_reads_as_itself(moto):
    moto.create_queue(QueueName="orders-eu")
    result = sqs.handler(make_event(_sqs_check(), {}))
    assert result["status"] == "ok", result
    assert _assumed() == []


# Lambda's longest timeout (Lambda quotas: 900 seconds): a run never outlives the credentials it started with.
LAMBDA_MAX_TIMEOUT_S = 900


def test_credentials_are_renewed_before_any_run_could_outlive_them(moto):
    first = aws.client("sqs", ROLE)
    assert aws.client("sqs", ROLE) is first
    expires = aws._roles[ROLE].expires
    assert aws.REFRESH_MARGIN_S >= LAMBDA_MAX_TIMEOUT_S
    assert aws.client("sqs", ROLE, now=lambda: expires - aws.REFRESH_MARGIN_S - 1) is first
    renewed = aws.client("sqs", ROLE, now=lambda: expires - LAMBDA_MAX_TIMEOUT_S + 1)
    assert renewed is not first
    assert aws.client("sqs", ROLE, now=lambda: expires + 1) is not renewed  # expired: renewed again
    assert len(_assumed()) == 3


def test_every_role_shares_one_session_and_the_least_recently_used_are_forgotten(moto, monkeypatch):
    made = []
    real = boto3.Session

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(boto3, "Session", counted)
    roles = [f"{ROLE}{n}" for n in range(aws.MAX_ROLES + 1)]
    clients = [aws.client("sqs", role) for role in roles]
    # One session loads the service models once; each role's client signs with its own keys.
    assert len(made) == 1
    assert len({c._request_signer._credentials.access_key for c in clients}) == len(roles)
    assert list(aws._roles) == roles[1:]


def test_a_role_that_cannot_be_assumed_fails_the_run_with_the_reason(monkeypatch, capsys):
    def refuse(session: Any, role: str | None) -> Any:
        error = {"Code": "AccessDenied", "Message": f"not authorized to perform: sts:AssumeRole on resource: {role}"}
        raise ClientError({"Error": error}, "AssumeRole")

    monkeypatch.setattr(aws, "_open", refuse)
    aws.clear_cache()
    check = LogsQueryCheck.model_validate(
        {
            "id": "api-errors",
            "kind": "logs_query",
            "service": "api",
            "severity": "warning",
            "log_groups": ["/ecs/api"],
            "query": "stats count(*) as errors",
        }
    )
    role = ROLE.replace("/sqs/", "/logs_query/")
    result = logs_query.handler(make_event(check, {}, access_role=role))
    assert (result["status"], result["reason_code"]) == ("failed", "access_denied")
    assert "sts:AssumeRole" in result["reason"] and role in result["reason"]
    assert_vigil_emf(only_emf(capsys.readouterr().out), "api-errors", {"MeasureFailed": 1})


@pytest.mark.parametrize(
    ("event", "role"),
    [
        ({"check": {}, "access_role": ROLE}, ROLE),
        ({"check": {}}, None),
        ({"check": {}, "access_role": ""}, None),
        ({"check": {}, "access_role": ["not", "a", "string"]}, None),
        ("not an event", None),
    ],
)
def test_the_role_is_read_from_the_event_only_when_it_is_a_name(event, role):
    assert aws.access_role(json.loads(json.dumps(event))) == role


def test_dynamodb_keeps_its_ten_attempts_and_every_client_gets_the_same_bounds(moto):
    """Standard retry mode would give a throttled DynamoDB scan 3 retries where legacy mode gave it 10
    attempts; botocore rewrites the retries it is given, so each client must get its own."""
    for _ in range(2):  # the second round: after botocore has seen the config once
        aws.clear_cache()
        dynamodb, sqs_client = aws.client("dynamodb", None), aws.client("sqs", None)
        assert dynamodb.meta.config.retries == {"mode": "standard", "total_max_attempts": 10}
        assert sqs_client.meta.config.retries == {"mode": "standard", "total_max_attempts": aws.RETRIES + 1}
        assert (sqs_client.meta.config.read_timeout, sqs_client.meta.config.connect_timeout) == (10, 5)
