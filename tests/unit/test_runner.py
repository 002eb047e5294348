"""vigil.checkers.runner: whatever a kind's parse or measure does, the run reports and never raises."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tests.support.emf import assert_vigil_emf, only_emf
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
