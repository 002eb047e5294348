"""Alarm unit tests for the catalog, in the spirit of Prometheus's `promtool test rules`.

A test file (checks/tests/*.yaml; the catalog loader skips that directory) holds:

    tests:
      - check: orders-queue        # a check id from the catalog
        signal: backlog            # optional when the check has one signal besides `measure`
        name: worker stalls        # optional, shown in failures
        initial: OK                # optional state before the first period (default INSUFFICIENT_DATA)
        values: "5 5 600x3 _ 600"  # one data point per alarm period; _ is missing; AxN repeats A N times
        expect: {0: OK, 4: ALARM}  # period index (0-based) → state after that period is evaluated
        band: [40, 60]             # only for a signal alarming on an anomaly band: the band assumed

Indexes count alarm periods of the check's resolved rule (`check.rule(signal)`): with the default
1-minute period, index 4 is the fifth minute. Each value is the period's aggregated data point (the
rule's statistic already applied). States: OK, ALARM, INSUFFICIENT_DATA. The series runs through
`infra.alarm_model.evaluate`, the same model `plan` uses.

An anomaly detection band is learnt by CloudWatch from the metric's history: a test of a band
signal states the band it assumes (`band: [lower, upper]`, the same for every period) and checks
the rest of the rule (side, M of N, missing data) against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.alarm_model import AlarmState, Band, Datapoint, evaluate
from infra.catalog import ALARM_TESTS_DIR, Catalog
from infra.catalog_yaml import Problem, read_yaml, yaml_files
from vigil.spec.common import MEASURE_SIGNAL, AlarmRule, format_duration

TEST_KEYS = {"check", "signal", "name", "initial", "values", "expect", "band"}
_TOKEN = re.compile(r"^(_|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:x(\d+))?$")
_MAX_POINTS = 10_000  # a typo such as 5x100000000 must not hang CI


@dataclass(frozen=True)
class AlarmTest:
    file: str
    index: int  # position in the file's `tests` list, 0-based
    check: str
    signal: str | None
    values: tuple[Datapoint, ...]
    expect: dict[int, AlarmState]
    initial: AlarmState = AlarmState.INSUFFICIENT_DATA
    name: str | None = None
    band: Band | None = None

    @property
    def label(self) -> str:
        return f"{self.file}: tests[{self.index}]" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True)
class Failure:
    test: AlarmTest
    signal: str
    period_index: int
    period_seconds: int
    expected: AlarmState
    got: AlarmState
    states: tuple[AlarmState, ...]

    def __str__(self) -> str:
        at = format_duration(self.period_index * self.period_seconds) if self.period_index else "0s"
        series = " ".join(format_values(self.test.values))
        states = " ".join(_short(s) for s in self.states)
        return (
            f"{self.test.check}/{self.signal} at period {self.period_index} (t+{at}): expected {self.expected}, "
            f"got {self.got}; series {series}; states {states} [{self.test.label}]"
        )


@dataclass
class Report:
    tests: int
    expectations: int
    failures: list[Failure]
    problems: list[Problem]
    untested: list[str]  # check/signal pairs with an alarm but no test

    @property
    def ok(self) -> bool:
        return not self.failures and not self.problems


def parse_values(raw: Any) -> list[Datapoint]:
    """'5 5 600x3 _' or a YAML list (numbers, null or '_') → one data point per period."""
    tokens: list[Any]
    if isinstance(raw, str):
        tokens = raw.split()
    elif isinstance(raw, list):
        tokens = raw
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        tokens = [raw]
    else:
        raise ValueError("expected a string such as '5 5 600x3 _' or a list of numbers")
    values: list[Datapoint] = []
    for token in tokens:
        if token is None:
            values.append(None)
            continue
        if isinstance(token, bool) or not isinstance(token, (int, float, str)):
            raise ValueError(f"{token!r} is not a number, '_' or 'AxN'")
        if isinstance(token, (int, float)):
            values.append(float(token))
            continue
        match = _TOKEN.match(token.strip())
        if not match:
            raise ValueError(f"{token!r} is not a number, '_' (missing) or a repeat such as 600x3")
        value = None if match.group(1) == "_" else float(match.group(1))
        count = int(match.group(2)) if match.group(2) else 1
        if count < 1:
            raise ValueError(f"{token!r}: repeat count must be at least 1")
        values.extend([value] * count)
        if len(values) > _MAX_POINTS:
            raise ValueError(f"more than {_MAX_POINTS} data points")
    if not values:
        raise ValueError("no data points")
    return values


def format_values(values: tuple[Datapoint, ...] | list[Datapoint]) -> list[str]:
    return ["_" if v is None else f"{v:g}" for v in values]


def _short(state: AlarmState) -> str:
    return "INSUFFICIENT" if state is AlarmState.INSUFFICIENT_DATA else state.value


def _state(raw: Any) -> AlarmState:
    if isinstance(raw, str):
        try:
            return AlarmState(raw.strip().upper())
        except ValueError:
            pass
    raise ValueError(f"found {raw!r}; allowed: {', '.join(s.value for s in AlarmState)}")


def tests_dir(catalog_root: Path | str) -> Path:
    return Path(catalog_root) / ALARM_TESTS_DIR


def load_tests(directory: Path | str) -> tuple[list[AlarmTest], list[Problem]]:
    """Every test in directory/*.yaml, or a problem per malformed file, test or field."""
    directory = Path(directory)
    problems: list[Problem] = []
    if not directory.is_dir():
        return [], [Problem(str(directory), "no alarm test directory (add tests/*.yaml under the catalog)")]
    files = yaml_files(directory)
    if not files:
        problems.append(Problem(str(directory), "no alarm test files (*.yaml) found"))
    tests: list[AlarmTest] = []
    for path in files:
        tests.extend(_load_file(path, problems))
    return tests, problems


def _load_file(path: Path, problems: list[Problem]) -> list[AlarmTest]:
    file = str(path)
    document = read_yaml(path, problems, "a mapping with one key, tests: a list of alarm tests")
    if document is None:
        return []
    data = document.data
    if not isinstance(data, dict) or set(data) != {"tests"}:
        problems.append(Problem(file, "expected a mapping with one key, tests: a list of alarm tests"))
        return []
    entries = data["tests"]
    if not isinstance(entries, list) or not entries:
        problems.append(Problem(file, "expected a non-empty list of tests", field="tests"))
        return []
    tests = []
    for index, entry in enumerate(entries):
        test = _parse_test(file, index, entry, problems)
        if test is not None:
            tests.append(test)
    return tests


def _parse_test(file: str, index: int, entry: Any, problems: list[Problem]) -> AlarmTest | None:
    where = f"tests[{index}]"

    def problem(message: str, key: str | None = None) -> None:
        problems.append(Problem(file, message, field=f"{where}.{key}" if key else where))

    if not isinstance(entry, dict):
        problem("expected a mapping with check, values and expect")
        return None
    before = len(problems)
    for key in sorted(set(entry) - TEST_KEYS, key=str):
        problem(f"unknown field; allowed: {', '.join(sorted(TEST_KEYS))}", str(key))
    for key in ("check", "values", "expect"):
        if key not in entry:
            problem("required field is missing", key)
    check, signal, name = entry.get("check"), entry.get("signal"), entry.get("name")
    if "check" in entry and not isinstance(check, str):
        problem(f"expected a check id, found {check!r}", "check")
    if signal is not None and not isinstance(signal, str):
        problem(f"expected a signal name, found {signal!r}", "signal")
    if name is not None and not isinstance(name, str):
        problem(f"expected text, found {name!r}", "name")
    initial = AlarmState.INSUFFICIENT_DATA
    if "initial" in entry:
        try:
            initial = _state(entry["initial"])
        except ValueError as exc:
            problem(str(exc), "initial")
    values: list[Datapoint] = []
    if "values" in entry:
        try:
            values = parse_values(entry["values"])
        except ValueError as exc:
            problem(str(exc), "values")
    expect: dict[int, AlarmState] = {}
    raw_expect = entry.get("expect")
    if "expect" in entry:
        if not isinstance(raw_expect, dict) or not raw_expect:
            problem("expected a mapping of period index → state, such as {0: OK, 5: ALARM}", "expect")
        else:
            for key, raw_state in raw_expect.items():
                if isinstance(key, bool) or not (isinstance(key, int) or (isinstance(key, str) and key.isdigit())):
                    problem(f"key {key!r}: expected a period index (0, 1, 2, ...)", "expect")
                    continue
                period = int(key)
                if values and period >= len(values):
                    problem(
                        f"period {period} is beyond the series ({len(values)} values: 0..{len(values) - 1})", "expect"
                    )
                    continue
                try:
                    expect[period] = _state(raw_state)
                except ValueError as exc:
                    problem(f"period {period}: {exc}", "expect")
    band: Band | None = None
    if "band" in entry:
        try:
            band = _band(entry["band"])
        except ValueError as exc:
            problem(str(exc), "band")
    if len(problems) > before:
        return None
    return AlarmTest(file, index, check, signal, tuple(values), dict(sorted(expect.items())), initial, name, band)


def _band(raw: Any) -> Band:
    numbers = (
        raw
        if isinstance(raw, list)
        and len(raw) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
        else None
    )
    if numbers is None or numbers[0] > numbers[1]:
        raise ValueError(f"found {raw!r}; expected [lower, upper], two numbers with lower <= upper")
    return float(numbers[0]), float(numbers[1])


def resolve_signal(test: AlarmTest, catalog: Catalog) -> tuple[str, AlarmRule] | Problem:
    """The signal a test means and the check's resolved rule for it, or a problem naming the fix."""
    where = f"tests[{test.index}]"
    try:
        check = catalog.by_id(test.check)
    except KeyError:
        known = ", ".join(sorted(c.id for c in catalog.checks))
        return Problem(test.file, f"unknown check {test.check!r}; checks: {known}", field=f"{where}.check")
    active = check.active_signals()
    if test.signal is None:
        main = [s for s in active if s != MEASURE_SIGNAL.name]
        if len(main) != 1:
            return Problem(
                test.file,
                f"check {check.id} ({check.kind}) has several signals, name one: {', '.join(active)}",
                field=f"{where}.signal",
            )
        signal = main[0]
    elif test.signal not in active:
        return Problem(
            test.file,
            f"unknown signal {test.signal!r} for check {check.id} ({check.kind}); signals: {', '.join(active)}",
            field=f"{where}.signal",
        )
    else:
        signal = test.signal
    rule = check.rule(signal)
    if rule.band is not None and test.band is None:
        return Problem(
            test.file,
            f"{check.id}/{signal} alarms on an anomaly band that CloudWatch learns from the metric's history; "
            "state the band this test assumes, such as band: [40, 60]",
            field=f"{where}.band",
        )
    if rule.band is None and test.band is not None:
        return Problem(
            test.file, f"{check.id}/{signal} alarms on a threshold, not a band; remove band", field=f"{where}.band"
        )
    return signal, rule


def run_test(test: AlarmTest, signal: str, rule: AlarmRule) -> list[Failure]:
    states = tuple(evaluate(rule, list(test.values), test.initial, band=test.band))
    return [
        Failure(test, signal, period, rule.period, expected, states[period], states)
        for period, expected in test.expect.items()
        if states[period] is not expected
    ]


def run_all(catalog: Catalog, tests: list[AlarmTest], problems: list[Problem] | None = None) -> Report:
    report = Report(tests=0, expectations=0, failures=[], problems=list(problems or []), untested=[])
    covered: set[tuple[str, str]] = set()
    for test in tests:
        resolved = resolve_signal(test, catalog)
        if isinstance(resolved, Problem):
            report.problems.append(resolved)
            continue
        signal, rule = resolved
        covered.add((test.check, signal))
        report.tests += 1
        report.expectations += len(test.expect)
        report.failures.extend(run_test(test, signal, rule))
    report.untested = [
        f"{check.id}/{signal}"
        for check in catalog.checks
        for signal in check.active_signals()
        if (check.id, signal) not in covered
    ]
    return report
