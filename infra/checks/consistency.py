"""Kind `consistency`: a schedule invoking the consistency checker, its alarms, and what it needs.

Per check: read access to a DynamoDB or S3 side, in its service stack's access role
(infra.checks.access), which the schedule names and the checker assumes for those reads; so adding
a check changes only its service's stack, never the shared function's role. SQL and search sides
come through secrets, which CheckContext grants: a check with only those has no access role. Per
checker function (once, shared by its checks): a reports bucket to write each run's differences
to, and, when a check may scale out (mode step_functions or auto), a state machine whose Map state
runs the same checker once per mismatched bucket (in the same access role), then once to gather:

    Buckets (Map over $.buckets, phase=bucket) ──► Gather (phase=gather: metrics, like a run)
        └─ any bucket (or Gather) failed ─► GatherFailure (phase=gather with the error: MeasureFailed)

The state machine has a fixed name, so the function can know its ARN without a reference cycle.

What no Catch can report pages through a self-monitoring alarm on the state machine's failed,
timed-out and aborted executions (see scale_out_alarm): the scheduled run that handed off wrote
MeasureFailed=0, so without it such a run would look like a clean one.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra import functions, nag
from infra.checks import CheckContext, Checker, checker_alarms, schedule
from infra.checks.access import access_role
from infra.selfmon import FUNCTION_RULE
from vigil.checkers.consistency import REPORTS_BUCKET, STATE_MACHINE
from vigil.checkers.runner import ACCESS_ROLE
from vigil.spec.common import CheckBase
from vigil.spec.consistency import ConsistencyCheck, DynamoDbEndpoint, S3Endpoint

REPORT_RETENTION = Duration.days(90)
# /tmp for Parquet exports: an object larger than vigil.consistency.stores.IN_MEMORY is downloaded
# there whole before it is read, so this bounds the largest Parquet file (Lambda's maximum; the
# 512 MB default would refuse a 1 GB part). Set only on functions with a Parquet side.
PARQUET_TMP_MB = 10240
# Buckets drilled at once: each holds its own database connections.
MAP_CONCURRENCY = 10
# The most buckets one execution drills (vigil.spec.consistency: at most 1024 top-level buckets).
MAX_BUCKETS = 1024


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, ConsistencyCheck)
    stack = Stack.of(scope)
    grants = [statement for endpoint in (check.source, check.target) for statement in read_access(stack, endpoint)]
    role = access_role(scope, check, ctx) if grants else None
    if role is not None:
        for statement in grants:
            role.add_to_policy(statement)
        for endpoint in (check.source, check.target):
            if isinstance(endpoint, S3Endpoint):
                nag.acknowledge(
                    role,
                    [f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{endpoint.bucket}/{endpoint.prefix}*]"],
                    "The checker reads every export object under the prefix the catalog names, and no others.",
                )
    schedule(scope, check, ctx, access=role)
    checker_alarms(scope, check, ctx)
    checker = ctx.checker(check)
    fn = checker.function
    home = fn.node.scope
    assert isinstance(home, Construct)
    if home.node.try_find_child("Reports") is None:
        bucket = reports_bucket(home, "Reports", ctx.key)
        grant_reports(fn, bucket)
        fn.add_environment(REPORTS_BUCKET, bucket.bucket_name)
    if any(isinstance(e, S3Endpoint) and e.format == "parquet" for e in (check.source, check.target)):
        cfn = fn.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.ephemeral_storage = lambda_.CfnFunction.EphemeralStorageProperty(size=PARQUET_TMP_MB)
    if check.uses_step_functions() and home.node.try_find_child("ScaleOut") is None:
        machine = state_machine(home, "ScaleOut", checker, ctx)
        scale_out_alarm(machine, checker, ctx)


def read_access(stack: Stack, endpoint: object) -> list[iam.PolicyStatement]:
    """What the checker needs to read a DynamoDB or S3 side; nothing for SQL and search sides."""
    if isinstance(endpoint, DynamoDbEndpoint):
        table = stack.format_arn(service="dynamodb", resource="table", resource_name=endpoint.table)
        return [iam.PolicyStatement(actions=["dynamodb:Scan", "dynamodb:DescribeTable"], resources=[table])]
    if isinstance(endpoint, S3Endpoint):
        return [
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[f"arn:{stack.partition}:s3:::{endpoint.bucket}"],
                conditions={"StringLike": {"s3:prefix": [f"{endpoint.prefix}*"]}},
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[f"arn:{stack.partition}:s3:::{endpoint.bucket}/{endpoint.prefix}*"]
            ),
        ]
    return []


def grant_reports(fn: lambda_.Function, bucket: s3.Bucket) -> None:
    """Write-only: put objects, with the bucket key's data keys (multipart uploads decrypt parts)."""
    fn.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects("*")]))
    assert bucket.encryption_key is not None
    fn.add_to_role_policy(
        iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[bucket.encryption_key.key_arn])
    )
    stack = Stack.of(fn)
    bucket_id = stack.resolve(stack.get_logical_id(bucket.node.default_child))  # type: ignore[arg-type]
    assert fn.role is not None
    nag.acknowledge(
        fn.role,
        [f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]"],
        "Each run writes a new report object with a run-specific name into this bucket, which holds nothing else.",
    )


def reports_bucket(scope: Construct, construct_id: str, key: kms.IKey) -> s3.Bucket:
    """Differences of every run, one JSON Lines object each; encrypted with the stack's key, TLS only, expiring."""
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        lifecycle_rules=[s3.LifecycleRule(expiration=REPORT_RETENTION)],
        removal_policy=RemovalPolicy.RETAIN,
    )
    nag.acknowledge(
        bucket,
        ["AwsSolutions-S1"],
        "Only the checker writes here and reports expire after 90 days; CloudTrail records who read them.",
    )
    return bucket


def scale_out_signal(checker: Checker) -> str:
    """The self-monitoring signal of one checker's state machine, named like its function's."""
    return "checker-consistency" + ("" if checker.key == "public" else f"-{checker.key}") + "-scale-out"


def scale_out_alarm(machine: sfn.StateMachine, checker: Checker, ctx: CheckContext) -> cloudwatch.Alarm:
    """Any execution that failed, timed out or was aborted in five minutes pages.

    Why an alarm on the execution, and a self-monitoring one: Catch covers a failed bucket or
    Gather (GatherFailure then writes MeasureFailed=1 to the check's own measure alarm), but not
    States.DataLimitExceeded (too large a Map result for Gather), States.Runtime, the execution's
    timeout, GatherFailure failing itself, or someone stopping the execution; each of those
    ends the run with no metric at all, after the scheduled run wrote MeasureFailed=0. AWS/States
    counts them per state machine, and the state machine is shared by every check of the checker
    function: the alarm cannot say which check, and what it reports (payload too large, a stuck
    or broken step) is vigil's to fix, so it pages vigil's own route; the execution's name starts
    with the check id.
    """
    dims = {"StateMachineArn": machine.state_machine_arn}

    def count(name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace="AWS/States", metric_name=name, dimensions_map=dims, statistic="Sum")

    ended = cloudwatch.MathExpression(
        # FILL: a series without a point in a period counts 0 rather than blanking the sum.
        expression="FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0)",
        using_metrics={
            "failed": count("ExecutionsFailed"),
            "timed_out": count("ExecutionsTimedOut"),
            "aborted": count("ExecutionsAborted"),
        },
        label="executions failed, timed out or aborted",
        period=Duration.seconds(FUNCTION_RULE.period),
    )
    summary = "a consistency comparison handed to Step Functions failed, timed out or was aborted"
    alarm = ctx.alarms.for_self(machine, scale_out_signal(checker), FUNCTION_RULE, ended, summary)  # type: ignore[arg-type]
    ctx.dashboard.add_self(scale_out_signal(checker), [alarm.metric], [alarm])
    return alarm


def execution_timeout(checker: Checker) -> Duration:
    """Long enough for the most buckets at MAP_CONCURRENCY, each up to the function's timeout, then
    Gather (or GatherFailure): a backstop that turns a stuck execution into ExecutionsTimedOut."""
    rounds = -(-MAX_BUCKETS // MAP_CONCURRENCY) + 2
    return Duration.seconds(rounds * checker.timeout)


def state_machine_name(ctx: CheckContext, checker: Checker) -> str:
    return f"vigil-{ctx.env}-consistency-{checker.key}"[:80]


def state_machine(scope: Construct, construct_id: str, checker: Checker, ctx: CheckContext) -> sfn.StateMachine:
    fn = checker.function
    home = Construct(scope, construct_id)
    bucket_step = tasks.LambdaInvoke(
        home,
        "Bucket",
        lambda_function=fn,
        payload_response_only=True,
        retry_on_service_exceptions=True,
        task_timeout=sfn.Timeout.duration(Duration.seconds(checker.timeout)),
    )
    each = {
        "phase": "bucket",
        "bucket": sfn.JsonPath.string_at("$$.Map.Item.Value"),
        "index": sfn.JsonPath.number_at("$$.Map.Item.Index"),
        "check": sfn.JsonPath.object_at("$.check"),
        "secrets": sfn.JsonPath.object_at("$.secrets"),
        "cutoff": sfn.JsonPath.string_at("$.cutoff"),
        "run": sfn.JsonPath.string_at("$.run"),
        # The schedule's access role, or null: the payload always carries the key (a missing path
        # would fail the Map with States.Runtime), so each bucket reads as the scheduled run did.
        ACCESS_ROLE: sfn.JsonPath.string_at(f"$.{ACCESS_ROLE}"),
    }
    buckets = sfn.Map(
        home,
        "Buckets",
        items_path="$.buckets",
        item_selector=each,
        max_concurrency=MAP_CONCURRENCY,
        result_path="$.results",
    )
    buckets.item_processor(bucket_step)
    common = {
        "phase": "gather",
        "check": sfn.JsonPath.object_at("$.check"),
        "secrets": sfn.JsonPath.object_at("$.secrets"),
        "run": sfn.JsonPath.string_at("$.run"),
        "plan": sfn.JsonPath.object_at("$.plan"),
    }
    gather = tasks.LambdaInvoke(
        home,
        "Gather",
        lambda_function=fn,
        payload=sfn.TaskInput.from_object({**common, "results": sfn.JsonPath.list_at("$.results")}),
        payload_response_only=True,
    )
    failed = tasks.LambdaInvoke(
        home,
        "GatherFailure",
        lambda_function=fn,
        payload=sfn.TaskInput.from_object({**common, "error": sfn.JsonPath.object_at("$.error")}),
        payload_response_only=True,
    )
    buckets.add_catch(failed, result_path="$.error")
    # Gather's own failure (its function timing out, say) is reported the same way.
    gather.add_catch(failed, result_path="$.error")
    log_group = logs.LogGroup(home, "Logs", retention=functions.LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
    machine = sfn.StateMachine(
        home,
        "StateMachine",
        state_machine_name=state_machine_name(ctx, checker),
        definition_body=sfn.DefinitionBody.from_chainable(buckets.next(gather)),
        timeout=execution_timeout(checker),
        # ALL events, without their data: inputs carry the check spec, which the checker logs anyway.
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        tracing_enabled=True,
    )
    stack = Stack.of(home)
    arn = stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=state_machine_name(ctx, checker),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    fn.add_environment(STATE_MACHINE, arn)
    fn.add_to_role_policy(iam.PolicyStatement(actions=["states:StartExecution"], resources=[arn]))
    fn_id = stack.resolve(stack.get_logical_id(fn.node.default_child))  # type: ignore[arg-type]
    nag.acknowledge(
        machine,
        [f"AwsSolutions-IAM5[Resource::<{fn_id}.Arn>:*]", "AwsSolutions-IAM5[Resource::*]"],
        "Invoke covers this one checker's versions, and log delivery and X-Ray APIs accept no narrower resource.",
    )
    return machine
