"""How many CloudFormation resources a service file's stack will hold, without the CDK.

`validate` refuses a service file whose estimate is over the stack budget (infra.budgets), so a
pull request learns it before synth. Per check: one alarm per active signal (times the kind's
per_signal), a schedule when it runs a checker (one per group for grouped checks), and the kind's per_check extras (infra.kinds). Per service stack: its dashboard, its maintenance-window
rules, and an access role with its policy per AWS-reading checker its checks run (infra.checks.access). A tag selector's resources are unknown before discovery: it counts as one, and synth checks
the real number. tests/stack/test_estimate.py keeps the estimate at or above the real count.
"""

from __future__ import annotations

import math

from infra import budgets, check_groups
from infra.catalog import Catalog
from infra.kinds import KINDS
from infra.placement import placement_key, placement_of
from infra.split import by_service_file
from vigil.silences.windows import MAX_ALARMS_PER_RULE
from vigil.spec.common import CheckBase

DASHBOARD = 1
# An access role and its default policy (infra.checks.access), per service stack and such checker.
ACCESS_ROLE = 2


def alarms(check: CheckBase) -> int:
    return len(list(check.active_signals()))


def check_resources(check: CheckBase) -> int:
    kind = KINDS[check.kind]
    return kind.per_signal * alarms(check) + int(check.has_checker) + kind.per_check


def stack_resources(checks: list[CheckBase], catalog: Catalog) -> int:
    rules = sum(
        math.ceil(covered / MAX_ALARMS_PER_RULE)
        for window in catalog.windows
        if (covered := sum(alarms(c) for c in checks if window.covers(c.id, c.service)))
    )
    access = {(c.kind, placement_key(placement_of(c))) for c in checks if KINDS[c.kind].access_role and c.has_checker}
    # A group's checks share one schedule (infra.check_groups): one for the group, not one each.
    shared = sum(len(group) - 1 for group in check_groups.groups(checks, catalog.files).values())
    return DASHBOARD + rules + ACCESS_ROLE * len(access) + sum(check_resources(c) for c in checks) - shared


def by_file(catalog: Catalog) -> dict[str, int]:
    """Each service file's stack id → its estimated resources."""
    return {file_id: stack_resources(checks, catalog) for file_id, checks in by_service_file(catalog).items()}


def problems(catalog: Catalog) -> list[str]:
    """One line per service file over the resource budget, and one if the core surely is, with what to do."""
    files = {file_id: catalog.files.get(checks[0].id, file_id) for file_id, checks in by_service_file(catalog).items()}
    core = (
        [
            f"{len(files)} service files would make at least {budgets.CORE_FLOOR + len(files)} CloudFormation "
            f"resources in the environment's core stack, over the budget of {budgets.RESOURCE_BUDGET}: "
            + budgets.core_way_out(len(files))
        ]
        if budgets.CORE_FLOOR + len(files) > budgets.RESOURCE_BUDGET
        else []
    )
    return core + [
        f"{files[file_id]}: its checks would make about {count} CloudFormation resources in its stack, over the "
        f"budget of {budgets.RESOURCE_BUDGET} (CloudFormation allows {budgets.RESOURCE_LIMIT} per stack): "
        "move some checks into a new service file, which gets a stack of its own"
        for file_id, count in by_file(catalog).items()
        if count > budgets.RESOURCE_BUDGET
    ]
