"""What the checkers that call AWS APIs (logs_query, sqs by prefix, consistency's DynamoDB and S3
sides) share: their clients, in the service's access role when the schedule names one, and their
errors as CannotMeasure.

Why an access role: these checkers share one function per kind, and each check may read
different log groups, queues, tables or exports. Granting every check's resources to the shared function's role
made that role grow with the catalog, past IAM's 10,240 characters per role (27,754 at 1,000
generated checks). Instead each service stack has one role per kind holding exactly its checks'
grants (infra.checks.access), the schedule's event names it (`access_role`), and the function's
own role may only assume roles under the environment's path for its kind.

One boto3 session serves every role: a client made with a role's keys shares the session's loaded
service models (about 0.3 MB a role), where a session per role would load its own (about 10 MB a
role, out of memory after some 20 service files in a 256 MB function). The MAX_ROLES most recently
used roles are kept; a role's credentials are renewed once less than REFRESH_MARGIN_S is left, so
no run, however long Lambda lets it be, outlives the credentials it started with.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from vigil.checkers.runner import ACCESS_ROLE, CannotMeasure

SESSION_NAME = "vigil-checker"
SESSION_SECONDS = 3600  # the most a role assumed by a role may ask for
REFRESH_MARGIN_S = 900  # Lambda's longest run
MAX_ROLES = 64
# Bounded per call, so one hung request cannot run past the Lambda's own timeout.
CLIENT_CONFIG: dict[str, Any] = {"connect_timeout": 5, "read_timeout": 10}
# Retries after the first attempt, in botocore's standard mode. A scan of a provisioned table
# (consistency) is throttled in bursts: DynamoDB keeps the 10 attempts legacy mode gives it.
RETRIES = 3
SERVICE_RETRIES = {"dynamodb": 9}


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


def access_role(event: object) -> str | None:
    """The role the schedule asks the checker to work in; None (a local run): the caller's own."""
    role = event.get(ACCESS_ROLE) if isinstance(event, Mapping) else None
    return role if isinstance(role, str) and role else None


@dataclass
class _Role:
    expires: float  # epoch seconds; never, for the function's own credentials
    keys: dict[str, str]  # the client's credential arguments; none for the function's own
    clients: dict[tuple[str, int], Any] = field(default_factory=dict)


_roles: OrderedDict[str | None, _Role] = OrderedDict()  # least recently used first
_lock = threading.Lock()  # sqs reads queues from a thread pool
# Opening a client: STS's refusal of the access role names the role.
OPEN_ERRORS = {"AccessDenied": "access_denied"}


@cache
def _session() -> Any:
    """The one boto3 Session, made on first use (cold start)."""
    import boto3  # lazy: the import costs more than the rest of a checker

    return boto3.Session()


def clear_cache() -> None:
    """Forget the session, every role and client: the next call opens new ones (an endpoint mocked or changed)."""
    with _lock:
        _session.cache_clear()
        _roles.clear()


def client(
    service: str,
    role: str | None,
    max_pool: int = 10,
    codes: Mapping[str, str] = OPEN_ERRORS,
    now: Callable[[], float] = time.time,
) -> Any:
    """A boto3 client for `service`, in `role` when given. One that cannot be opened (the role may
    not be assumed) raises CannotMeasure, its reason code picked from `codes` (aws_failure)."""
    try:
        with _lock:
            session = _session()
            held = _roles.get(role)
            if held is None or held.expires - now() < REFRESH_MARGIN_S:
                held = _roles[role] = _open(session, role)
            _roles.move_to_end(role)
            while len(_roles) > MAX_ROLES:
                _roles.popitem(last=False)
            if (service, max_pool) not in held.clients:
                held.clients[(service, max_pool)] = session.client(
                    service, config=_config(service, max_pool), **held.keys
                )
            return held.clients[(service, max_pool)]
    except Exception as exc:  # botocore's errors, not imported at module level (cold start)
        raise aws_failure(exc, codes) from None


def _config(service: str, max_pool: int = 10) -> Any:
    from botocore.config import Config

    # A new retries dict per client: botocore rewrites the one it is given.
    retries = {"mode": "standard", "max_attempts": SERVICE_RETRIES.get(service, RETRIES)}
    return Config(**CLIENT_CONFIG, retries=retries, max_pool_connections=max_pool)


def _open(session: Any, role: str | None) -> _Role:
    if role is None:
        return _Role(expires=float("inf"), keys={})
    sts = session.client("sts", config=_config("sts"))
    credentials = sts.assume_role(RoleArn=role, RoleSessionName=SESSION_NAME, DurationSeconds=SESSION_SECONDS)[
        "Credentials"
    ]
    keys = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }
    return _Role(expires=credentials["Expiration"].timestamp(), keys=keys)
