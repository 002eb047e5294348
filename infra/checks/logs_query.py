"""Kind `logs_query`: a schedule invoking the logs_query checker, its query permissions, and its alarms.

The checker function is shared by every logs_query check; each check adds logs:StartQuery on
exactly its log groups to its service stack's access role (infra.checks.access), which the schedule
names, so adding a check changes only its service's stack. GetQueryResults and StopQuery take no
resource-level permissions (Service Authorization Reference, Amazon CloudWatch Logs: no resource
type for either), so they are granted on "*"; they only read or stop queries by id.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import nag
from infra.checks import CheckContext, checker_alarms, schedule
from infra.checks.access import access_role, nag_arn
from vigil.spec.common import CheckBase
from vigil.spec.logs_query import LogsQueryCheck


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, LogsQueryCheck)
    # GetQueryResults and StopQuery read or stop a query by id; neither takes a resource.
    by_id = iam.PolicyStatement(actions=["logs:GetQueryResults", "logs:StopQuery"], resources=["*"])
    role = access_role(scope, check, ctx, [by_id])
    grant_queries(role, check)
    schedule(scope, check, ctx, access=role)
    checker_alarms(scope, check, ctx)


def log_group_arns(stack: Stack, name: str) -> list[str]:
    """The log group's ARN, and with ':*' the form IAM also evaluates for log-group actions."""
    arn = stack.format_arn(
        service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    return [arn, f"{arn}:*"]


def grant_queries(role: iam.Role, check: LogsQueryCheck) -> None:
    """StartQuery on exactly the check's log groups, in its service's access role."""
    stack = Stack.of(role)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:StartQuery"],
            resources=[arn for name in check.log_groups for arn in log_group_arns(stack, name)],
        )
    )
    findings = ["AwsSolutions-IAM5[Resource::*]"] + [
        f"AwsSolutions-IAM5[Resource::{nag_arn(stack, 'logs', f'log-group:{name}')}:*]" for name in check.log_groups
    ]
    nag.acknowledge(
        role,
        findings,
        "GetQueryResults and StopQuery support no resource-level permissions, and 'log-group:NAME:*' is "
        "the ARN form IAM evaluates for StartQuery on exactly the check's log groups.",
    )
