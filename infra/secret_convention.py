"""Which catalog secrets a function may read by name prefix, and which must be listed one by one.

A secret named under SECRET_PREFIX (`vigil/...`, in the stack's own account and region) is readable
through one grant on that prefix, so a catalog of 1,000 secrets has the same IAM policy as one of 3
(a policy that lists every secret reaches IAM's size limit at about 300). Anything else (an ARN,
which may be in another account or region, or a name outside the prefix) is an exception granted by
its own ARN: allowed, so a secret that cannot be renamed still works, and capped, so the policy
stays bounded. Heartbeat tokens sit under the prefix too, in their own reserved folder: the grant
denies that folder, so a checker can never read a job's token (only the ping endpoint does).
No CDK here: `validate` applies these rules without it.
"""

from __future__ import annotations

from collections.abc import Iterable

from vigil.spec.heartbeat import TOKEN_SECRET_PREFIX

SECRET_PREFIX = "vigil/"
# Granted one ARN pair each; beyond this many, validate refuses: rename them under the prefix.
MAX_EXPLICIT_SECRETS = 10


def by_prefix(ref: str) -> bool:
    """Whether the prefix grant covers this secret reference (a name, never an ARN)."""
    return not ref.startswith("arn:") and ref.startswith(SECRET_PREFIX) and not ref.startswith(TOKEN_SECRET_PREFIX)


def explicit(refs: Iterable[str]) -> list[str]:
    """The references the prefix grant does not cover, sorted, each once."""
    return sorted({ref for ref in refs if not by_prefix(ref)})
