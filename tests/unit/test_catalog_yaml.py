"""Reading catalog YAML: duplicate keys, empty files and syntax errors are problems with a file and a line.

The bad files are fixtures (tests/fixtures/validation/bad/) dropped into a copy of a valid catalog
(tests/fixtures/validation/catalog/), for each kind of file the catalog is read from: service
files, _settings.yaml and the alarm tests under tests/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.__main__ import main
from infra.catalog import load_catalog
from infra.catalog_yaml import MAX_VALUES
from tests.support.catalogs import VALIDATION_CATALOG, VALIDATION_FIXTURES
from tests.support.catalogs import problem_lines as problems

GOOD = VALIDATION_CATALOG
BAD = VALIDATION_FIXTURES / "bad"


def catalog_with(tmp_path: Path, bad: str | None = None, as_file: str = "extra.yaml", text: str | None = None) -> Path:
    """A copy of the good catalog with one bad file (a fixture, or text) written as `as_file`."""
    root = tmp_path / "catalog"
    shutil.copytree(GOOD, root)
    target = root / as_file
    if bad is not None:
        shutil.copy(BAD / bad, target)
    if text is not None:
        target.write_text(text)
    return root


def test_the_fixture_catalog_is_valid_and_has_every_kind():
    from infra.kinds import KINDS

    assert {c.kind for c in load_catalog(GOOD).checks} == set(KINDS)


def test_a_second_checks_key_is_refused_naming_both_lines(tmp_path):
    # Plain YAML keeps only the second list: extra-api, extra-queue and extra-db would vanish.
    (line,) = problems(catalog_with(tmp_path, "duplicate-checks.yaml"))
    assert line.startswith(f"{tmp_path / 'catalog' / 'extra.yaml'}:17: checks: duplicate key 'checks'")
    assert "first at line 4" in line


def test_a_second_severity_in_a_check_is_refused_naming_the_check(tmp_path):
    (line,) = problems(catalog_with(tmp_path, "duplicate-severity.yaml"))
    assert line.startswith(f"{tmp_path / 'catalog' / 'extra.yaml'}:10: check extra-api: severity: duplicate key")
    assert "first at line 6" in line


def test_a_duplicate_key_in_the_settings_is_refused(tmp_path):
    (line,) = problems(catalog_with(tmp_path, "duplicate-contact-key.yaml", as_file="_settings.yaml"))
    assert line.startswith(f"{tmp_path / 'catalog' / '_settings.yaml'}:7: contacts.oncall.sms: duplicate key 'sms'")


def test_a_duplicate_key_in_an_alarm_test_fails_test_alarms(tmp_path, capsys):
    root = catalog_with(tmp_path, "duplicate-alarm-test-key.yaml", as_file="tests/shop.yaml")
    assert main(["test-alarms", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"error: {root / 'tests' / 'shop.yaml'}:6: tests.0.expect: duplicate key 'expect' (first at line 5)" in out


def test_keys_that_yaml_reads_as_one_are_duplicates(tmp_path):
    # `yes` and `true` are both the boolean true in YAML 1.1: one would overwrite the other.
    text = "service: shop-extra\nchecks: []\nyes: 1\ntrue: 2\n"
    found = problems(catalog_with(tmp_path, text=text))
    assert any(":4: " in line and "duplicate key True (first at line 3)" in line for line in found), found


def test_merge_keys_are_not_duplicates(tmp_path):
    text = (
        "service: shop-extra\n"
        "checks:\n"
        "  - &api {id: extra-api, kind: http, severity: critical, url: 'https://a.example.com/'}\n"
        "  - {<<: *api, id: extra-api-2, url: 'https://b.example.com/'}\n"
    )
    assert load_catalog(catalog_with(tmp_path, text=text)).by_id("extra-api-2").url == "https://b.example.com/"


@pytest.mark.parametrize(
    ("name", "text"),
    [("comment-only", None), ("empty", ""), ("blank-lines", "\n  \n\t\n"), ("document-marker", "---\n")],
)
def test_a_service_file_with_only_comments_is_an_empty_file(tmp_path, name, text):
    """Comments, blank lines or nothing at all: the same problem, never a service whose checks vanish."""
    root = catalog_with(tmp_path, "comment-only.yaml" if text is None else None, "legacy.yaml", text)
    (line,) = problems(root)
    assert line == (
        f"{root / 'legacy.yaml'}: empty file (nothing but comments or blank lines): expected service, team and "
        "checks (a service without checks says checks: [], or delete the file)"
    )


def test_an_empty_settings_file_and_an_empty_alarm_test_file_are_empty_files(tmp_path, capsys):
    root = catalog_with(tmp_path, "comment-only.yaml", as_file="_settings.yaml")
    (line,) = problems(root)
    assert "_settings.yaml: empty file (nothing but comments or blank lines): expected a mapping" in line
    root = catalog_with(tmp_path / "t", "comment-only.yaml", as_file="tests/shop.yaml")
    assert main(["test-alarms", str(root)]) == 1
    assert "shop.yaml: empty file (nothing but comments or blank lines)" in capsys.readouterr().out


def test_a_service_without_checks_is_valid_and_validate_says_so(tmp_path, capsys):
    root = catalog_with(tmp_path, text="service: shop-legacy\nchecks: []\n", as_file="legacy.yaml")
    assert main(["validate", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"note: {root / 'legacy.yaml'}: no checks" in out and "ok: 19 checks" in out


def test_a_yaml_syntax_error_keeps_pyyaml_context_and_lines(tmp_path, capsys):
    root = catalog_with(tmp_path, "unclosed-quote.yaml")
    assert main(["validate", str(root)]) == 1
    out = capsys.readouterr().out
    # Found at the end of the file, the quote that never closed (line 7) is where to look.
    assert (
        f"error: {root / 'extra.yaml'}:7: malformed YAML: while scanning a quoted scalar at line 7, column 18: "
        "found unexpected end of stream at line 13, column 1"
    ) in out
    assert "Traceback" not in out


def test_a_syntax_error_mid_file_points_at_the_problem_line(tmp_path):
    text = "service: shop-extra\nchecks:\n  - id: a\n    kind: http\n   severity: critical\n"
    (line,) = problems(catalog_with(tmp_path, text=text))
    assert line.endswith(
        "extra.yaml:5: malformed YAML: while parsing a block collection at line 3, column 3: "
        "expected <block end>, but found '<block mapping start>' at line 5, column 4"
    )


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("service: x\nchecks: []\nn: " + "1" * 5000 + "\n", [":3: ", "cannot read this value", "4300 digits"]),
        ("service: x\nchecks: []\nwhen: 2001-02-30\n", [":3: ", "cannot read this value: day is out of range"]),
        ("service: x\nchecks: &a [*a]\n", [":2: ", "an alias refers to the value that contains it"]),
        ("service: x\nchecks: " + "[" * 5000 + "\n", [":2: ", "malformed YAML: more than 100 [ ] or { } inside"]),
        ("".join("  " * i + "-\n" for i in range(1000)), ["malformed YAML: nested too deeply to read"]),
        ("service: x\nchecks: []\nbell: \x07\n", [":3: ", "malformed YAML: unacceptable character #x0007"]),
        ("service: x\n---\nservice: y\n", [":2: ", "expected a single document in the stream"]),
        ("service: !!python/object:os.system x\n", [":1: ", "could not determine a constructor"]),
    ],
    ids=[
        "huge-integer",
        "bad-date",
        "alias-loop",
        "deep-flow-nesting",
        "deep-block-nesting",
        "control-character",
        "two-documents",
        "python-tag",
    ],
)
def test_values_yaml_cannot_build_are_problems_with_a_line(tmp_path, text, fragments):
    (line,) = problems(catalog_with(tmp_path, text=text))
    assert all(f in line for f in fragments), line


def test_an_alias_bomb_is_refused_before_anything_expands_it(tmp_path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10**9 values
    (line,) = problems(catalog_with(tmp_path, text="service: x\nchecks: []\n" + "\n".join(levels) + "\n"))
    assert f"at most {MAX_VALUES:,} are read" in line


def test_a_file_that_is_not_utf8_is_a_problem(tmp_path):
    root = catalog_with(tmp_path)
    (root / "extra.yaml").write_bytes(b"service: caf\xe9\n")
    (line,) = problems(root)
    assert "extra.yaml: cannot read the file" in line and "utf-8" in line


def test_validation_problems_name_the_line_of_the_field(tmp_path):
    good = (GOOD / "shop.yaml").read_text()
    root = catalog_with(
        tmp_path, as_file="shop.yaml", text=good.replace("queue: shop-orders\n", "queue: shop orders\n")
    )
    (line,) = problems(root)
    assert line.startswith(f"{root / 'shop.yaml'}:15: check shop-orders: queue: found 'shop orders'; allowed: a queue")


def test_a_check_without_a_usable_id_is_named_by_its_position(tmp_path):
    long_id = "x" * 3000
    text = f"service: shop-extra\nchecks:\n  - id: {long_id}\n    kind: http\n    kind: sqs\n"
    (line,) = problems(catalog_with(tmp_path, text=text))
    assert ":5: check #1: kind: duplicate key 'kind'" in line and long_id not in line
    root = catalog_with(tmp_path / "b", text=f"service: shop-extra\nchecks:\n  - {{id: {long_id}, kind: smtp}}\n")
    (line,) = problems(root)
    assert ":3: check #1: kind: found 'smtp'" in line and long_id not in line
