"""What an AWS error means to the notifier: its code, one line for people, and for an SNS Publish,
whether a retry can fix it.

Error codes from the SNS API reference (Publish, Errors), as botocore's service model names them.
A retry cannot fix a refused message (too long, invalid) or a route whose topic is missing, is
not ours to publish to, or whose KMS key is unusable: those go to the fallback route at once. A
throttle, an internal error, a timeout or anything unknown may pass: the notifier raises and
Lambda retries, the state table making sure routes already delivered are not paged again.
"""

from __future__ import annotations

from enum import StrEnum

from vigil.text import REASON_LIMIT, clip, one_line


class Failure(StrEnum):
    message = "message"  # the message itself was refused: the same text fails everywhere
    route = "route"  # this route's topic cannot take anything now
    transient = "transient"  # may pass on a retry


MESSAGE_REFUSED = frozenset(
    {"InvalidParameter", "InvalidParameterValue", "ParameterValueInvalid", "ValidationException"}
)
ROUTE_REFUSED = frozenset(
    {
        "NotFound",
        "AuthorizationError",
        "InvalidSecurity",
        "EndpointDisabled",
        "PlatformApplicationDisabled",
        "KMSAccessDenied",
        "KMSDisabled",
        "KMSInvalidState",
        "KMSNotFound",
        "KMSOptInRequired",
    }
)


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code if isinstance(code, str) else None


def classify(exc: BaseException) -> Failure:
    code = error_code(exc)
    # botocore refuses a malformed request (a wrong type, a missing field) before sending it.
    if code in MESSAGE_REFUSED or type(exc).__name__ == "ParamValidationError":
        return Failure.message
    if code in ROUTE_REFUSED:
        return Failure.route
    return Failure.transient


def describe(exc: BaseException) -> str:
    """'NotFound: Topic does not exist', one bounded line for logs and the rerouted notice."""
    response = getattr(exc, "response", None)
    message = response.get("Error", {}).get("Message") if isinstance(response, dict) else None
    return clip(one_line(f"{error_code(exc) or type(exc).__name__}: {message or exc}"), REASON_LIMIT)
