"""A checker's input checked against its kind's JSON Schema, without importing pydantic.

The pydantic models in vigil.spec stay the single source of truth: `python -m infra schema` writes
each checker kind's JSON Schema (the model's own `model_json_schema()`) into vigil/schemas/, and
`schema --check` (part of `make test`) fails when one is stale. Checking an event against that
schema costs well under a millisecond to import, where importing pydantic and building the models
costs 60-80 ms on a cold start: most of the http checker's 100 ms budget (docs/performance.md).

The schema covers types, required and unknown keys, patterns, ranges and enums. The models'
cross-field rules (a timeout shorter than the cadence, M of N) were enforced at synth, which wrote
the event; an event made by hand that breaks only those is measured as given.

Only the keywords pydantic emits for vigil's models are implemented. `load` refuses a schema with
any other keyword, so a model change cannot silently widen what passes here.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).parent / "schemas"

# Keywords that only describe; they never reject anything.
ANNOTATIONS = frozenset({"title", "description", "default", "examples"})
ASSERTIONS = frozenset(
    {
        "$ref",
        "$defs",
        "type",
        "enum",
        "const",
        "anyOf",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "items",
        "minItems",
        "maxItems",
        "properties",
        "required",
        "additionalProperties",
    }
)
# Keywords whose value is a map of names to schemas (the names are not keywords).
_SCHEMA_MAPS = frozenset({"properties", "$defs"})
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (Mapping,),
    "array": (list, tuple),
}


# keyword → (what the value must satisfy against the bound, the bound's sign in messages)
_BOUNDS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "minimum": (operator.ge, ">="),
    "maximum": (operator.le, "<="),
    "exclusiveMinimum": (operator.gt, ">"),
    "exclusiveMaximum": (operator.lt, "<"),
}


class SchemaError(ValueError):
    """The instance does not fit the schema; the message names the field and what is allowed."""


def load(kind: str) -> dict[str, Any]:
    """The committed schema of one checker kind; raises when it uses an unimplemented keyword."""
    schema = json.loads((SCHEMA_DIR / f"{kind}.json").read_text())
    unknown = unsupported_keywords(schema)
    if unknown:
        raise ValueError(f"schema {kind}.json uses keywords check_schema does not implement: {sorted(unknown)}")
    return schema


def unsupported_keywords(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key not in ASSERTIONS | ANNOTATIONS:
                found.add(key)
            elif key in _SCHEMA_MAPS:
                for sub in value.values():
                    found |= unsupported_keywords(sub)
            elif key not in ANNOTATIONS:
                found |= unsupported_keywords(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= unsupported_keywords(item)
    return found


def validate(instance: Any, schema: Mapping[str, Any]) -> None:
    """Raise SchemaError with the first problem (and how many more there are)."""
    problems = errors(instance, schema)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SchemaError(problems[0] + more)


def with_defaults(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level fields with the model's defaults filled in for those left out."""
    defaults = {name: prop["default"] for name, prop in schema.get("properties", {}).items() if "default" in prop}
    return defaults | dict(instance)


def errors(instance: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every problem as 'field.path: what is wrong'; empty when the instance fits."""
    out: list[str] = []
    _check(instance, schema, (), schema, out)
    return out


def _check(value: Any, node: Mapping[str, Any], path: tuple[str, ...], root: Mapping[str, Any], out: list[str]) -> None:
    if "$ref" in node:
        _check(value, _resolve(root, node["$ref"]), path, root, out)
    if "anyOf" in node:
        _any_of(value, node["anyOf"], path, root, out)
    if "type" in node and not _is_type(value, node["type"]):
        out.append(f"{_where(path)}: {_show(value)} is not {_article(node['type'])}")
        return  # the other keywords would only repeat the type problem
    if "enum" in node and not any(_same(value, allowed) for allowed in node["enum"]):
        out.append(f"{_where(path)}: {_show(value)} is not one of {', '.join(_show(v) for v in node['enum'])}")
    if "const" in node and not _same(value, node["const"]):
        out.append(f"{_where(path)}: {_show(value)} must be {_show(node['const'])}")
    if isinstance(value, str):
        _check_string(value, node, path, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(value, node, path, out)
    elif isinstance(value, list | tuple):
        _check_array(value, node, path, root, out)
    elif isinstance(value, Mapping):
        _check_object(value, node, path, root, out)


def _any_of(
    value: Any, options: list[Mapping[str, Any]], path: tuple[str, ...], root: Mapping[str, Any], out: list[str]
) -> None:
    attempts = []
    for option in options:
        problems: list[str] = []
        _check(value, option, path, root, problems)
        if not problems:
            return
        attempts.append((not _type_fits(value, option, root), len(problems), problems))
    # Report the closest form: one of the value's own type first (an object with a bad field says
    # which field, not "is not a null"), then the one that failed on the fewest points.
    out.extend(min(attempts, key=lambda attempt: attempt[:2])[2])


def _type_fits(value: Any, node: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    if "$ref" in node:
        return _type_fits(value, _resolve(root, node["$ref"]), root)
    return "type" not in node or _is_type(value, node["type"])


def _check_string(value: str, node: Mapping[str, Any], path: tuple[str, ...], out: list[str]) -> None:
    if "minLength" in node and len(value) < node["minLength"]:
        out.append(f"{_where(path)}: must have at least {node['minLength']} characters")
    if "maxLength" in node and len(value) > node["maxLength"]:
        out.append(f"{_where(path)}: must have at most {node['maxLength']} characters")
    if "pattern" in node and not _regex(node["pattern"]).search(value):
        out.append(f"{_where(path)}: {_show(value)} does not match {node['pattern']}")


def _check_number(value: float, node: Mapping[str, Any], path: tuple[str, ...], out: list[str]) -> None:
    for keyword, (holds, sign) in _BOUNDS.items():
        if keyword in node and not holds(value, node[keyword]):
            out.append(f"{_where(path)}: {_show(value)} must be {sign} {node[keyword]}")


def _check_array(
    value: list[Any] | tuple[Any, ...],
    node: Mapping[str, Any],
    path: tuple[str, ...],
    root: Mapping[str, Any],
    out: list[str],
) -> None:
    if "minItems" in node and len(value) < node["minItems"]:
        out.append(f"{_where(path)}: must have at least {node['minItems']} items")
    if "maxItems" in node and len(value) > node["maxItems"]:
        out.append(f"{_where(path)}: must have at most {node['maxItems']} items")
    if "items" in node:
        for index, item in enumerate(value):
            _check(item, node["items"], (*path, str(index)), root, out)


def _check_object(
    value: Mapping[str, Any], node: Mapping[str, Any], path: tuple[str, ...], root: Mapping[str, Any], out: list[str]
) -> None:
    properties: Mapping[str, Any] = node.get("properties", {})
    for name in node.get("required", ()):
        if name not in value:
            out.append(f"{_where((*path, name))}: required")
    extra = node.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], (*path, str(key)), root, out)
        elif extra is False:
            allowed = ", ".join(properties) or "none"
            out.append(f"{_where((*path, str(key)))}: unknown field; allowed: {allowed}")
        elif isinstance(extra, Mapping):
            _check(item, extra, (*path, str(key)), root, out)


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    if not ref.startswith("#/$defs/"):
        raise ValueError(f"only local $defs references are supported, not {ref}")
    return root["$defs"][ref.removeprefix("#/$defs/")]


def _is_type(value: Any, expected: str | list[str]) -> bool:
    names = [expected] if isinstance(expected, str) else expected
    for name in names:
        if name == "integer" and isinstance(value, float) and value.is_integer():
            return True  # JSON has one number type: 5.0 is an integer
        if isinstance(value, _TYPES[name]) and not (isinstance(value, bool) and name in ("number", "integer")):
            return True
    return False


def _same(value: Any, expected: Any) -> bool:
    # JSON's true is not 1, though Python's True == 1.
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    return bool(value == expected)


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _where(path: tuple[str, ...]) -> str:
    return ".".join(path) or "check"


def _article(expected: str | list[str]) -> str:
    names = [expected] if isinstance(expected, str) else expected
    return " or ".join(("an " if name[0] in "aeiou" else "a ") + name for name in names)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
