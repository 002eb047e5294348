"""Check groups: http checks of one service file that share a schedule and a checker run.

A 1-minute http check pays USD 0.40 a month for its metric and alarm, and 0.09 for being run: one
schedule invocation, one Lambda request and half a second of compute a minute. Checks that name the
same `group` in one service file are run together: one schedule whose input lists them all, and one
invocation that measures them side by side (vigil.checkers.runner.run_group), so they share that
0.09. Their metrics, alarms and pages stay each check's own.

Opt-in, because it trades away one promise: adding a check to a group rewrites the group's schedule
input, so the deploy touches a schedule that already runs (its checks keep measuring; nothing is
replaced). An ungrouped check still changes nothing but its own resources (docs/architecture.md).

The group is named per service file: the same name in two files is two groups, so a group never
spans two stacks. Its checks run in one function, so they share a cadence and a VPC placement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infra.catalog_yaml import Problem
from infra.placement import placement_key, placement_of
from vigil.checkers.runner import MAX_GROUP
from vigil.spec.common import CheckBase, format_duration

# A group's checks share the CPU of one 128 MB checker (about 0.07 of a vCPU), so checks measured at
# once read slower than alone: bench/http_group.py measures a TLS check at 2-3 ms of CPU here,
# which 3 checks stretch to about 0.1 s at that share and 10 to 0.3-0.4 s, enough to turn a tight
# max_latency_ms into false `slow` pages. Three keep two thirds of what grouping saves.
MAX_GROUP_SIZE = 3
assert MAX_GROUP_SIZE <= MAX_GROUP, "the runner refuses a bigger group event"


@dataclass(frozen=True)
class GroupKey:
    file: str
    name: str

    @property
    def label(self) -> str:
        """The group's construct id in its service stack: a check id (a slug) never has a colon."""
        return f"group:{self.name}"


def group_of(check: CheckBase, files: dict[str, str]) -> GroupKey | None:
    name = getattr(check, "group", None)
    # A catalog built in code (tests) has no files: its service names stand in, as in infra.split.
    return None if name is None else GroupKey(files.get(check.id) or check.service, name)


def groups(checks: Iterable[CheckBase], files: dict[str, str]) -> dict[GroupKey, list[CheckBase]]:
    """Every group and its checks, in catalog order."""
    found: dict[GroupKey, list[CheckBase]] = {}
    for check in checks:
        key = group_of(check, files)
        if key is not None:
            found.setdefault(key, []).append(check)
    return found


def members(check: CheckBase, checks: Iterable[CheckBase], files: dict[str, str]) -> list[CheckBase]:
    """The checks run with this one (itself included), or just itself when it names no group."""
    key = group_of(check, files)
    return [check] if key is None else [c for c in checks if group_of(c, files) == key]


def problems(checks: Iterable[CheckBase], files: dict[str, str]) -> list[Problem]:
    """One problem per check that cannot run with the first check of its group, and per oversized group."""
    found: list[Problem] = []
    for key, group in groups(checks, files).items():
        first = group[0]
        for check in group[1:]:
            if check.cadence != first.cadence:
                found.append(
                    Problem(
                        key.file,
                        f"group {key.name} runs its checks in one schedule, so they share a cadence: "
                        f"{first.id} runs every {format_duration(first.cadence)}, this one every "
                        f"{format_duration(check.cadence)}; give it the same cadence, or another group",
                        check.id,
                        "group",
                    )
                )
            elif placement_key(placement_of(check)) != placement_key(placement_of(first)):
                found.append(
                    Problem(
                        key.file,
                        f"group {key.name} runs its checks in one function, so they share a network: "
                        f"{first.id} runs {_where(first)}, this one {_where(check)}; "
                        "give it the same vpc, or another group",
                        check.id,
                        "group",
                    )
                )
        if len(group) > MAX_GROUP_SIZE:
            found.append(
                Problem(
                    key.file,
                    f"group {key.name} has {len(group)} checks, at most {MAX_GROUP_SIZE} run together "
                    "(they share one small function's CPU, and more would read slower than they are): "
                    "split it into more groups",
                    group[MAX_GROUP_SIZE].id,
                    "group",
                )
            )
    return found


def _where(check: CheckBase) -> str:
    placement = placement_of(check)
    return "outside a VPC" if placement is None else f"in {placement.vpc_id} ({placement_key(placement)})"
