"""cdk-nag 3.x on every synth: the AwsSolutions and Serverless packs run as CDK policy-validation
plugins, and any finding not acknowledged in code makes `app.synth()` fail.

Acknowledge only through `acknowledge` below: it insists on a reason, which lands in the
construct's metadata next to the rule id (and so in the audit trail of the cloud assembly).
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct


def apply(app: App) -> None:
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True),
        ServerlessChecks(app, verbose=True, write_suppressions_to_cloud_formation=True),
    )


def acknowledge(construct: IConstruct, rule_ids: Iterable[str], reason: str) -> None:
    """Acknowledge findings on one construct (and its children); finding ids as cdk-nag prints them."""
    if not reason.strip().endswith("."):
        raise ValueError("a nag acknowledgment needs a one-sentence reason")
    Validations.of(construct).acknowledge(*(Acknowledgment(id=rule, reason=reason) for rule in rule_ids))
