"""CloudWatch Logs filter patterns for JSON log events: the subset vigil writes, evaluated locally.

vigil's own metric filters on JSON events (the ECS events EventBridge writes to CloudWatch Logs)
are tested against AWS's documented event shapes with this module, and the demo counts what those
filters would publish with it (moto stores log events but evaluates no metric filter). The unstructured
term patterns of kind `log_pattern` are vigil.filter_pattern's.

It follows AWS's "Filter pattern syntax for metric filters, subscription filters, filter log events,
and Live Tail", section "Using filter patterns to match terms in JSON log events":

    { $.eventType = "UpdateTrail" }               a string, exactly; a leading or trailing `*` matches any text
    { $.sourceIPAddress != 123.123.* }            an unquoted string of letters, digits and . - _ *
    { $.objectList[1].id = 2 }                    array elements by index, then properties
    { $.latency >= 500 }                          numbers: = != < > <= >=
    { $.SomeObject IS NULL }  { $.ThisFlag IS TRUE }  { $.SomeOtherObject NOT EXISTS }
    { ($.a = 1 && $.b = "x") || $.c = 2 }         && binds tighter than ||; parentheses group

"The SELECTOR must point to a value node (string or number)": a selector on an array, an object or
nothing matches neither `=` nor `!=` (AWS's example: `{$.users != 1}` fails on `"users": [1, 2, 3]`).
Where AWS is silent, vigil's reading, stated so it can be checked: a string compares only with a
string node and a number only with a number node (no coercion between "137" and 137), and an event
that is not a JSON object matches no JSON pattern. Not supported, with a reason: regular
expressions inside a JSON pattern (`%...%`) and selectors with `*` in place of an index.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 1024  # CloudWatch's limit on a metric filter's FilterPattern
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<selector>\$(?:\.[A-Za-z0-9_-]+|\[\d+\])*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
      | (?P<word>[A-Za-z0-9_.*:/@+-]+)
    )""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_COMPARISONS = ("=", "!=", "<", ">", "<=", ">=")
_MISSING = object()
_NOT_A_VALUE = object()  # an object or an array: it exists, and no comparison holds on it


@dataclass(frozen=True)
class Condition:
    """One selector test: `op` is a comparison, or IS NULL / IS TRUE / IS FALSE / NOT EXISTS."""

    path: tuple[str | int, ...]
    op: str
    value: str | float | None = None

    def holds(self, document: Any) -> bool:
        node = _select(document, self.path)
        if self.op == "NOT EXISTS":
            return node is _MISSING
        if self.op == "IS NULL":
            return node is None
        if self.op in ("IS TRUE", "IS FALSE"):
            return node is (self.op == "IS TRUE")
        if isinstance(node, bool) or not isinstance(node, str | int | float):
            return False  # nothing there, or not a value node: no comparison holds
        if self.value == "*":  # any value: the guide's `{ $.latency = * }`, to publish $.latency
            return self.op == "="
        if isinstance(self.value, str) != isinstance(node, str):
            return False
        if isinstance(self.value, str):
            assert isinstance(node, str)
            equal = _wildcard(self.value).fullmatch(node) is not None
            return equal if self.op == "=" else not equal
        assert self.value is not None
        return _compare(float(node), self.op, self.value)


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Expression, ...]

    def holds(self, document: Any) -> bool:
        return all(p.holds(document) for p in self.parts)


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Expression, ...]

    def holds(self, document: Any) -> bool:
        return any(p.holds(document) for p in self.parts)


Expression = Condition | AllOf | AnyOf


@dataclass(frozen=True)
class JsonFilterPattern:
    source: str
    expression: Expression

    def matches(self, message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict) and self.expression.holds(document)


def parse(pattern: str) -> JsonFilterPattern:
    """The pattern, or ValueError saying where it is wrong and what is allowed."""
    if len(pattern) > MAX_LENGTH:
        raise ValueError(f"{len(pattern)} characters; CloudWatch allows at most {MAX_LENGTH}")
    body = pattern.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError('a JSON pattern is enclosed in { }, as in { $.detail.lastStatus = "STOPPED" }')
    if "%" in body:
        raise ValueError("regular expressions (%...%) in JSON patterns are valid CloudWatch but not evaluated by vigil")
    reader = _Reader(_tokens(body[1:-1]))
    expression = reader.any_of()
    if not reader.done():
        raise ValueError(f"unexpected {reader.peek()!r} after a complete condition")
    return JsonFilterPattern(pattern, expression)


def matches(pattern: str, message: str) -> bool:
    return parse(pattern).matches(message)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        found = _TOKEN.match(text, at)
        if found is None or found.end() == at:
            raise ValueError(f"cannot read {text[at:].strip()[:20]!r}: use $.selectors, operators and values")
        kind = found.lastgroup
        assert kind is not None
        tokens.append((kind, found.group(kind)))
        at = found.end()
    return tokens


class _Reader:
    """Recursive descent over the tokens: || of && of conditions or parenthesised expressions."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.at = 0

    def done(self) -> bool:
        return self.at >= len(self.tokens)

    def peek(self) -> str:
        return self.tokens[self.at][1] if not self.done() else "the end"

    def take(self) -> tuple[str, str]:
        if self.done():
            raise ValueError("the pattern ends in the middle of a condition")
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, op: str) -> bool:
        if not self.done() and self.tokens[self.at] == ("op", op):
            self.at += 1
            return True
        return False

    def any_of(self) -> Expression:
        parts = [self.all_of()]
        while self.accept("||"):
            parts.append(self.all_of())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def all_of(self) -> Expression:
        parts = [self.unit()]
        while self.accept("&&"):
            parts.append(self.unit())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def unit(self) -> Expression:
        if self.accept("("):
            inner = self.any_of()
            if not self.accept(")"):
                raise ValueError(f"expected ) but found {self.peek()!r}")
            return inner
        kind, selector = self.take()
        if kind != "selector":
            raise ValueError(f"expected a selector such as $.detail.stopCode, found {selector!r}")
        return self.condition(_path(selector))

    def condition(self, path: tuple[str | int, ...]) -> Condition:
        kind, text = self.take()
        if kind == "word" and text in ("IS", "NOT"):
            _, what = self.take()
            spelled = f"{text} {what}"
            if spelled not in ("IS NULL", "IS TRUE", "IS FALSE", "NOT EXISTS"):
                raise ValueError(f"{spelled!r}: use IS NULL, IS TRUE, IS FALSE or NOT EXISTS")
            return Condition(path, spelled)
        if kind != "op" or text not in _COMPARISONS:
            raise ValueError(f"expected one of {' '.join(_COMPARISONS)} after the selector, found {text!r}")
        value_kind, value = self.take()
        if value_kind == "string":
            return self._string(path, text, json.loads(value))
        if value_kind == "word" and _NUMBER.match(value):
            return Condition(path, text, float(value))
        if value_kind == "word":
            return self._string(path, text, value)
        raise ValueError(f"expected a value after {text}, found {value!r}")

    @staticmethod
    def _string(path: tuple[str | int, ...], op: str, value: str) -> Condition:
        if op not in ("=", "!="):
            raise ValueError(f"{op} compares numbers; a string takes = or !=")
        return Condition(path, op, value)


def _path(selector: str) -> tuple[str | int, ...]:
    return tuple(int(index) if index else name for name, index in re.findall(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]", selector))


def _select(document: Any, path: tuple[str | int, ...]) -> Any:
    node = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
        elif not isinstance(node, dict) or step not in node:
            return _MISSING
        node = node[step]
    return node if not isinstance(node, dict | list) else _NOT_A_VALUE


def _wildcard(value: str) -> re.Pattern[str]:
    """`*` at the start or end matches any text there; inside a term it is itself ("Ev*ent will only
    match the actual string Ev*ent", the guide says)."""
    head = ".*" if value.startswith("*") else ""
    tail = ".*" if value.endswith("*") and len(value) > 1 else ""
    core = value[len(head) > 0 : len(value) - (len(tail) > 0)]
    return re.compile(head + re.escape(core) + tail, re.DOTALL)


def _compare(node: float, op: str, value: float) -> bool:
    return {
        "=": node == value,
        "!=": node != value,
        "<": node < value,
        ">": node > value,
        "<=": node <= value,
        ">=": node >= value,
    }[op]
