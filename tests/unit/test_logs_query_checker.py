"""Checker for kind `logs_query`: one number per run, failures never read as healthy, samples when it breaches.

States moto cannot produce (Running then Complete, Failed, Timeout, a query still running at the
deadline) come from botocore's Stubber, which checks every request and response against the real
API model; moto runs the real calls where it is faithful (missing log groups, fields/sort/limit
and the time range of the sample query).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.support.emf import assert_vigil_emf, only_emf
from vigil.checkers import aws, logs_query
from vigil.checkers.logs_query import Clock, read_value
from vigil.spec.common import Comparison
from vigil.spec.logs_query import INGESTION_DELAY, LogsQueryCheck

NOW = 1_700_000_000
QUERY = 'filter level = "ERROR" | stats count(*) as errors'
STATS = {"recordsMatched": 3.0, "recordsScanned": 120.0, "bytesScanned": 4096.0}


class FakeClock:
    """Wall and monotonic time that move only when the checker sleeps."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds

    def clock(self) -> Clock:
        return Clock(wall=lambda: NOW + self.elapsed, monotonic=lambda: self.elapsed, sleep=self.sleep)


def spec(**fields: Any) -> LogsQueryCheck:
    base = {"id": "api-errors", "kind": "logs_query", "service": "api", "severity": "warning"}
    return LogsQueryCheck.model_validate({**base, "log_groups": ["/ecs/api"], "query": QUERY, **fields})


def row(**cells: str) -> list[dict[str, str]]:
    return [{"field": k, "value": v} for k, v in cells.items()] + [{"field": "@ptr", "value": "CmAKJwoj"}]


def results(status: str, *rows: list[dict[str, str]]) -> dict[str, Any]:
    return {"results": list(rows), "statistics": STATS, "status": status}


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("logs", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_query(stubber: Stubber, query: str = QUERY, query_id: str = "q-1", window: int = 300) -> None:
    end = NOW - INGESTION_DELAY
    stubber.add_response(
        "start_query",
        {"queryId": query_id},
        {"logGroupNames": ["/ecs/api"], "startTime": end - window, "endTime": end, "queryString": query},
    )


def test_a_count_is_polled_until_complete_and_emitted(stubbed):
    client, stubber = stubbed
    expect_query(stubber)
    stubber.add_response("get_query_results", results("Scheduled"), {"queryId": "q-1"})
    stubber.add_response("get_query_results", results("Running"), {"queryId": "q-1"})
    stubber.add_response("get_query_results", results("Complete", row(errors="0")), {"queryId": "q-1"})
    clock = FakeClock()
    result = logs_query.measure(spec(), lambda name: {}, client, clock.clock())
    assert result.measured and result.values == {"QueryValue": 0.0}
    assert (result.reason_code, result.reason, result.samples) == (None, None, ())
    assert clock.sleeps == [0.5, 1.0]  # backs off, never sleeps past the deadline
    assert result.details["bytes_scanned"] == 4096.0 and result.details["rows"] == 1


def test_no_rows_reads_as_zero(stubbed):
    client, stubber = stubbed
    expect_query(stubber)
    stubber.add_response("get_query_results", results("Complete"), {"queryId": "q-1"})
    result = logs_query.measure(spec(), lambda name: {}, client, FakeClock().clock())
    assert result.measured and result.values == {"QueryValue": 0.0}


def test_a_breach_quotes_the_newest_matching_lines_from_a_second_query(stubbed):
    client, stubber = stubbed
    expect_query(stubber)
    stubber.add_response("get_query_results", results("Complete", row(errors="12")), {"queryId": "q-1"})
    sample_text = 'filter level = "ERROR" | fields @timestamp, @message | sort @timestamp desc | limit 2'
    expect_query(stubber, sample_text, "q-2")
    lines = [
        row(**{"@timestamp": "2023-11-14 22:11:01.000", "@message": "ERROR payment declined\n  at line 3"}),
        row(**{"@timestamp": "2023-11-14 22:10:00.000", "@message": "ERROR timeout"}),
    ]
    stubber.add_response("get_query_results", results("Complete", *lines), {"queryId": "q-2"})
    result = logs_query.measure(
        spec(samples=2, alarms={"value": {"threshold": 10}}), lambda n: {}, client, FakeClock().clock()
    )
    assert result.values == {"QueryValue": 12.0}
    assert result.reason_code == "threshold"
    assert result.reason == "errors = 12 (> 10) over the last 5m"
    assert result.samples == (
        "2023-11-14 22:11:01.000 ERROR payment declined\n  at line 3",
        "2023-11-14 22:10:00.000 ERROR timeout",
    )
    assert result.details["samples_bytes_scanned"] == 4096.0


def test_no_sample_query_while_within_the_threshold(stubbed):
    # Logs Insights bills per GB scanned: a second query on every healthy run would double the bill.
    client, stubber = stubbed
    expect_query(stubber)
    stubber.add_response("get_query_results", results("Complete", row(errors="10")), {"queryId": "q-1"})
    result = logs_query.measure(spec(alarms={"value": {"threshold": 10}}), lambda n: {}, client, FakeClock().clock())
    assert result.values == {"QueryValue": 10.0} and result.samples == ()
    assert "samples_error" not in result.details  # the Stubber refuses any call it was not given


def test_a_failed_sample_query_keeps_the_value(stubbed):
    client, stubber = stubbed
    expect_query(stubber)
    stubber.add_response("get_query_results", results("Complete", row(errors="4")), {"queryId": "q-1"})
    stubber.add_client_error("start_query", "LimitExceededException", "too many concurrent queries")
    result = logs_query.measure(spec(), lambda n: {}, client, FakeClock().clock())
    assert result.measured and result.values == {"QueryValue": 4.0} and result.samples == ()
    assert "LimitExceededException" in str(result.details["samples_error"])


@pytest.mark.parametrize(
    ("status", "code"), [("Failed", "query_failed"), ("Cancelled", "query_cancelled"), ("Timeout", "query_timeout")]
)
def test_a_query_that_ends_badly_cannot_measure(stubbed, status, code):
    client, stubber = stubbed
    expect_query(stubber)
    stubber.add_response("get_query_results", results(status), {"queryId": "q-1"})
    result = logs_query.measure(spec(), lambda n: {}, client, FakeClock().clock())
    assert not result.measured and result.values == {}
    assert (result.reason_code, result.reason) == (code, f"Logs Insights query ended {status}")


def test_a_query_still_running_at_the_deadline_is_stopped(stubbed):
    client, stubber = stubbed
    expect_query(stubber)
    for _ in range(8):  # a poll before each sleep (0.5 + 1 + 2 + 2 + 2 + 2 + the last 0.5 s) and one at the deadline
        stubber.add_response("get_query_results", results("Running"), {"queryId": "q-1"})
    stubber.add_response("stop_query", {"success": True}, {"queryId": "q-1"})
    clock = FakeClock()
    result = logs_query.measure(spec(timeout=10), lambda n: {}, client, clock.clock())
    assert not result.measured and result.reason_code == "timeout"
    assert clock.elapsed == 10.0 and clock.sleeps == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 0.5]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("AccessDeniedException", "access_denied"),
        ("ResourceNotFoundException", "log_group_missing"),
        ("MalformedQueryException", "query_invalid"),
        ("ServiceUnavailableException", "aws"),
    ],
)
def test_aws_refusals_cannot_measure(stubbed, error, code):
    client, stubber = stubbed
    stubber.add_client_error("start_query", error, "the message AWS gave")
    result = logs_query.measure(spec(), lambda n: {}, client, FakeClock().clock())
    assert not result.measured and result.values == {}
    assert (result.reason_code, result.reason) == (code, f"{error}: the message AWS gave")


def test_the_worst_row_counts_and_is_named():
    rows = [{"service": "checkout", "errors": "3"}, {"service": "billing", "errors": "42"}]
    reading = read_value(rows, "errors", Comparison.ge)
    assert (reading.value, reading.row, reading.rows) == (42.0, {"service": "billing", "errors": "42"}, 2)
    assert read_value(rows, "errors", Comparison.lt).value == 3.0  # a "too few" rule: the lowest row
    stated = logs_query.describe(reading, spec(alarms={"value": {"threshold": 10, "comparison": ">="}}))
    assert stated == "errors = 42 (>= 10) over the last 5m; worst of 2 rows: service=billing"


def test_without_value_field_the_only_numeric_field_is_read():
    assert read_value([{"service": "api", "count(*)": "7"}], None, Comparison.gt).value == 7.0


@pytest.mark.parametrize(
    ("rows", "value_field", "message"),
    [
        ([{"errors": "3", "warnings": "5"}], None, "numeric fields errors, warnings: set value_field"),
        ([{"service": "api"}], None, "no numeric field (it has service): set value_field"),
        ([{"errors": "3"}], "errs", "no field 'errs' in the query result; it has errors"),
        ([{"errors": "lots"}], "errors", "field 'errors' holds 'lots', not a number"),
        ([{"errors": "NaN"}], "errors", "not a number"),
    ],
)
def test_a_result_without_one_clear_number_cannot_measure(rows, value_field, message):
    with pytest.raises(logs_query.CannotMeasure) as caught:
        read_value(rows, value_field, Comparison.gt)
    assert caught.value.code == "result" and message in caught.value.reason


# -- moto: the real calls where moto is faithful ------------------------------------------------


@pytest.fixture
def moto_logs() -> Iterator[Any]:
    with mock_aws():
        aws.clear_cache()
        yield boto3.client("logs", region_name="us-east-1")
    aws.clear_cache()


def test_a_missing_log_group_fails_the_run_and_emits_measure_failed(moto_logs, capsys):
    event = {"check": spec().model_dump(mode="json"), "secrets": {}}
    result = logs_query.handler(event)
    assert (result["status"], result["reason_code"]) == ("failed", "log_group_missing")
    assert_vigil_emf(only_emf(capsys.readouterr().out), "api-errors", {"MeasureFailed": 1})


def test_the_sample_query_reads_the_newest_lines_inside_the_window(moto_logs):
    moto_logs.create_log_group(logGroupName="/ecs/api")
    moto_logs.create_log_stream(logGroupName="/ecs/api", logStreamName="task-1")
    end = int(time.time()) - INGESTION_DELAY  # moto, like AWS, drops events older than 14 days
    events = [
        (end - 400, "ERROR too old"),
        (end - 200, "ERROR first"),
        (end - 100, "ERROR second"),
        (end - 10, "ERROR third"),
    ]
    moto_logs.put_log_events(
        logGroupName="/ecs/api",
        logStreamName="task-1",
        logEvents=[{"timestamp": t * 1000, "message": m} for t, m in events],
    )
    check = spec(samples=2)
    text = check.sample_query()
    assert text is not None
    found = logs_query.run_query(moto_logs, check.log_groups, text, end - 300, end, 10.0, FakeClock().clock())
    assert [r["@message"] for r in found.rows] == ["ERROR third", "ERROR second"]
