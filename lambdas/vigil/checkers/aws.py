"""What the checkers that call AWS APIs (logs_query, sqs by prefix) share: their errors as CannotMeasure."""

from __future__ import annotations

from collections.abc import Mapping

from vigil.checkers.runner import CannotMeasure


def aws_failure(exc: Exception, codes: Mapping[str, str]) -> CannotMeasure:
    """A boto3 error as "could not measure": the AWS error code picks the reason code (else "aws").

    Takes any exception so callers need not import botocore at module level (cold start).
    """
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):  # botocore's ClientError
        error = response.get("Error", {})
        code = str(error.get("Code", "ClientError"))
        return CannotMeasure(codes.get(code, "aws"), f"{code}: {error.get('Message', '')}".strip())
    return CannotMeasure("aws", f"{type(exc).__name__}: {exc}")
