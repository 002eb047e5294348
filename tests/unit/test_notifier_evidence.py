"""The notifier finds the checker's last words (reason, samples) in the run's EMF log line."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from vigil import metrics
from vigil.notifier import evidence
from vigil.result import CheckResult, Status

LOG_GROUP = "/aws/lambda/vigil-test-checker-elasticsearch"
ALARM_AT = datetime(2026, 11, 27, 3, 12, tzinfo=UTC)


def emf_line(check_id: str, **fields: Any) -> str:
    status = fields.pop("status", Status.ok)
    return json.dumps(metrics.render(CheckResult(check_id=check_id, kind="elasticsearch", status=status, **fields)))


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def logs() -> Any:
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1")
        client.create_log_group(logGroupName=LOG_GROUP)
        client.create_log_stream(logGroupName=LOG_GROUP, logStreamName="s")
        yield client


def put(logs: Any, *events: tuple[datetime, str]) -> None:
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName="s",
        logEvents=[{"timestamp": ms(at), "message": message} for at, message in events],
    )


def test_the_newest_run_of_this_check_is_found(logs):
    put(
        logs,
        (ALARM_AT - timedelta(minutes=10), emf_line("errors-api", values={"Count": 3}, samples=("old line",))),
        (
            ALARM_AT - timedelta(minutes=5),
            emf_line("errors-api", values={"Count": 40}, reason="40 > 25", samples=("a", "b")),
        ),
        (ALARM_AT - timedelta(minutes=4), emf_line("errors-api-eu", values={"Count": 1}, samples=("not ours",))),
        (ALARM_AT - timedelta(minutes=3), "START RequestId: errors-api plain text"),
    )

    found = evidence.fetch(logs, LOG_GROUP, "errors-api", ALARM_AT)

    assert found == evidence.Evidence(
        at=ALARM_AT - timedelta(minutes=5), status="ok", reason="40 > 25", samples=("a", "b")
    )


def test_runs_after_the_alarm_or_too_old_are_not_evidence(logs):
    put(
        logs,
        (ALARM_AT - timedelta(hours=3), emf_line("errors-api", samples=("ancient",))),
        (ALARM_AT + timedelta(minutes=30), emf_line("errors-api", samples=("after",))),
    )

    assert evidence.fetch(logs, LOG_GROUP, "errors-api", ALARM_AT) is None


def test_a_failed_run_is_evidence_too(logs):
    put(
        logs,
        (ALARM_AT - timedelta(minutes=1), emf_line("errors-api", status=Status.failed, reason="401 from the cluster")),
    )

    found = evidence.fetch(logs, LOG_GROUP, "errors-api", ALARM_AT)

    assert found is not None and (found.status, found.reason, found.samples) == ("failed", "401 from the cluster", ())


def test_unreadable_logs_give_no_evidence_and_no_error():
    client = boto3.client("logs", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("filter_log_events", "AccessDeniedException", "not allowed")

        assert evidence.fetch(client, LOG_GROUP, "errors-api", ALARM_AT) is None


def test_every_page_is_read():
    client = boto3.client("logs", region_name="us-east-1")
    first = {"events": [{"timestamp": ms(ALARM_AT) - 2000, "message": emf_line("errors-api", samples=("p1",))}]}
    second = {"events": [{"timestamp": ms(ALARM_AT) - 1000, "message": emf_line("errors-api", samples=("p2",))}]}
    with Stubber(client) as stub:
        stub.add_response("filter_log_events", {**first, "nextToken": "t"})
        stub.add_response("filter_log_events", second)

        found = evidence.fetch(client, LOG_GROUP, "errors-api", ALARM_AT)

    assert found is not None and found.samples == ("p2",)


@pytest.mark.parametrize(
    "message",
    ["not json", "[1, 2]", json.dumps({"Check": "errors-api"}), json.dumps({"_aws": {}, "Check": "other"})],
)
def test_lines_that_are_not_this_checks_emf_are_ignored(message):
    assert evidence.from_log_line(message, "errors-api", 0) is None


def test_damaged_samples_are_bounded():
    line = json.dumps({"_aws": {}, "Check": "errors-api", "status": "ok", "samples": ["x\n" * 500] * 50, "reason": 7})

    found = evidence.from_log_line(line, "errors-api", 0)

    assert found is not None and found.reason is None
    assert len(found.samples) == 10 and all(len(s) <= 300 and "\n" not in s for s in found.samples)


def test_a_queue_series_of_the_same_run_is_not_taken_for_the_run(logs):
    run_line = emf_line("broker", values={"NoConsumers": 1}, samples=("orders: 5 ready, 0 consumers",))
    queue_document = json.dumps({"_aws": {"CloudWatchMetrics": []}, "Check": "broker", "Queue": "orders", "Backlog": 5})
    at = ALARM_AT - timedelta(minutes=1)
    put(logs, (at, run_line), (at + timedelta(milliseconds=1), queue_document))

    found = evidence.fetch(logs, LOG_GROUP, "broker", ALARM_AT)

    assert found is not None and found.samples == ("orders: 5 ready, 0 consumers",)


def test_the_near_window_is_read_first_and_alone_when_it_has_the_run():
    client = boto3.client("logs", region_name="us-east-1")
    end = ms(ALARM_AT) + 60_000
    line = emf_line("errors-api", samples=("near",))
    with Stubber(client) as stub:
        stub.add_response(
            "filter_log_events",
            {"events": [{"timestamp": end - 120_000, "message": line}]},
            {
                "logGroupName": LOG_GROUP,
                "startTime": end - 15 * 60_000,
                "endTime": end,
                "filterPattern": '"errors-api"',
            },
        )

        found = evidence.fetch(client, LOG_GROUP, "errors-api", ALARM_AT)

        stub.assert_no_pending_responses()
    assert found is not None and found.samples == ("near",)


def test_the_far_window_is_read_when_the_near_one_is_empty():
    client = boto3.client("logs", region_name="us-east-1")
    end = ms(ALARM_AT) + 60_000
    line = emf_line("hourly", samples=("far",))
    with Stubber(client) as stub:
        stub.add_response("filter_log_events", {"events": []})
        stub.add_response(
            "filter_log_events",
            {"events": [{"timestamp": end - 50 * 60_000, "message": line}]},
            {"logGroupName": LOG_GROUP, "startTime": end - 90 * 60_000, "endTime": end, "filterPattern": '"hourly"'},
        )

        found = evidence.fetch(client, LOG_GROUP, "hourly", ALARM_AT)

    assert found is not None and found.samples == ("far",)


def test_the_lookup_stops_at_its_deadline():
    class EndlessLogs:
        calls = 0

        def filter_log_events(self, **_: Any) -> dict[str, Any]:
            self.calls += 1
            time.sleep(0.02)
            return {"events": [], "nextToken": "more"}

    endless = EndlessLogs()

    assert evidence.fetch(endless, LOG_GROUP, "errors-api", ALARM_AT, deadline_seconds=0.05) is None
    assert 1 <= endless.calls <= 4  # not MAX_PAGES x windows: the deadline ended it
