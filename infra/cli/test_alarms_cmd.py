"""`python -m infra test-alarms [DIR]`: run the catalog's alarm unit tests (DIR/tests/*.yaml).

Exit 0 when every expectation holds; 1 on a failing expectation, a malformed test file, an unknown
check or signal, or an invalid catalog. Checks or signals without a test are listed, not failed.
"""

from __future__ import annotations

import argparse

from infra.alarm_tests import load_tests, run_all, tests_dir
from infra.cli.common import load_or_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", nargs="?", default="checks", help="catalog directory (default: checks)")
    parser.add_argument("--tests", default=None, help="alarm test directory (default: CATALOG/tests)")


def run(args: argparse.Namespace) -> int:
    catalog = load_or_report(args.catalog, ": fix the catalog first (python -m infra validate)")
    if catalog is None:
        return 1
    directory = args.tests or tests_dir(args.catalog)
    tests, problems = load_tests(directory)
    report = run_all(catalog, tests, problems)
    for problem in report.problems:
        print(f"error: {problem}")
    for failure in report.failures:
        print(f"FAIL {failure}")
    if report.untested:
        print(f"note: no alarm test for {', '.join(report.untested)}")
    passed = report.expectations - len(report.failures)
    summary = f"{report.tests} test(s), {passed}/{report.expectations} expectation(s) passed"
    if report.problems:
        summary += f", {len(report.problems)} problem(s) in the tests"
    print(("ok: " if report.ok else "FAILED: ") + summary)
    return 0 if report.ok else 1
