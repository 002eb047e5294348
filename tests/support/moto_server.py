"""moto_server for tests: a thin re-export of infra.local_aws (the demo uses the same code)."""

from infra.local_aws import (
    ACCOUNT,
    REGION,
    LocalAwsError,
    aws_env,
    client,
    free_port,
    reset_moto,
    start_moto_server,
)

__all__ = [
    "ACCOUNT",
    "REGION",
    "LocalAwsError",
    "aws_env",
    "client",
    "free_port",
    "reset_moto",
    "start_moto_server",
]
