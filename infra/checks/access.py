"""Access roles: what the checkers that read AWS APIs (logs_query, sqs by prefix, consistency's
DynamoDB and S3 sides) may read.

Their functions are shared by every check of the kind, and each check reads its own log groups,
queues, tables or export prefixes. Granting each check's resources to the shared function's role made that one role grow
with the catalog: at 1,000 checks its inline policies needed 27,754 characters, past IAM's 10,240
per role. Instead each service stack has one role per checker it uses, under the path
`/vigil-<env>/<kind>/`, trusting only that checker function's role and holding exactly the grants
of that service's checks; the schedule tells the checker to work in it (vigil.checkers.aws). So
adding a check changes only its service's stack, and the function's own role holds one constant
statement for it: it may assume the roles under its kind's path (beside what the function itself
needs whatever the catalog: consistency's reports bucket and state machine).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import nag
from infra.checks import CheckContext, Checker
from vigil.spec.common import CheckBase


def role_path(env: str, kind: str) -> str:
    return f"/vigil-{env}/{kind}/"


def access_role(
    scope: Construct, check: CheckBase, ctx: CheckContext, shared: Sequence[iam.PolicyStatement] = ()
) -> iam.Role:
    """The role of the check's service stack for the check's checker, made on first use with the
    `shared` statements every check of the kind needs (actions without resource-level permissions)."""
    checker = ctx.checker(check)
    stack = Stack.of(scope)
    key = (stack.node.path, check.kind, checker.key)
    if key not in ctx.access_roles:
        function_role = checker.function.role
        assert function_role is not None, "a checker function always has a role"
        _may_assume(checker, ctx.env, check.kind)
        role = iam.Role(
            stack,
            f"Access-{check.kind}-{checker.key}",
            assumed_by=iam.ArnPrincipal(function_role.role_arn),
            path=role_path(ctx.env, check.kind),
            description=f"vigil {ctx.env}: what the {check.kind} checker may read for this service's checks",
        )
        for statement in shared:
            role.add_to_policy(statement)
        ctx.access_roles[key] = role
    return ctx.access_roles[key]


def _may_assume(checker: Checker, env: str, kind: str) -> None:
    if checker.assumes_access_roles:
        return
    stack = Stack.of(checker.function)
    roles = stack.format_arn(service="iam", region="", resource="role", resource_name=f"vigil-{env}/{kind}/*")
    checker.function.add_to_role_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[roles]))
    assert checker.function.role is not None, "a checker function always has a role"
    nag.acknowledge(
        checker.function.role,
        [f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/vigil-{env}/{kind}/*]"],
        "The checker may assume only the access roles vigil's service stacks create under its kind's path, "
        "each trusting this function's role alone and granting exactly its service's checks.",
    )
    checker.assumes_access_roles = True


def nag_arn(stack: Stack, service: str, resource: str) -> str:
    """An ARN of this stack's account and region as cdk-nag spells it in a finding id: unresolved
    pseudo parameters as <AWS::Name>."""

    def part(value: str, pseudo: str) -> str:
        return f"<{pseudo}>" if Token.is_unresolved(value) else value

    partition = part(stack.partition, "AWS::Partition")
    return f"arn:{partition}:{service}:{part(stack.region, 'AWS::Region')}:{part(stack.account, 'AWS::AccountId')}:{resource}"
