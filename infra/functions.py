"""vigil's Lambda functions share one shape: ARM_64 python3.12, own role, own log group, traced,
retried asynchronously into a dead-letter queue. Checker and notifier modules only say what differs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag, packaging
from infra.sizing import DEFAULT_MEMORY_MB

LOG_RETENTION = logs.RetentionDays.ONE_MONTH
FAILURE_RETENTION = Duration.days(14)  # SQS's maximum: time to read what failed after a long weekend


def failure_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """Where events go when every retry failed; a self-monitoring alarm fires on any message."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=FAILURE_RETENTION,
    )
    nag.acknowledge(
        queue,
        ["AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"],
        "This queue is itself the last stop for failed events; a dead-letter queue behind it would only move the problem.",
    )
    return queue


# Checkers run 43,800 times a month per 1-minute check, so their log lines are a bill of their own.
# JSON format lets Lambda filter by level (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html):
# system WARN drops the START/END/REPORT lines of every run (INFO), a timeout's "Status: timeout"
# included: a timed-out run shows in the function's Errors metric, which self-monitoring alarms
# on, and in the failure queue (docs/operations.md). Application INFO keeps the EMF line (printed
# without a level, which Lambda treats as INFO) and every warning and error the checker logs.
_QUIET_LOGS: dict[str, object] = {
    "logging_format": lambda_.LoggingFormat.JSON,
    "system_log_level_v2": lambda_.SystemLogLevel.WARN,
    "application_log_level_v2": lambda_.ApplicationLogLevel.INFO,
}


def function(
    scope: Construct,
    construct_id: str,
    *,
    code: lambda_.Code,
    handler: str,
    description: str,
    timeout: Duration,
    environment: dict[str, str],
    on_failure: sqs.IQueue,
    retry_attempts: int,
    max_event_age: Duration,
    memory_size: int = DEFAULT_MEMORY_MB,
    reserved_concurrency: int | None = None,
    traced: bool = True,
    vpc: ec2.IVpc | None = None,
    subnets: list[ec2.ISubnet] | None = None,
    security_groups: list[ec2.ISecurityGroup] | None = None,
    log_group_name: str | None = None,
    quiet_logs: bool = False,
) -> lambda_.Function:
    # Our own role and log group: the default role carries AWSLambdaBasicExecutionRole, which may
    # write to every log group in the account.
    role = iam.Role(scope, f"{construct_id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        log_group_name=log_group_name,
        retention=LOG_RETENTION,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role.add_to_policy(
        iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn])
    )
    fn = lambda_.Function(
        scope,
        construct_id,
        code=code,
        handler=handler,
        runtime=packaging.RUNTIME,
        architecture=packaging.ARCHITECTURE,
        description=description,
        timeout=timeout,
        memory_size=memory_size,
        reserved_concurrent_executions=reserved_concurrency,
        environment=environment,
        role=role,
        log_group=log_group,
        **(_QUIET_LOGS if quiet_logs else {}),
        tracing=lambda_.Tracing.ACTIVE if traced else lambda_.Tracing.DISABLED,
        retry_attempts=retry_attempts,
        max_event_age=max_event_age,
        on_failure=destinations.SqsDestination(on_failure),
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnets=subnets) if subnets else None,
        security_groups=security_groups,
    )
    if vpc is not None:
        role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
        )
        nag.acknowledge(
            role,
            [
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]"
            ],
            "Network interface actions cannot be scoped to resources; the AWS-maintained policy tracks what Lambda needs in a VPC.",
        )
    nag.acknowledge(
        fn,
        ["AwsSolutions-L1", "Serverless-LambdaLatestVersion"],
        "The runtime is pinned to python3.12 because packaging builds cp312 wheels; both move together.",
    )
    if not traced:
        nag.acknowledge(
            fn,
            ["Serverless-LambdaTracing"],
            "Checkers run once per check and cadence (43,800 times a month for a 1-minute check), so a trace each would cost more than the check; each run's EMF line and log record are its trace.",
        )
    nag.acknowledge(
        fn,
        ["Serverless-LambdaDLQ"],
        "Failed async invocations go to an on-failure destination queue, which records more than a DeadLetterConfig.",
    )
    nag.acknowledge(
        role,
        ["AwsSolutions-IAM5[Resource::*]"],
        "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions.",
    )
    return fn
