"""`test-alarms`: the runner passes good tests, reports failing expectations, and explains bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from infra.__main__ import main
from infra.alarm_tests import load_tests, parse_values
from infra.catalog import load_catalog
from tests.support.catalogs import FIXTURE_CATALOG

CHECKS = FIXTURE_CATALOG


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(CHECKS, root, ignore=shutil.ignore_patterns("tests"))
    (root / "tests").mkdir()
    return root


def write(root: Path, text: str, name: str = "t.yaml") -> Path:
    path = root / "tests" / name
    path.write_text(text)
    return path


def test_sample_catalog_tests_pass_and_cover_every_alarm(capsys):
    assert main(["test-alarms", str(CHECKS)]) == 0
    out = capsys.readouterr().out
    assert "ok:" in out
    assert "no alarm test for" not in out  # every check/signal of the sample catalog has a test


def test_catalog_loader_skips_the_tests_directory():
    assert (CHECKS / "tests").is_dir()
    defined = [
        c for p in CHECKS.glob("*.yaml") if p.name != "_settings.yaml" for c in yaml.safe_load(p.read_text())["checks"]
    ]
    assert len(load_catalog(CHECKS).checks) == len(defined)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 5 600 _ 600", [5, 5, 600, None, 600]),
        ("600x3 _x2 1.5", [600, 600, 600, None, None, 1.5]),
        ([1, None, "_", "2x2"], [1, None, None, 2, 2]),
        ("-1 1e3", [-1, 1000]),
    ],
)
def test_parse_values(text, expected):
    assert parse_values(text) == expected


@pytest.mark.parametrize("text", ["5 five", "600x0", "", "x3", True])
def test_parse_values_rejects(text):
    with pytest.raises(ValueError):
        parse_values(text)


def test_passing_file(catalog_dir, capsys):
    write(
        catalog_dir,
        "tests:\n  - check: orders-queue\n    signal: backlog\n    values: '5 5 600 _ 600 600'\n"
        "    expect: {0: OK, 3: OK, 5: ALARM}\n",
    )
    assert main(["test-alarms", str(catalog_dir)]) == 0
    out = capsys.readouterr().out
    assert "ok: 1 test(s), 3/3 expectation(s) passed" in out
    assert "no alarm test for" in out and "orders-queue/age" in out  # coverage note, not a failure


def test_failing_expectation_is_reported(catalog_dir, capsys):
    write(
        catalog_dir,
        "tests:\n  - check: orders-queue\n    signal: backlog\n    values: '5 5 600 _ 600 600'\n"
        "    expect: {4: ALARM, 5: ALARM}\n",
    )
    assert main(["test-alarms", str(catalog_dir)]) == 1
    out = capsys.readouterr().out
    assert "orders-queue/backlog at period 4 (t+4m): expected ALARM, got OK; series 5 5 600 _ 600 600" in out
    assert "at period 5" not in out
    assert "FAILED: 1 test(s), 1/2 expectation(s) passed" in out


def test_main_signal_may_be_omitted(catalog_dir, capsys):
    # http has one signal besides measure; sqs has three and must name one.
    write(
        catalog_dir,
        "tests:\n  - {check: campaign-api-health, values: '0 0', expect: {1: ALARM}}\n"
        "  - {check: orders-queue, values: '0', expect: {0: OK}}\n",
    )
    assert main(["test-alarms", str(catalog_dir)]) == 1
    out = capsys.readouterr().out
    assert "t.yaml: tests[1].signal: check orders-queue (sqs) has several signals, name one: backlog, age, dlq" in out
    assert "1 test(s), 1/1 expectation(s) passed" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tests: [", "malformed YAML"),
        ("checks: []", "expected a mapping with one key, tests"),
        ("tests: []", "tests: expected a non-empty list of tests"),
        ("tests: [5]", "tests[0]: expected a mapping with check, values and expect"),
        ("tests:\n  - {check: orders-queue, signal: dlq, values: '1'}", "tests[0].expect: required field is missing"),
        (
            "tests:\n  - {check: orders-queue, signal: dlq, values: '1 z', expect: {0: OK}}",
            "tests[0].values: 'z' is not",
        ),
        (
            "tests:\n  - {check: orders-queue, signal: dlq, values: '1', expect: {3: OK}}",
            "period 3 is beyond the series",
        ),
        (
            "tests:\n  - {check: orders-queue, signal: dlq, values: '1', expect: {0: FIRING}}",
            "found 'FIRING'; allowed: OK",
        ),
        ("tests:\n  - {check: orders-queue, signal: dlq, values: '1', expect: {a: OK}}", "expected a period index"),
        (
            "tests:\n  - {check: orders-queue, signal: dlq, valeus: '1', expect: {0: OK}}",
            "tests[0].valeus: unknown field",
        ),
        ("tests:\n  - {check: nope, values: '1', expect: {0: OK}}", "tests[0].check: unknown check 'nope'; checks:"),
        ("tests:\n  - {check: orders-queue, signal: lag, values: '1', expect: {0: OK}}", "unknown signal 'lag'"),
    ],
)
def test_malformed_file_errors_name_file_test_and_field(catalog_dir, capsys, text, message):
    path = write(catalog_dir, text)
    assert main(["test-alarms", str(catalog_dir)]) == 1
    out = capsys.readouterr().out
    assert "Traceback" not in out
    assert message in out
    assert str(path) in out


def test_missing_tests_directory(catalog_dir, capsys):
    shutil.rmtree(catalog_dir / "tests")
    assert main(["test-alarms", str(catalog_dir)]) == 1
    assert "no alarm test directory" in capsys.readouterr().out


def test_load_tests_collects_every_problem(catalog_dir):
    write(catalog_dir, "tests:\n  - {check: 5, values: 'q', expect: []}\n")
    tests, problems = load_tests(catalog_dir / "tests")
    assert tests == []
    assert {p.field for p in problems} == {"tests[0].check", "tests[0].values", "tests[0].expect"}
