"""`python -m infra validate` on mutated catalogs: always exit 1 with problem lines, never a traceback.

A deterministic generator (a seeded random.Random; hypothesis is not a dependency) breaks copies of
tests/fixtures/validation/catalog (every kind): wrong types, nulls, lists for mappings and back,
unicode, huge and non-finite numbers, unknown kinds and fields, deleted keys and files, garbage
and non-UTF-8 files, YAML errors. Each case ends with one mutation that is certainly wrong, so
the catalog can never come out valid by chance.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.__main__ import main
from tests.support.catalogs import VALIDATION_CATALOG

GOOD = VALIDATION_CATALOG
CASES = 100
SEED = 20240610

ODD_VALUES: list[Any] = [
    None,
    [],
    {},
    [None],
    {"x": None},
    "",
    " ",
    "ünïcødé ✓ 漢字 🙂 مرحبا",
    "\u202eevil",
    "line\nbreak",
    10**30,
    -(10**30),
    1e308,
    float("inf"),
    float("nan"),
    -1,
    0,
    True,
    3.5,
    "x" * 3000,
    [[[[]]]],
    {"kind": "smtp"},
    "5 fortnights",
    "SELECT 1; DROP TABLE x",
]
# Values no field of any check accepts as its severity: the mutation that makes a case certainly wrong.
NOT_A_SEVERITY: list[Any] = [None, [], {}, 10**30, "ünïcødé", "urgent", True, [["critical"]]]
GARBAGE_FILES: list[bytes] = [
    b"",
    b"# only a comment\n",
    b"\xff\xfe\x00binary\x00",
    b"service: [unclosed\n",
    b"service: 'unclosed\n",
    b"service: a\nservice: b\nchecks: []\n",
    b"- just\n- a list\n",
    b"just text\n",
    b"service: x\nchecks: " + b"[" * 3000 + b"\n",
    b"service: x\nchecks: &a [*a]\n",
    b"\tservice: tab\n",
    b"service: x\nchecks:\n  - " + b"9" * 5000 + b"\n",
]
# What reading a file back raises after an earlier mutation wrote garbage there (deep nesting: RecursionError).
UNREADABLE = (yaml.YAMLError, UnicodeDecodeError, ValueError, RecursionError)


def _nodes(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into the data, the root included."""
    found = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _nodes(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _nodes(value, (*path, index))
    return found


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(data, path[:-1])[path[-1]] = value
    return data


def _replace_value(rng: random.Random, data: Any) -> Any:
    return _set(data, rng.choice(_nodes(data)), rng.choice(ODD_VALUES))


def _delete_key(rng: random.Random, data: Any) -> Any:
    keyed = [p for p in _nodes(data) if p and isinstance(_get(data, p[:-1]), dict | list)]
    if keyed:
        path = rng.choice(keyed)
        del _get(data, path[:-1])[path[-1]]
    return data


def _add_unknown_key(rng: random.Random, data: Any) -> Any:
    mappings = [p for p in _nodes(data) if isinstance(_get(data, p), dict)]
    if mappings:
        _get(data, rng.choice(mappings))[rng.choice(["colour", "Severity", "ids", "", "ü"])] = rng.choice(ODD_VALUES)
    return data


def _flip_shape(rng: random.Random, data: Any) -> Any:
    """A mapping becomes the list of its items, a list becomes a mapping by position."""
    containers = [p for p in _nodes(data) if isinstance(_get(data, p), dict | list)]
    path = rng.choice(containers)
    value = _get(data, path)
    flipped = (
        [{k: v} for k, v in value.items()] if isinstance(value, dict) else {str(i): v for i, v in enumerate(value)}
    )
    return _set(data, path, flipped)


def _swap_kind(rng: random.Random, data: Any) -> Any:
    checks = data.get("checks") if isinstance(data, dict) else None
    entries = [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []
    if entries:
        rng.choice(entries)["kind"] = rng.choice(["http", "sqs", "rds", "consistency", "smtp", "", None, ["sql"]])
    return data


def _duplicate_check(rng: random.Random, data: Any) -> Any:
    checks = data.get("checks") if isinstance(data, dict) else None
    if isinstance(checks, list) and checks:
        checks.append(rng.choice(checks))
    return data


DATA_MUTATIONS: list[Callable[[random.Random, Any], Any]] = [
    _replace_value,
    _replace_value,
    _delete_key,
    _add_unknown_key,
    _flip_shape,
    _swap_kind,
    _duplicate_check,
]


def _mutate_file(rng: random.Random, root: Path) -> str:
    """Break one file; the name of what was done."""
    files = sorted(p for p in root.rglob("*.yaml") if p.is_file())
    if not files:
        return "nothing"
    path = rng.choice(files)
    choice = rng.random()
    if choice < 0.1:
        path.unlink()
        return "delete"
    if choice < 0.2:
        path.write_bytes(rng.choice(GARBAGE_FILES))
        return "garbage"
    if choice < 0.25:
        path.unlink()
        path.mkdir()
        return "directory"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UNREADABLE:
        return "unreadable"
    mutation = rng.choice(DATA_MUTATIONS)
    path.write_text(yaml.safe_dump(mutation(rng, data), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return mutation.__name__


def _certainly_wrong(rng: random.Random, root: Path) -> None:
    """One mutation no catalog survives: a check without a usable severity, or a broken settings file."""
    services = sorted(p for p in root.glob("*.yaml") if p.is_file() and p.name != "_settings.yaml")
    for path in rng.sample(services, len(services)):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UNREADABLE:
            continue
        checks = data.get("checks") if isinstance(data, dict) else None
        entries = [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []
        if entries:
            rng.choice(entries)["severity"] = rng.choice(NOT_A_SEVERITY)
            path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
            return
    settings = root / "_settings.yaml"
    if settings.is_dir():
        settings.rmdir()
    settings.write_bytes(rng.choice(GARBAGE_FILES[:8]))


def mutated_catalog(seed: int, root: Path) -> list[str]:
    """Copy the good catalog to root and break it; what was done, in order."""
    rng = random.Random(seed)
    shutil.copytree(GOOD, root)
    done = [_mutate_file(rng, root) for _ in range(rng.randint(1, 3))]
    _certainly_wrong(rng, root)
    return done


@pytest.mark.parametrize("case", range(CASES))
def test_validate_answers_every_mutated_catalog_with_problem_lines(tmp_path, capsys, case):
    root = tmp_path / "catalog"
    mutated_catalog(SEED + case, root)

    code = main(["validate", str(root)])  # an exception here fails the test: that is the traceback

    out, err = capsys.readouterr()
    assert code == 1, out
    assert "Traceback" not in out + err
    lines = out.splitlines()
    assert lines[-1].endswith(f"problem(s) in {root}"), out
    errors = [line for line in lines[:-1] if not line.startswith("note: ")]
    assert errors and all(line.startswith(f"error: {root}") for line in errors), out


def test_the_generator_reaches_every_kind_of_mutation(tmp_path):
    """The fuzz is only as good as its reach: every mutation is drawn by some case."""
    done = {name for case in range(CASES) for name in mutated_catalog(SEED + case, tmp_path / str(case))}
    assert {"delete", "garbage", "directory", *(m.__name__ for m in DATA_MUTATIONS)} <= done


def test_validate_on_a_missing_or_empty_directory_is_a_problem(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nowhere")]) == 1
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) == 1
    out = capsys.readouterr().out
    assert "no such catalog directory" in out and "_settings.yaml: missing" in out and "no service files" in out
