"""The ARNs an IAM policy names to let a function read a catalog secret, given as a name or an ARN."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from constructs import Construct


def secret_arns(scope: Construct, ref: str) -> list[str]:
    """The secret's ARN as written, and with the random 6-character suffix that a name (or partial ARN) lacks."""
    if not ref.startswith("arn:"):
        ref = Stack.of(scope).format_arn(
            service="secretsmanager", resource="secret", resource_name=ref, arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
    return [ref, f"{ref}-??????"]
