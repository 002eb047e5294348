"""Reading one catalog YAML file (service files, _settings.yaml, alarm tests) strictly.

PyYAML's safe_load keeps the last of two equal keys without a word: a second `checks:` drops
every check above it, a second `severity:` re-routes a check. Here a duplicate key is a problem
naming both lines. A file with nothing but comments or blank lines is empty, whichever kind of
file it is. A syntax error keeps PyYAML's context and lines ("while scanning a quoted scalar at
line 36 ..."), and values PyYAML cannot build (an integer of 5000 digits, February 30th) or
aliases that loop or expand without bound are problems too, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.scanner import ScannerError

# Values in one file once aliases are expanded: a real service file holds a few thousand, and an
# alias bomb (each level repeating the one below) must not keep CI busy validating billions.
MAX_VALUES = 100_000
# PyYAML's scanner slows down with the square of the nesting of [ ] and { }: 3000 unclosed `[` take
# seconds. No catalog nests them more than a few deep.
MAX_FLOW_DEPTH = 100
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the catalog, with everything needed to fix it from the CI log alone."""

    file: str
    message: str
    check: str | None = None
    field: str | None = None
    line: int | None = None  # 1-based, when the problem points at a place in the file

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.check:
            where += f": check {self.check}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Document:
    """A file's data and the line of every key and list item in it, by path of strings."""

    data: Any
    lines: Mapping[tuple[str, ...], int]

    def line(self, path: tuple[str, ...]) -> int | None:
        """The line of the deepest part of path found in the file (a field left out: its parent's).

        Parts the file cannot hold are passed over: a union's tag (`target.s3.bucket` is written
        `target: {bucket: ...}`) or pydantic's `[key]` marker.
        """
        found, line = (), self.lines.get(())
        for part in path:
            if (*found, part) in self.lines:
                found = (*found, part)
                line = self.lines[found]
        return line


def yaml_files(directory: Path) -> list[Path]:
    """Every *.yaml and *.yml under directory, sorted, except hidden ones.

    A name starting with "." anywhere below directory is left out: `run`'s local secrets file
    (.vigil-secrets.yaml) kept beside the catalog must never be read, let alone quoted, as a
    service file; nor an editor's or a tool's hidden files.
    """
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in {".yaml", ".yml"} and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def read_yaml(path: Path, problems: list[Problem], expected: str) -> Document | None:
    """The file's document, or None with a problem added: unreadable, malformed, duplicate keys, or empty.

    `expected` says what the file should hold, for the message about an empty one.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(path), f"cannot read the file: {exc}"))
        return None
    found: list[Problem] = []
    document = _parse(text, str(path), found)
    problems.extend(found)
    if document is None and not found:
        problems.append(Problem(str(path), f"empty file (nothing but comments or blank lines): expected {expected}"))
    return None if found else document


class _StrictLoader(yaml.SafeLoader):
    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_FLOW_DEPTH:
            raise ScannerError(
                None, None, f"more than {MAX_FLOW_DEPTH} [ ] or {{ }} inside each other", self.get_mark()
            )
        super().fetch_flow_collection_start(TokenClass)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        # int() and date() raise plain ValueErrors for what PyYAML's resolver accepted; give them a place.
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(None, None, f"cannot read this value: {exc}", node.start_mark) from None


def _parse(text: str, file: str, problems: list[Problem]) -> Document | None:
    """The document, or None: empty (problems unchanged) or unreadable (problems added)."""
    if not text.strip():
        return None
    try:
        loader = _StrictLoader(text)  # checks every character at once: a ReaderError comes from here
    except yaml.YAMLError as exc:
        problems.append(_syntax_problem(exc, text, file))
        return None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        walk = _Walk(loader, file)
        size = walk.visit(node, (), None)
        problems.extend(walk.problems)
        if size > MAX_VALUES:
            problems.append(Problem(file, f"aliases expand to {size:,} values; at most {MAX_VALUES:,} are read"))
        if problems:
            return None
        data = loader.construct_document(node)
        # `---` or `~` alone is a document holding nothing: an empty file as well.
        return None if data is None else Document(data, walk.lines)
    except yaml.YAMLError as exc:
        problems.append(_syntax_problem(exc, text, file))
    except RecursionError:
        problems.append(Problem(file, "malformed YAML: nested too deeply to read"))
    finally:
        loader.dispose()
    return None


class _Walk:
    """One pass over the composed nodes: lines by path, duplicate keys, alias loops, expanded size."""

    def __init__(self, loader: _StrictLoader, file: str):
        self.loader = loader
        self.file = file
        self.lines: dict[tuple[str, ...], int] = {}
        self.problems: list[Problem] = []
        self._sizes: dict[int, int] = {}
        self._open: set[int] = set()

    def visit(self, node: Node, path: tuple[str, ...], entry: tuple[str, int] | None) -> int:
        """The node's size with aliases expanded. `entry`: (id, path length) of the list item it is in."""
        key = id(node)
        if key in self._sizes:  # an alias: counted again, walked once
            return self._sizes[key]
        if key in self._open:
            mark = node.start_mark
            raise ConstructorError(
                None, None, "an alias refers to the value that contains it (a loop cannot be read)", mark
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        self._open.add(key)
        size = 1
        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                size += self.visit(item, (*path, str(index)), _entry_id(item, index, len(path) + 1) or entry)
        elif isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                name = self._key(key_node)
                line = key_node.start_mark.line + 1
                if name is not None and name in seen:
                    self._duplicate(name, path, line, seen[name], entry)
                elif name is not None:
                    seen[name] = line
                child = (*path, str(name))
                self.lines.setdefault(child, line)
                size += self.visit(value_node, child, entry)
        self._open.discard(key)
        self._sizes[key] = size
        return size

    def _key(self, node: Node) -> Any:
        """The key as the mapping will hold it (`yes` and `true` are one key); None for merges and non-scalars."""
        if not isinstance(node, ScalarNode) or node.tag == _MERGE_TAG:
            return None
        return self.loader.construct_object(node)

    def _duplicate(
        self, name: Any, path: tuple[str, ...], line: int, first: int, entry: tuple[str, int] | None
    ) -> None:
        check, start = entry if entry else (None, 0)
        field = ".".join((*path[start:], str(name)))
        self.problems.append(
            Problem(
                self.file,
                f"duplicate key {name!r} (first at line {first}): YAML would silently keep only the last one; "
                "remove or merge one of them",
                check,
                field,
                line,
            )
        )


def entry_label(found: Any, index: int) -> str:
    """How problems name a list entry (a check): its id when usable, else its position (#1 is the first)."""
    if isinstance(found, str) and found.strip() and len(found) <= 100 and found.isprintable():
        return found
    return f"#{index + 1}"


def _entry_id(node: Node, index: int, depth: int) -> tuple[str, int] | None:
    """A list item that is a mapping with an `id` (a check) names the problems inside it."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == "id":
                found = value_node.value if isinstance(value_node, ScalarNode) else None
                return entry_label(found, index), depth
    return None


def _syntax_problem(exc: yaml.YAMLError, text: str, file: str) -> Problem:
    """PyYAML's own words and lines, as file:line: malformed YAML: context at ...: problem at ..."""
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [
            f"{words} at line {mark.line + 1}, column {mark.column + 1}" if mark else words
            for words, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark))
            if words
        ]
        if exc.note:
            parts.append(exc.note)
        # Found at the end of the file, the problem is something opened earlier and never closed
        # (a quote, a bracket): the line to fix is where it opened.
        at_end = exc.problem_mark is not None and exc.problem_mark.index >= len(text.rstrip())
        mark = exc.context_mark if at_end and exc.context_mark else exc.problem_mark or exc.context_mark
        return Problem(file, "malformed YAML: " + ": ".join(parts), line=mark.line + 1 if mark else None)
    # A ReaderError (a control character) knows its character offset, not its line.
    position = getattr(exc, "position", None)
    line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
    return Problem(file, f"malformed YAML: {str(exc).splitlines()[0]}", line=line)
