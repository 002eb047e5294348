"""Kind `heartbeat`: per check a schedule and its alarms; once per stack the ping endpoint and its table.

    job ──curl──► function URL (auth NONE) ──► endpoint Lambda ──► Pings table (KMS: the stack's key)
                   token checked against the check's secret ┘           ▲
    schedule per check ──► heartbeat checker (GetItem, judges) ─────────┘
                                 └─ EMF: HeartbeatMissed, HeartbeatFailed, reason, log lines ──► alarms

The endpoint reads secrets under vigil/heartbeat/ only, and reads and updates only its table; the
checker reads and registers checks in the same table. Neither can create, delete or scan. The
endpoint's errors and throttles page vigil's own route like every vigil function's.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import functions, nag
from infra.checks import CheckContext, checker_alarms, schedule
from infra.selfmon import watch_function
from vigil.heartbeat.store import KEY, TABLE_ENV
from vigil.spec.common import CheckBase
from vigil.spec.heartbeat import TOKEN_SECRET_PREFIX

TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
# What DynamoDB asks of a caller's role for a table under a customer-managed key, and only through DynamoDB.
KEY_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
ENDPOINT_TIMEOUT = Duration.seconds(10)
ENDPOINT_NAME = "heartbeat-endpoint"  # its self-monitoring alarms: vigil-<env>-self-heartbeat-endpoint-errors


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    schedule(scope, check, ctx)
    checker_alarms(scope, check, ctx)
    checker = ctx.checker(check).function
    home = checker.node.scope
    assert isinstance(home, Construct)
    if home.node.try_find_child("Pings") is None:
        table = pings_table(home, "Pings", ctx.key)
        grant_table(checker, table, ctx.key)
        checker.add_environment(TABLE_ENV, table.table_name)
        ping_endpoint(home, "Endpoint", table, ctx)


def pings_table(scope: Construct, construct_id: str, key: kms.IKey) -> dynamodb.Table:
    """One item per check: its registration and last pings; on-demand, the stack's key, expiring rows."""
    table = dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=KEY, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        time_to_live_attribute="expires",
        removal_policy=RemovalPolicy.DESTROY,
    )
    nag.acknowledge(
        table,
        ["AwsSolutions-DDB3"],
        "The table holds only the last pings of each check, which the next run of each job rewrites; a restore would bring back stale state.",
    )
    return table


def grant_table(fn: lambda_.Function, table: dynamodb.Table, key: kms.IKey) -> None:
    """Read and update items of this table, and use the key only through DynamoDB."""
    fn.add_to_role_policy(iam.PolicyStatement(actions=TABLE_ACTIONS, resources=[table.table_arn]))
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=KEY_ACTIONS,
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Stack.of(fn).region}.amazonaws.com"}},
        )
    )


def ping_endpoint(scope: Construct, construct_id: str, table: dynamodb.Table, ctx: CheckContext) -> lambda_.Function:
    fn = functions.function(
        scope,
        construct_id,
        code=ctx.code,
        handler="vigil.heartbeat.endpoint.handler",
        description=f"vigil {ctx.env}: heartbeat ping endpoint",
        timeout=ENDPOINT_TIMEOUT,
        environment={
            "VIGIL_ENV": ctx.env,
            "POWERTOOLS_SERVICE_NAME": f"vigil-{ENDPOINT_NAME}",
            TABLE_ENV: table.table_name,
        },
        log_group_name=f"/vigil/{ctx.env}/{ENDPOINT_NAME}",
        # Function URLs invoke synchronously: the caller retries. The destination serves only stray async calls.
        on_failure=ctx.checker_failures,
        retry_attempts=0,
        max_event_age=Duration.seconds(60),
    )
    grant_table(fn, table, ctx.key)
    stack = Stack.of(scope)
    tokens = stack.format_arn(
        service="secretsmanager",
        resource="secret",
        resource_name=f"{TOKEN_SECRET_PREFIX}*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    fn.add_to_role_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[tokens]))
    assert fn.role is not None
    nag.acknowledge(
        fn.role,
        [
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:"
            f"secret:{TOKEN_SECRET_PREFIX}*]"
        ],
        "The endpoint reads the token of whichever check is pinged; every token lives under this prefix, and the catalog accepts no other.",
    )
    # Public by design: the job's bearer token, checked in the function, is the authentication.
    url = fn.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
    CfnOutput(scope, "PingUrl", value=url.url, description="heartbeat ping endpoint: <url>ping/<check id>")
    watch_function(scope, ctx.alarms, ctx.dashboard, ENDPOINT_NAME, fn)
    return fn
