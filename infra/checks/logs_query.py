"""Kind `logs_query`: a schedule invoking the logs_query checker, its query permissions, and its alarms.

The checker function is shared by every logs_query check, so each check brings its own IAM policy
(attached to that function's role) granting logs:StartQuery on exactly its log groups: adding a
check adds a policy and never edits an existing one. GetQueryResults and StopQuery take no
resource-level permissions (Service Authorization Reference, Amazon CloudWatch Logs: no resource
type for either), so they are granted on "*"; they only read or stop queries by id.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import nag
from infra.checks import CheckContext, checker_alarms, schedule
from vigil.spec.common import CheckBase
from vigil.spec.logs_query import LogsQueryCheck


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, LogsQueryCheck)
    role = ctx.checker(check).function.role
    assert role is not None, "a checker function always has a role"
    policy = query_policy(scope, check, role)
    # The first run must not race the policy: a run without it reports AccessDenied and pages.
    schedule(scope, check, ctx).node.add_dependency(policy)
    checker_alarms(scope, check, ctx)


def log_group_arns(stack: Stack, name: str) -> list[str]:
    """The log group's ARN, and with ':*' the form IAM also evaluates for log-group actions."""
    arn = stack.format_arn(
        service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    return [arn, f"{arn}:*"]


def query_policy(scope: Construct, check: LogsQueryCheck, role: iam.IRole) -> iam.Policy:
    stack = Stack.of(scope)
    policy = iam.Policy(
        scope,
        "QueryPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                actions=["logs:StartQuery"],
                resources=[arn for name in check.log_groups for arn in log_group_arns(stack, name)],
            ),
            iam.PolicyStatement(actions=["logs:GetQueryResults", "logs:StopQuery"], resources=["*"]),
        ],
    )
    findings = ["AwsSolutions-IAM5[Resource::*]"] + [
        f"AwsSolutions-IAM5[Resource::{_as_nag_prints(stack, name)}:*]" for name in check.log_groups
    ]
    nag.acknowledge(
        policy,
        findings,
        "GetQueryResults and StopQuery support no resource-level permissions, and 'log-group:NAME:*' is "
        "the ARN form IAM evaluates for StartQuery on exactly the check's log groups.",
    )
    return policy


def _as_nag_prints(stack: Stack, name: str) -> str:
    """The log group's ARN as cdk-nag spells it in a finding id: unresolved pseudo parameters as <AWS::Name>."""

    def part(value: str, pseudo: str) -> str:
        return f"<{pseudo}>" if Token.is_unresolved(value) else value

    partition = part(stack.partition, "AWS::Partition")
    return f"arn:{partition}:logs:{part(stack.region, 'AWS::Region')}:{part(stack.account, 'AWS::AccountId')}:log-group:{name}"
