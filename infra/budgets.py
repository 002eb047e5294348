"""CloudFormation, CloudWatch and IAM limits that synth checks before a deploy would meet them.

CDK-free: `validate` (infra.estimate) and synth (infra.stack, infra.synth) share the figures, and
`check_assembly` reads only the templates synth wrote, so benches and tests judge the same files.
Each budget keeps a margin under the hard limit: a catalog that grows by a few checks between
validate and deploy, or a resource the estimate misses, still deploys.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from infra import assembly

RESOURCE_LIMIT = 500  # CloudFormation: resources per stack (nested stacks count on their own)
RESOURCE_BUDGET = 450
# Resources the core stack holds in any environment, before one nested stack per service file: a
# lower bound (68 with the smallest fixture catalog's 2 files; tests/stack/test_scale.py keeps it
# one), so `validate` refuses only a catalog the core surely cannot hold.
CORE_FLOOR = 60
TEMPLATE_BYTES_LIMIT = 1_048_576  # CloudFormation: template body uploaded through S3
TEMPLATE_BYTES_BUDGET = 900_000
WIDGET_LIMIT = 500  # CloudWatch: widgets per dashboard
MANAGED_POLICY_CHARS = 6_144  # IAM: one managed policy, whitespace not counted
ROLE_INLINE_CHARS = 10_240  # IAM: all inline policies of one role together
# An ARN a reference resolves to at deploy: the template only holds {"Fn::GetAtt": ...}.
RESOLVED_REFERENCE_CHARS = 100

_INTRINSIC = re.compile(r"^(Ref|Fn::[A-Za-z]+)$")


@dataclass(frozen=True)
class StackFigures:
    """What one synthesized template weighs against its limits."""

    name: str  # the stack, and for a service stack its service file
    resources: int
    template_bytes: int
    widgets: list[int]  # per dashboard
    managed_policy_chars: list[int]
    role_inline_chars: list[int]  # per role, all its inline policies together


def _resolved(value: object) -> object:
    """The value with every CloudFormation reference replaced by a string as long as an ARN."""
    if isinstance(value, dict):
        if len(value) == 1 and _INTRINSIC.match(next(iter(value))):
            return "x" * RESOLVED_REFERENCE_CHARS
        return {k: _resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v) for v in value]
    return value


def policy_chars(document: object) -> int:
    """IAM's size of a policy document: its JSON without whitespace, references at ARN length."""
    return len(json.dumps(_resolved(document), separators=(",", ":")))


def widget_count(body: object) -> int:
    """Widgets in a DashboardBody: a string, or the Fn::Join the CDK writes around references."""
    if isinstance(body, dict) and "Fn::Join" in body:
        body = "".join(p if isinstance(p, str) else '"x"' for p in body["Fn::Join"][1])
        # A reference stood inside a JSON string: its quotes closed and reopened it, which is still valid.
        body = body.replace('""x""', '"x"')
    assert isinstance(body, str), body
    return len(json.loads(body).get("widgets", []))


def figures(name: str, template: dict, template_bytes: int) -> StackFigures:
    resources = template.get("Resources", {})
    inline: dict[str, int] = {}
    managed: list[int] = []
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            inline[logical_id] = inline.get(logical_id, 0) + sum(
                policy_chars(p["PolicyDocument"]) for p in props.get("Policies", [])
            )
        elif resource["Type"] == "AWS::IAM::Policy":
            for role in props.get("Roles", []):
                key = role["Ref"] if isinstance(role, dict) and "Ref" in role else json.dumps(role)
                inline[key] = inline.get(key, 0) + policy_chars(props["PolicyDocument"])
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            managed.append(policy_chars(props["PolicyDocument"]))
    return StackFigures(
        name=name,
        resources=len(resources),
        template_bytes=template_bytes,
        widgets=[
            widget_count(r["Properties"]["DashboardBody"])
            for r in resources.values()
            if r["Type"] == "AWS::CloudWatch::Dashboard"
        ],
        managed_policy_chars=managed,
        role_inline_chars=sorted(inline.values()),
    )


def core_way_out(service_files: int) -> str:
    """What to do when the core is over its resource budget: it is the number of service files."""
    return (
        f"the core holds vigil's own resources and one nested stack per service file ({service_files} here): "
        "merge small service files into larger ones (up to the budget each), or split the catalog into "
        "more environments, each with its own core (docs/operations.md, Limits)"
    )


def problems(stack: StackFigures) -> list[str]:
    """One line per budget the stack exceeds, each with what to do."""
    found = []
    split = "move some checks into a new service file (each service file gets its own stack)"
    if stack.resources > RESOURCE_BUDGET:
        found.append(
            f"{stack.name}: {stack.resources} CloudFormation resources, over the budget of {RESOURCE_BUDGET} "
            f"(CloudFormation allows {RESOURCE_LIMIT} per stack): {split}"
        )
    if stack.template_bytes > TEMPLATE_BYTES_BUDGET:
        found.append(
            f"{stack.name}: template of {stack.template_bytes:,} bytes, over the budget of "
            f"{TEMPLATE_BYTES_BUDGET:,} (CloudFormation allows {TEMPLATE_BYTES_LIMIT:,}): {split}"
        )
    for widgets in stack.widgets:
        if widgets > WIDGET_LIMIT:
            found.append(f"{stack.name}: a dashboard of {widgets} widgets, over CloudWatch's {WIDGET_LIMIT}: {split}")
    for chars in stack.managed_policy_chars:
        if chars > MANAGED_POLICY_CHARS:
            found.append(f"{stack.name}: a managed policy of {chars} characters, over IAM's {MANAGED_POLICY_CHARS}")
    for chars in stack.role_inline_chars:
        if chars > ROLE_INLINE_CHARS:
            found.append(
                f"{stack.name}: a role's inline policies total {chars} characters, over IAM's {ROLE_INLINE_CHARS}"
            )
    return found


def read_assembly(outdir: Path) -> list[StackFigures]:
    """Every template synth wrote under `outdir`: the top-level stacks and their nested stacks."""
    found = []
    for path in sorted(outdir.glob("*.template.json")):
        text = path.read_text()
        template = json.loads(text)
        found.append(figures(template.get("Description", path.name), template, len(text.encode())))
    return found


def check_assembly(outdir: Path) -> list[str]:
    return [problem for stack in read_assembly(outdir) for problem in problems(stack)] + shared_role_problems(outdir)


def shared_role_problems(outdir: Path) -> list[str]:
    """IAM's inline total per role across a stack and its nested stacks: a policy a service stack
    attaches to a core role would show in no one template's total. Per-check grants live in each
    service's access role (infra.checks.access), so this holds unless a construct regresses to
    granting a shared role from a service stack, which it then catches before a deploy would."""
    found = []
    for path in sorted(outdir.glob("*.template.json")):
        stack = path.name.removesuffix(".template.json")
        if stack.endswith(".nested") or not (outdir / f"{stack}.assets.json").exists():
            continue
        whole = assembly.merged(outdir, stack)
        for chars in figures(stack, whole, 0).role_inline_chars:
            if chars > ROLE_INLINE_CHARS:
                found.append(
                    f"{stack}: a role's inline policies, with those its service stacks attach to it, total {chars} "
                    f"characters, over IAM's {ROLE_INLINE_CHARS}: a per-check grant belongs in the service's "
                    "access role (infra/checks/access.py), not in a role of the core"
                )
    return found
