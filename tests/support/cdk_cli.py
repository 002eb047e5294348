"""The pinned CDK CLI against moto_server for tests: a re-export of infra.local_aws."""

from infra.local_aws import (
    CDK_BIN,
    CdkRun,
    DeployedResource,
    DeploySummary,
    bootstrap,
    cdk,
    cdk_env,
    deploy,
    deployed_resources,
)

__all__ = [
    "CDK_BIN",
    "CdkRun",
    "DeploySummary",
    "DeployedResource",
    "bootstrap",
    "cdk",
    "cdk_env",
    "deploy",
    "deployed_resources",
]
