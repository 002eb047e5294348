"""Reading what synth wrote: a stack's template with its nested stacks, and one merged view of them.

CDK-free, from the cloud assembly's files alone: the parent's AWS::CloudFormation::Stack resource
names its nested template by asset hash (TemplateURL), and the stack's assets manifest maps that
hash to the file. The merged view is the single template the stack would have been without its
nested stacks: each nested resource under the id `<nested stack's id>.<own id>`, its parameters
replaced by the values the parent passes, its references renamed to match. Stack tests read it so
that "the template" still means everything deployed, and `migration-map` compares it with a
single-stack template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

NESTED_STACK = "AWS::CloudFormation::Stack"
SEPARATOR = "."


@dataclass(frozen=True)
class Nested:
    logical_id: str  # the AWS::CloudFormation::Stack resource in the parent
    path: Path
    template: dict


def load(outdir: Path, stack: str) -> dict:
    return json.loads((outdir / f"{stack}.template.json").read_text())


def nested_stacks(outdir: Path, stack: str) -> list[Nested]:
    template = load(outdir, stack)
    assets = json.loads((outdir / f"{stack}.assets.json").read_text())["files"]
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != NESTED_STACK:
            continue
        parts = resource["Properties"]["TemplateURL"]["Fn::Join"][1]
        asset_hash = parts[-1].rsplit("/", 1)[-1].removesuffix(".json")
        path = outdir / assets[asset_hash]["source"]["path"]
        found.append(Nested(logical_id, path, json.loads(path.read_text())))
    return sorted(found, key=lambda n: n.logical_id)


def rename(value: object, names: dict[str, object]) -> object:
    """References to `names` replaced: a renamed resource (str) or a parameter's value (anything else)."""
    if isinstance(value, list):
        return [rename(v, names) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in names:
        target = names[value["Ref"]]
        return {"Ref": target} if isinstance(target, str) else target
    if set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][0] in names:
        resource, attribute = value["Fn::GetAtt"][0], value["Fn::GetAtt"][1]
        target = names[resource]
        return {"Fn::GetAtt": [target, attribute]} if isinstance(target, str) else target
    return {k: rename(v, names) for k, v in value.items()}


def merged(outdir: Path, stack: str) -> dict:
    """The stack and its nested stacks as one template (Resources and Outputs)."""
    template = load(outdir, stack)
    resources = {k: v for k, v in template["Resources"].items() if v["Type"] != NESTED_STACK}
    outputs = dict(template.get("Outputs", {}))
    nested_outputs: dict[str, object] = {}
    for nested in nested_stacks(outdir, stack):
        inner = nested.template
        parameters = template["Resources"][nested.logical_id]["Properties"].get("Parameters", {})
        names: dict[str, object] = {k: f"{nested.logical_id}{SEPARATOR}{k}" for k in inner.get("Resources", {})}
        names.update(parameters)
        for k, v in inner.get("Resources", {}).items():
            resource = rename(v, names)
            if isinstance(resource, dict) and "DependsOn" in resource:
                resource["DependsOn"] = [str(names.get(d, d)) for d in _listed(resource["DependsOn"])]
            resources[f"{nested.logical_id}{SEPARATOR}{k}"] = resource
        for k, v in inner.get("Outputs", {}).items():
            nested_outputs[f"{nested.logical_id}|Outputs.{k}"] = rename(v["Value"], names)
    # The parent reads a nested stack's values as GetAtt <nested>.Outputs.<name>: the value itself here.
    resources = {k: _outputs(v, nested_outputs) for k, v in resources.items()}
    return {"Resources": resources, "Outputs": outputs}


def _listed(value: object) -> list[str]:
    return [value] if isinstance(value, str) else list(value)  # type: ignore[arg-type]


def _outputs(value: object, nested_outputs: dict[str, object]) -> object:
    if isinstance(value, list):
        return [_outputs(v, nested_outputs) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::GetAtt"}:
        key = "|".join(value["Fn::GetAtt"][:2])
        if key in nested_outputs:
            return nested_outputs[key]
    return {k: _outputs(v, nested_outputs) for k, v in value.items()}
