"""vigil.checkers.runner: whatever a kind's parse or measure does, the run reports and never raises."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from pydantic import BaseModel, Field

from infra.sizing import checker_timeout
from tests.support.emf import assert_vigil_emf, emf_lines, only_emf
from tests.support.lambda_context import Context
from vigil import metrics
from vigil.checkers import runner
from vigil.result import MAX_SAMPLES, SAMPLE_LIMIT, CheckResult, Status


class Probe(BaseModel):
    id: str
    kind: str
    depth: int = Field(ge=0)


def measure(spec: Probe, resolve: runner.SecretsResolver) -> CheckResult:
    return CheckResult(check_id="someone-else", kind="other", status=Status.ok, values={"Depth": float(spec.depth)})


def event(**check: Any) -> dict[str, Any]:
    return {"check": {"id": "queue-depth", "kind": "probe", "depth": 3, **check}, "secrets": {}}


def test_the_spec_decides_identity_not_the_checker(capsys):
    result = runner.run(event(), "probe", Probe.model_validate, measure)

    assert (result["check_id"], result["kind"], result["status"]) == ("queue-depth", "probe", "ok")
    assert_vigil_emf(only_emf(capsys.readouterr().out), "queue-depth", {"MeasureFailed": 0, "Depth": 3})


def test_a_pydantic_parse_error_is_located(capsys):
    result = runner.run(event(depth=-1, colour="red"), "probe", Probe.model_validate, measure)

    assert (result["status"], result["reason_code"]) == ("failed", "spec")
    assert result["reason"] == "invalid check: depth: Input should be greater than or equal to 0"
    assert_vigil_emf(only_emf(capsys.readouterr().out), "queue-depth", {"MeasureFailed": 1})


def test_a_check_of_another_kind_is_refused(capsys):
    result = runner.run(event(kind="http"), "probe", Probe.model_validate, measure)

    assert (result["status"], result["reason_code"]) == ("failed", "spec")
    assert "kind 'http' sent to the probe checker" in result["reason"]


def test_a_measure_that_returns_something_else_is_internal(capsys):
    result = runner.run(event(), "probe", Probe.model_validate, lambda spec, resolve: {"Depth": 3})

    assert (result["status"], result["reason_code"]) == ("failed", "internal")
    assert result["reason"] == "measure returned dict, not CheckResult"
    assert_vigil_emf(only_emf(capsys.readouterr().out), "queue-depth", {"MeasureFailed": 1})


def test_samples_are_bounded_and_ride_in_the_log_line(capsys):
    def noisy(spec: Probe, resolve: runner.SecretsResolver) -> CheckResult:
        lines = [f"line {i}\nwith a break " + "x" * 400 for i in range(25)]
        return CheckResult(
            check_id=spec.id, kind="probe", status=Status.ok, values={"Depth": 1.0}, samples=tuple(lines)
        )

    result = runner.run(event(), "probe", Probe.model_validate, noisy)

    assert len(result["samples"]) == MAX_SAMPLES
    assert all(len(s) <= SAMPLE_LIMIT and "\n" not in s for s in result["samples"])
    assert result["samples"][0].startswith("line 0 with a break x")
    assert only_emf(capsys.readouterr().out)["samples"] == result["samples"]


def test_a_healthy_run_logs_its_emf_line_and_nothing_at_info(capsys, caplog):
    # In Lambda the EMF line is a healthy run's whole log (infra.functions, quiet logs): a second
    # INFO line would double what a 1-minute check pays for logs.
    caplog.set_level("INFO", logger="vigil")
    runner.run(event(), "probe", Probe.model_validate, measure)

    assert [r for r in caplog.records if r.levelno >= 20] == []
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_a_run_that_cannot_measure_still_logs_an_error(capsys, caplog):
    caplog.set_level("INFO", logger="vigil")
    runner.run(event(depth=-1), "probe", Probe.model_validate, measure)

    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "could not measure (spec)" in caplog.records[0].getMessage()


# --- a group's run (infra.check_groups) ---------------------------------------------------------


def test_a_group_measures_its_checks_side_by_side_and_reports_each(capsys):
    # Both measures must be in flight at once to pass the barrier: run one after the other, the
    # first would wait out the timeout and report internal.
    barrier = threading.Barrier(2, timeout=5)

    def together(spec: Probe, resolve: runner.SecretsResolver) -> CheckResult:
        barrier.wait()
        return CheckResult(check_id=spec.id, kind="probe", status=Status.ok, values={"Depth": float(spec.depth)})

    group = {"checks": [event(id="queue-a", depth=1), event(id="queue-b", depth=2)]}
    result = runner.run(group, "probe", Probe.model_validate, together)

    assert [(r["check_id"], r["status"]) for r in result["checks"]] == [("queue-a", "ok"), ("queue-b", "ok")]
    lines = {line["Check"]: line for line in emf_lines(capsys.readouterr().out)}
    assert_vigil_emf(lines["queue-a"], "queue-a", {"MeasureFailed": 0, "Depth": 1})
    assert_vigil_emf(lines["queue-b"], "queue-b", {"MeasureFailed": 0, "Depth": 2})


def test_one_bad_check_in_a_group_fails_alone(capsys):
    group = {"checks": [event(id="queue-a", depth=-1), event(id="queue-b", depth=2)]}
    result = runner.run(group, "probe", Probe.model_validate, measure)

    assert [(r["check_id"], r["status"], r["reason_code"]) for r in result["checks"]] == [
        ("queue-a", "failed", "spec"),
        ("queue-b", "ok", None),
    ]
    lines = {line["Check"]: line for line in emf_lines(capsys.readouterr().out)}
    assert_vigil_emf(lines["queue-a"], "queue-a", {"MeasureFailed": 1})
    assert_vigil_emf(lines["queue-b"], "queue-b", {"MeasureFailed": 0, "Depth": 2})


@pytest.mark.parametrize("checks", [[], "queue-a", [event()] * (runner.MAX_GROUP + 1)], ids=["empty", "text", "big"])
def test_a_group_event_that_cannot_be_read_emits_nothing_and_says_so(capsys, caplog, checks):
    # Nothing emitted: each check's alarm sees missing data, which pages (breaching), never healthy.
    result = runner.run({"checks": checks}, "probe", Probe.model_validate, measure)

    assert result == {"checks": []}
    assert emf_lines(capsys.readouterr().out) == []
    assert "malformed group event" in caplog.text


def test_a_check_still_running_at_the_deadline_fails_alone_and_the_rest_are_already_reported(capsys):
    # One target hangs past its own timeout: Lambda would end the whole run, taking every
    # datapoint with it, if the group waited for it.
    release = threading.Event()

    def hanging(spec: Probe, resolve: runner.SecretsResolver) -> CheckResult:
        if spec.id == "queue-stuck":
            release.wait(30)
        return CheckResult(check_id=spec.id, kind="probe", status=Status.ok, values={"Depth": float(spec.depth)})

    group = {"checks": [event(id="queue-stuck"), event(id="queue-b", depth=2)]}
    started = time.monotonic()
    try:
        result = runner.run(group, "probe", Probe.model_validate, hanging, Context(runner.REPORT_MARGIN_S + 2))
    finally:
        release.set()
    assert time.monotonic() - started < 10, "the group must not wait for the hanging check"

    assert [(r["check_id"], r["status"], r["reason_code"]) for r in result["checks"]] == [
        ("queue-stuck", "failed", "deadline"),
        ("queue-b", "ok", None),
    ]
    lines = {line["Check"]: line for line in emf_lines(capsys.readouterr().out)}
    assert_vigil_emf(lines["queue-b"], "queue-b", {"MeasureFailed": 0, "Depth": 2})
    assert_vigil_emf(lines["queue-stuck"], "queue-stuck", {"MeasureFailed": 1})
    assert list(lines) == ["queue-b", "queue-stuck"], "the finished check is reported first, not held back"


def test_an_emf_line_carries_no_log_level():
    # Lambda's JSON log format filters a line by its "level" field (none: INFO, which passes);
    # a level of "debug" in the metadata would silently drop the metrics.
    result = CheckResult(check_id="queue-depth", kind="probe", status=Status.ok, values={"Depth": 1.0})
    assert "level" not in {key.lower() for key in metrics.render(result)}


def test_the_deadline_never_cuts_a_check_still_within_its_own_timeout():
    # The tightest function infra.sizing builds: a cadence that leaves the slowest check 1 s.
    from vigil.spec.http import HttpCheck

    check = HttpCheck.model_validate(
        {"id": "api", "kind": "http", "service": "api", "severity": "critical", "url": "https://a.example.com/"}
        | {"cadence": 60, "timeout": 54}
    )
    function_timeout = checker_timeout([check])
    assert function_timeout == 55
    assert function_timeout - runner.REPORT_MARGIN_S > check.timeout
