"""Where a checker runs (the public Lambda network or one VPC placement), and the names derived from it.

Checks of one kind and placement share a checker function. Its log group has a name derived from
the environment, kind and placement alone, so an alarm can say where its checker's runs are
logged (the notifier quotes the last run from there) without any resource that changes when a
check is added.
"""

from __future__ import annotations

import hashlib

from vigil.spec.common import CheckBase, VpcPlacement

PUBLIC = "public"


def placement_of(check: CheckBase) -> VpcPlacement | None:
    return getattr(check, "vpc", None)


def placement_key(placement: VpcPlacement | None) -> str:
    """Stable construct id part for a placement: adding a check elsewhere never renames it."""
    if placement is None:
        return PUBLIC
    parts = [placement.vpc_id, *sorted(placement.subnet_ids), *sorted(placement.security_group_ids)]
    return f"{placement.vpc_id}-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:8]}"


def checker_log_group_prefix(env: str) -> str:
    return f"/vigil/{env}/checkers/"


def checker_log_group(env: str, kind: str, key: str) -> str:
    """The log group of the checker function for one kind and placement key."""
    return checker_log_group_prefix(env) + (kind if key == PUBLIC else f"{kind}-{key}")


def check_log_group(env: str, check: CheckBase) -> str | None:
    """Where the runs of this check are logged; None for kinds that run no checker."""
    if not check.has_checker:
        return None
    return checker_log_group(env, check.kind, placement_key(placement_of(check)))
