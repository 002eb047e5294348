"""`make demo`'s scheduled job: it pings its heartbeat check on time for a while, then misses a run.

The pings go through the real ping endpoint (vigil.heartbeat.endpoint) in-process, as function URL
requests (payload format 2.0: "Invoking Lambda function URLs", AWS Lambda developer guide) with the
check's bearer token, read by the endpoint from moto Secrets Manager, into the heartbeat table the
stack deployed to moto. The heartbeat checker judges them on the demo's simulated clock: the real
clock runs a few seconds while the demo's minutes pass.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from vigil import secrets as vigil_secrets
from vigil.checkers import heartbeat as checker
from vigil.heartbeat import endpoint, store
from vigil.spec.common import CheckBase, format_duration
from vigil.spec.heartbeat import HeartbeatCheck

PINGS_TABLE_ID = "Pings"  # the construct id of the table infra/checks/heartbeat.py makes


class PingingJob:
    """A job that runs and pings at the given minutes only."""

    def __init__(self, check: HeartbeatCheck, runs_at: set[int]) -> None:
        self.check = check
        self.runs_at = runs_at
        self.token = secrets.token_hex(24)
        self.table = ""

    def start(self, cloudformation: Any, secretsmanager: Any, dynamodb: Any, stack: str) -> str:
        """Its token secret, and the checker pointed at the deployed table; what to print about it."""
        resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
        tables = [
            r["PhysicalResourceId"]
            for r in resources
            if r.get("ResourceType") == "AWS::DynamoDB::Table" and PINGS_TABLE_ID in r.get("LogicalResourceId", "")
        ]
        if len(tables) != 1:
            raise RuntimeError(f"stack {stack}: expected one heartbeat table, found {tables}")
        self.table = tables[0]
        dynamodb.describe_table(TableName=self.table)  # deployed, or the demo stops here
        # What the stack sets on the heartbeat checker's function (the demo restores the environment after).
        os.environ[store.TABLE_ENV] = self.table
        store.client.cache_clear()
        vigil_secrets.clear_cache()
        secretsmanager.create_secret(Name=self.check.token_secret_name, SecretString=json.dumps({"token": self.token}))
        return (
            f"== heartbeat {self.check.id}: a job that should run every {format_duration(self.check.period or 0)} "
            f"(grace {format_duration(self.check.grace)}) pings the endpoint as function URL requests, token in "
            f"Secrets Manager ({self.check.token_secret_name}); pings go to the deployed table {self.table}"
        )

    def minute(self, minute: int, now: datetime) -> str | None:
        """The job's run this minute, if it runs: one ping, through the endpoint; what to print."""
        if minute not in self.runs_at:
            return None
        output = f"report for {now:%H:%M} written: 1200 rows\nexit 0\n".encode()
        path = f"/ping/{self.check.id}/0"
        answer = endpoint.handle(
            function_url_event(path, self.token, output, now),
            now,
            store.client(),
            self.table,
            vigil_secrets.get_json_secret,
        )
        return f"job {self.check.id} ran and pinged POST {path}: {answer.status} {answer.text}"


def function_url_event(path: str, token: str, body: bytes, at: datetime) -> dict[str, Any]:
    """A POST through a function URL (auth NONE), as Lambda delivers it (payload format 2.0)."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "authorization": f"Bearer {token}",
            "content-type": "application/x-www-form-urlencoded",
            "host": "abcdefghij0123456789.lambda-url.us-east-1.on.aws",
            "user-agent": "curl/8.5.0",
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij0123456789",
            "domainName": "abcdefghij0123456789.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij0123456789",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": secrets.token_hex(16),
            "routeKey": "$default",
            "stage": "$default",
            "time": at.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(at.timestamp() * 1000),
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }


@contextlib.contextmanager
def simulated_clock(check: CheckBase, now: datetime) -> Iterator[None]:
    """The heartbeat checker judges the pings at the demo's minute, not at the wall clock's."""
    if not isinstance(check, HeartbeatCheck):
        yield
        return
    wall = checker.now
    checker.now = lambda: now
    try:
        yield
    finally:
        checker.now = wall
