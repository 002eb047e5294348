"""CheckResult → EMF: one line, namespace Vigil, only the Check dimension, failures never look healthy."""

from __future__ import annotations

import json
import math

import pytest
from aws_lambda_powertools import Metrics

from tests.support.emf import assert_vigil_emf, emf_lines, metric_units, only_emf
from vigil import metrics
from vigil.result import CheckResult, Status


def ok(check_id: str = "api-health", **fields) -> CheckResult:
    return CheckResult(check_id=check_id, kind="sql", status=Status.ok, **fields)


def test_measured_result(capsys):
    result = ok(
        values={"Healthy": 1, "LatencyMs": 12.5, "StatusCode": 200},
        units={"Healthy": "None", "LatencyMs": "Milliseconds", "StatusCode": "None"},
        duration_ms=13.04,
    )

    line = metrics.emit(result)

    assert capsys.readouterr().out == line + "\n"
    document = json.loads(line)
    assert_vigil_emf(document, "api-health", {"MeasureFailed": 0, "Healthy": 1, "LatencyMs": 12.5, "StatusCode": 200})
    assert metric_units(document) == {
        "MeasureFailed": "None",
        "Healthy": "None",
        "LatencyMs": "Milliseconds",
        "StatusCode": "None",
    }
    assert (document["kind"], document["status"], document["duration_ms"]) == ("sql", "ok", 13.0)
    assert "reason" not in document


def test_failed_result_emits_only_measure_failed(capsys):
    # Even if a checker left values behind, a failed run must never carry a (healthy-looking) value.
    result = CheckResult(
        check_id="api-health",
        kind="sql",
        status=Status.failed,
        values={"Healthy": 1},
        reason_code="secret",
        reason="secret vigil/x: AccessDeniedException",
    )

    metrics.emit(result)

    document = only_emf(capsys.readouterr().out)
    assert_vigil_emf(document, "api-health", {"MeasureFailed": 1})
    assert (document["status"], document["reason_code"]) == ("failed", "secret")
    assert document["reason"] == "secret vigil/x: AccessDeniedException"


def test_measure_failed_comes_from_status_not_values(capsys):
    metrics.emit(ok(values={"MeasureFailed": 1, "Healthy": 0}))

    assert_vigil_emf(only_emf(capsys.readouterr().out), "api-health", {"MeasureFailed": 0, "Healthy": 0})


def test_service_name_never_becomes_a_dimension(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "vigil-checker-http")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SomethingElse")

    metrics.emit(ok(values={"Healthy": 1}))

    assert_vigil_emf(only_emf(capsys.readouterr().out), "api-health", {"MeasureFailed": 0, "Healthy": 1})


def test_shared_powertools_metrics_do_not_leak_in(capsys):
    # Powertools' Metrics class shares its metric set across instances; ours must not pick it up.
    shared = Metrics(namespace="Other", service="x")
    shared.add_metric(name="Stray", unit="Count", value=5)
    try:
        metrics.emit(ok(values={"Healthy": 1}))
    finally:
        shared.clear_metrics()

    assert_vigil_emf(only_emf(capsys.readouterr().out), "api-health", {"MeasureFailed": 0, "Healthy": 1})


def test_one_line_per_check_when_several_run_in_one_invocation(capsys):
    metrics.emit(ok("first", values={"Healthy": 1}))
    metrics.emit(CheckResult(check_id="second", kind="sql", status=Status.failed, reason_code="internal"))
    metrics.emit(ok("third", values={"Healthy": 0, "LatencyMs": 5}))

    first, second, third = emf_lines(capsys.readouterr().out)
    assert_vigil_emf(first, "first", {"MeasureFailed": 0, "Healthy": 1})
    assert_vigil_emf(second, "second", {"MeasureFailed": 1})
    assert_vigil_emf(third, "third", {"MeasureFailed": 0, "Healthy": 0, "LatencyMs": 5})


@pytest.mark.parametrize(
    ("name", "units", "unit"),
    [
        ("LatencyMs", {}, "Milliseconds"),  # naming convention
        ("Messages", {}, "Count"),  # anything else counts
        ("Healthy", {"Healthy": "None"}, "None"),  # the checker's own unit wins
        ("AgeSeconds", {"AgeSeconds": "Seconds"}, "Seconds"),
        ("WaitMs", {"WaitMs": "Seconds"}, "Seconds"),  # over the naming convention too
    ],
)
def test_unit(name, units, unit):
    assert metrics.unit_for(name, ok(values={name: 1}, units=units)) == unit


def test_unknown_unit_still_sends_the_value(capsys):
    metrics.emit(ok(values={"Depth": 3}, units={"Depth": "messages"}))

    document = only_emf(capsys.readouterr().out)
    assert metric_units(document)["Depth"] == "None"
    assert document["Depth"] == [3.0]


def test_non_finite_values_are_dropped(capsys):
    metrics.emit(ok(values={"Healthy": 1, "LatencyMs": math.nan, "Depth": math.inf}))

    assert_vigil_emf(only_emf(capsys.readouterr().out), "api-health", {"MeasureFailed": 0, "Healthy": 1})


def test_no_check_id_no_line(capsys):
    with pytest.raises(ValueError, match="check id"):
        metrics.emit(ok(" "))
    assert capsys.readouterr().out == ""


def test_http_writes_one_metric_and_logs_the_other_values(capsys):
    # vigil.result.METRIC_BUDGETS: each custom metric costs more than a 1-minute check's runs.
    result = CheckResult(
        check_id="api-health",
        kind="http",
        status=Status.ok,
        values={"Healthy": 1, "LatencyMs": 12.5, "StatusCode": 200},
        units={"Healthy": "None", "LatencyMs": "Milliseconds", "StatusCode": "None"},
    )

    document = json.loads(metrics.emit(result))

    assert_vigil_emf(document, "api-health", {"Healthy": 1})
    assert (document["LatencyMs"], document["StatusCode"]) == (12.5, 200)


def test_http_that_cannot_measure_writes_a_breaching_healthy(capsys):
    # Never a healthy-looking value, never silence: Healthy=0 pages through the down alarm.
    result = CheckResult(
        check_id="api-health",
        kind="http",
        status=Status.failed,
        values={"Healthy": 1, "LatencyMs": 3.0},
        reason_code="secret",
        reason="secret vigil/x: AccessDeniedException",
    )

    document = json.loads(metrics.emit(result))

    assert_vigil_emf(document, "api-health", {"Healthy": 0})
    assert "LatencyMs" not in document
    assert (document["status"], document["reason_code"]) == ("failed", "secret")


def test_http_measured_without_healthy_writes_healthy_zero(capsys):
    # A checker bug (status ok, no Healthy) must not leave a line without metrics, nor look healthy.
    document = json.loads(metrics.emit(CheckResult(check_id="api-health", kind="http", status=Status.ok)))
    assert_vigil_emf(document, "api-health", {"Healthy": 0})
