"""The IAM statements that let a function read the catalog secrets it uses (infra.secret_convention).

One statement allows the whole prefix when any secret is under it, and one more lists the exceptions;
with a prefix grant, a Deny keeps heartbeat job tokens (under the same prefix) out of reach.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import nag
from infra.secret_convention import SECRET_PREFIX, by_prefix, explicit
from vigil.spec.heartbeat import TOKEN_SECRET_PREFIX

READ = ["secretsmanager:GetSecretValue"]


def secret_arn(scope: Construct, name: str) -> str:
    return Stack.of(scope).format_arn(
        service="secretsmanager", resource="secret", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


def secret_arns(scope: Construct, ref: str) -> list[str]:
    """The secret's ARN as written, and with the random 6-character suffix that a name (or partial ARN) lacks."""
    if not ref.startswith("arn:"):
        ref = secret_arn(scope, ref)
    return [ref, f"{ref}-??????"]


def grant_secret_reads(fn: lambda_.Function, refs: Iterable[str]) -> None:
    """Let `fn` read these secrets: the prefix once (whatever the count), each exception by its ARNs."""
    refs = sorted(set(refs))
    if not refs:
        return
    if any(by_prefix(ref) for ref in refs):
        fn.add_to_role_policy(iam.PolicyStatement(actions=READ, resources=[secret_arn(fn, f"{SECRET_PREFIX}*")]))
        fn.add_to_role_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY, actions=READ, resources=[secret_arn(fn, f"{TOKEN_SECRET_PREFIX}*")]
            )
        )
        assert fn.role is not None
        nag.acknowledge(
            fn.role,
            [
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:"
                f"secret:{SECRET_PREFIX}*]"
            ],
            "Catalog secrets are named under vigil/ (docs/operations.md) so the grant stays one statement as checks grow; heartbeat tokens under it are denied.",
        )
    exceptions = explicit(refs)
    if exceptions:
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=READ, resources=[arn for ref in exceptions for arn in secret_arns(fn, ref)])
        )
