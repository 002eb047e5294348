"""Where each resource of a single-stack deployment (everything in Vigil-<env>) lives after the split.

From templates alone (no CDK, no AWS): the old one (`aws cloudformation get-template --stack-name
Vigil-<env>`, or a single-stack synth) and the new cloud assembly. A core resource keeps its
logical id. A check's resource moved from `Checks/<check id>/...` in the core to `<check id>/...`
in its service file's nested stack: the CDK names a logical id by the path's components, letters
and digits only, then an 8-character hash of the path, so the old id is `Checks` + the new one's
human part + another hash. The map feeds `aws cloudformation create-stack-refactor` (each line a
source and a destination); docs/operations.md says how to migrate with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra import assembly

HASH_LENGTH = 8
CHECKS_SCOPE = "Checks"


@dataclass(frozen=True)
class Move:
    old_id: str
    stack: str  # the core stack, or the nested stack's logical id in the core
    new_id: str
    type: str


@dataclass(frozen=True)
class Map:
    moves: list[Move]
    lost: list[str]  # old resources with no place in the new templates: deleted by the update
    added: list[str]  # `stack/new id` of new resources: created by the update


def _human(logical_id: str) -> str:
    return logical_id[:-HASH_LENGTH]


def migration_map(old: dict, outdir: Path, stack: str) -> Map:
    core = assembly.load(outdir, stack)["Resources"]
    new: dict[tuple[str, str], str] = {
        (stack, k): v["Type"] for k, v in core.items() if v["Type"] != assembly.NESTED_STACK
    }
    moved_from: dict[tuple[str, str], tuple[str, str]] = {}  # (human part with Checks, type) → (stack, new id)
    for nested in assembly.nested_stacks(outdir, stack):
        for inner_id, resource in nested.template["Resources"].items():
            new[(nested.logical_id, inner_id)] = resource["Type"]
            moved_from[(CHECKS_SCOPE + _human(inner_id), resource["Type"])] = (nested.logical_id, inner_id)
    moves, lost, taken = [], [], set()
    for old_id, resource in sorted(old["Resources"].items()):
        kind = resource["Type"]
        if new.get((stack, old_id)) == kind:
            target = (stack, old_id)
        elif (_human(old_id), kind) in moved_from:
            target = moved_from[(_human(old_id), kind)]
        else:
            lost.append(old_id)
            continue
        taken.add(target)
        moves.append(Move(old_id, target[0], target[1], kind))
    added = sorted(f"{s}/{i}" for s, i in new if (s, i) not in taken)
    return Map(moves=moves, lost=lost, added=added)


def retained(old: dict, found: Map, stack: str) -> dict:
    """The old template with every resource that moves to a service stack kept on removal: the first
    update of a migration (docs/operations.md), which changes nothing else."""
    moving = {m.old_id for m in found.moves if m.stack != stack}
    resources = {
        k: {**v, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"} if k in moving else v
        for k, v in old["Resources"].items()
    }
    return {**old, "Resources": resources}


def render(found: Map, stack: str) -> str:
    lines = [f"{m.old_id} -> {m.stack if m.stack != stack else stack}/{m.new_id} ({m.type})" for m in found.moves]
    lines += [f"{old_id} -> (deleted)" for old_id in found.lost]
    lines += [f"(created) -> {new}" for new in found.added]
    return "\n".join(lines)
