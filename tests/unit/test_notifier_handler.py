"""The notifier Lambda against moto SNS: what reaches each route topic, fallbacks, publish failures.

Two views of each publish:
- an SQS queue subscribed to the route topic gets what an e-mail subscriber gets (SNS, and moto,
  deliver the "default" text of a MessageStructure=json message to protocols without their own key);
- moto's topic record of sent notifications keeps the raw JSON, so the "sms" text is checked there.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sns.models import sns_backends

from vigil.alarm_meta import decode_description, encode_description
from vigil.notifier import handler as notifier

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alarms"
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
PREFIX = f"arn:aws:sns:{REGION}:{ACCOUNT}:vigil-prod-"
ROUTES = ("campaigns-critical", "platform-critical", "ops-fallback")


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def summary(published: int = 0, fallbacks: int = 0, rerouted: int = 0, skipped: int = 0) -> dict[str, int]:
    """What the handler returns: publishes made, plain fallbacks among them, reroutes, payloads skipped."""
    return {"published": published, "fallbacks": fallbacks, "rerouted": rerouted, "skipped": skipped}


class Routes:
    """Route topics, each with an SQS queue subscribed, and readers for what arrived."""

    def __init__(self) -> None:
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queues: dict[str, str] = {}
        for route in ROUTES:
            self.add(route)

    def add(self, route: str) -> None:
        topic_arn = self.sns.create_topic(Name=f"vigil-prod-{route}")["TopicArn"]
        url = self.sqs.create_queue(QueueName=f"q-{route}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        self.queues[route] = url

    def delivered(self, route: str) -> list[dict[str, Any]]:
        """SNS envelopes (Subject, Message=default text) that reached the route's queue."""
        messages = self.sqs.receive_message(QueueUrl=self.queues[route], MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    @staticmethod
    def published(route: str) -> list[tuple[str | None, dict[str, str]]]:
        """(Subject, structured message) as published to the route topic."""
        topic = sns_backends[ACCOUNT][REGION].topics[PREFIX + route]
        return [(subject, json.loads(message)) for _, message, subject, _, _ in topic.sent_notifications]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "TOPIC_ARN_PREFIX": PREFIX,
        "FALLBACK_ROUTE": "ops-fallback",
        "DASHBOARD_NAME": "vigil-prod",
        "VIGIL_ENV": "prod",
    }.items():
        monkeypatch.setenv(name, value)
    # The client is cached per container; each test needs one made inside its own mock.
    monkeypatch.setattr(notifier, "_clients", {})


@pytest.fixture
def routes(env: None) -> Iterator[Routes]:
    with mock_aws():
        yield Routes()


# --- the publish path -----------------------------------------------------------------------------

CASES = [
    # fixture, routes, subject, lines the email must contain, the exact SMS
    (
        "sns_alarm.json",
        ["campaigns-critical"],
        "[ALARM][critical] orders-queue backlog - orders",
        [
            "State:        OK -> ALARM",
            "latest value 1520 messages (rule: > 500 messages for 3 of 3 minutes)",
            "Since:        2024-05-02T14:03:41Z (14:03 UTC, Thu 2 May 2024)",
            "Runbook: https://wiki.example.com/runbooks/orders#queue",
            "#alarmsV2:alarm/vigil-prod-orders-queue-backlog",
            "#dashboards/dashboard/vigil-prod",
        ],
        "ALARM crit orders-queue backlog: 1520 >500 since 14:03Z. runbook: https://wiki.example.com/runbooks/orders#queue",
    ),
    (
        "sns_ok.json",
        ["campaigns-critical"],
        "[OK][critical] orders-queue backlog recovered - orders",
        [
            "RECOVERED: orders-queue backlog is OK again",
            "State:        ALARM -> OK",
            "latest value 120 messages (rule: > 500 messages for 3 of 3 minutes)",
            "Recovered at: 2024-05-02T15:15:41Z",
        ],
        "OK crit orders-queue backlog recovered 15:15Z, now 120.",
    ),
    (
        "sns_insufficient_data.json",
        ["campaigns-critical"],
        "[NO DATA][critical] orders-queue backlog - orders",
        ["NO DATA: orders-queue backlog has no data", "no recent datapoints", "Since:        2024-05-02T16:20:41Z"],
        "NODATA crit orders-queue backlog: no data since 16:20Z. runbook: https://wiki.example.com/runbooks/orders#queue",
    ),
    (
        "eventbridge_alarm.json",
        ["campaigns-critical", "platform-critical"],
        "[ALARM][critical] campaign-api-health down - campaign-api",
        [
            "latest value 0 (rule: < 1 for 2 of 2 minutes)",
            "Since:        2024-05-02T14:03:12Z (14:03 UTC, Thu 2 May 2024)",
            "Runbook: https://wiki.example.com/runbooks/campaign-api#health",
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
            "#alarmsV2:alarm/vigil-prod-campaign-api-health-down",
        ],
        "ALARM crit campaign-api-health down: 0 <1 since 14:03Z. runbook: https://wiki.example.com/runbooks/campaign-api#health",
    ),
    (
        "eventbridge_ok.json",
        ["campaigns-critical", "platform-critical"],
        "[OK][critical] campaign-api-health down recovered - campaign-api",
        ["State:        ALARM -> OK", "Before that:  in alarm for 1h 12m", "Recovered at: 2024-05-02T15:15:40Z"],
        "OK crit campaign-api-health down recovered 15:15Z after 1h12m in alarm, now 1.",
    ),
    (
        "eventbridge_insufficient_data.json",
        ["campaigns-critical", "platform-critical"],
        "[NO DATA][critical] campaign-api-health down - campaign-api",
        ["NO DATA: campaign-api-health down", "Insufficient Data: 2 datapoints were unknown."],
        "NODATA crit campaign-api-health down: no data since 16:20Z. runbook: https://wiki.example.com/runbooks/campaign-api#health",
    ),
]


@pytest.mark.parametrize(("fixture", "expected_routes", "subject", "email_lines", "sms"), CASES)
def test_publishes_rendered_notification_to_every_route(
    routes: Routes, fixture: str, expected_routes: list[str], subject: str, email_lines: list[str], sms: str
) -> None:
    result = notifier.handler(load(fixture), None)

    assert result == summary(published=len(expected_routes))
    for route in ROUTES:
        delivered = routes.delivered(route)
        if route not in expected_routes:
            assert delivered == [], route
            continue
        (envelope,) = delivered
        assert envelope["Subject"] == subject
        for line in email_lines:
            assert line in envelope["Message"], line
        ((published_subject, structured),) = routes.published(route)
        assert published_subject == subject
        assert set(structured) == {"default", "sms"}  # the body once: "default" is the e-mail
        assert structured["default"] == envelope["Message"]
        assert structured["sms"] == sms
        assert len(structured["sms"]) <= 160


CHECKER_LOGS = "/vigil/prod/checkers/http"


def put_checker_run(at_ms: int, **fields: Any) -> None:
    from vigil import metrics
    from vigil.result import CheckResult, Status

    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=CHECKER_LOGS)
    logs.create_log_stream(logGroupName=CHECKER_LOGS, logStreamName="run")
    run = CheckResult(check_id="campaign-api-health", kind="http", status=Status.ok, **fields)
    line = json.dumps(metrics.render(run))
    logs.put_log_events(
        logGroupName=CHECKER_LOGS, logStreamName="run", logEvents=[{"timestamp": at_ms, "message": line}]
    )


def alarm_logged_at(log_group: str | None) -> tuple[dict[str, Any], datetime]:
    """eventbridge_alarm.json, happening now (CloudWatch Logs and moto refuse events older than
    14 days), its metadata naming the checker's log group."""
    alarm_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    event = load("eventbridge_alarm.json")
    event["detail"]["state"]["timestamp"] = alarm_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    config = event["detail"]["configuration"]
    text, meta = decode_description(config["description"])
    assert meta is not None
    config["description"] = encode_description(text, meta.model_copy(update={"logs": log_group}))
    return event, alarm_at


def test_alarm_email_quotes_the_checkers_last_run(routes: Routes) -> None:
    event, alarm_at = alarm_logged_at(CHECKER_LOGS)
    run_at = alarm_at - timedelta(seconds=42)
    put_checker_run(
        int(run_at.timestamp() * 1000),
        values={"Healthy": 0},
        reason_code="body",
        reason="body: status is 'degraded', expected 'ok'",
        samples=("GET /health -> 200 in 41 ms",),
    )

    notifier.handler(event, None)

    (envelope,) = routes.delivered("campaigns-critical")
    stamp = run_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"Last check run ({stamp}): measured: body: status is 'degraded', expected 'ok'" in envelope["Message"]
    assert "  - GET /health -> 200 in 41 ms" in envelope["Message"]


@pytest.mark.parametrize("log_group", ["/vigil/prod/checkers/missing", None])
def test_without_evidence_the_alert_still_goes_out(routes: Routes, log_group: str | None) -> None:
    # A log group that does not exist (or no permission), or an alarm that names none.
    if log_group is None:
        put_checker_run(int(datetime.now(UTC).timestamp() * 1000) - 60_000, samples=("never read",))
    event, _ = alarm_logged_at(log_group)

    result = notifier.handler(event, None)

    assert result == summary(published=2)
    (envelope,) = routes.delivered("campaigns-critical")
    assert "ALARM: campaign-api-health down" in envelope["Message"]
    assert "Last check run" not in envelope["Message"]


def test_sns_batch_publishes_each_record(routes: Routes) -> None:
    alarm = load("sns_alarm.json")["Records"][0]
    ok = load("sns_ok.json")["Records"][0]
    result = notifier.handler({"Records": [alarm, ok]}, None)
    assert result == summary(published=2)
    subjects = [subject for subject, _ in routes.published("campaigns-critical")]
    assert subjects == [
        "[ALARM][critical] orders-queue backlog - orders",
        "[OK][critical] orders-queue backlog recovered - orders",
    ]


def test_foreign_alarm_without_metadata_goes_to_fallback_route_fully_rendered(routes: Routes) -> None:
    event = load("eventbridge_alarm.json")
    event["detail"]["configuration"]["description"] = "Someone else's alarm, no vigil trailer."
    assert notifier.handler(event, None) == summary(published=1)
    ((subject, structured),) = routes.published("ops-fallback")
    assert subject == "[ALARM] vigil-prod-campaign-api-health-down"
    assert "Someone else's alarm, no vigil trailer." in structured["default"]
    assert "latest value 0 (rule: < 1)" in structured["default"]
    assert routes.published("campaigns-critical") == []


def test_alarm_with_empty_routes_still_reaches_fallback_route(routes: Routes) -> None:
    event = load("eventbridge_alarm.json")
    description = event["detail"]["configuration"]["description"]
    event["detail"]["configuration"]["description"] = description.replace(
        '"routes":["campaigns-critical","platform-critical"]', '"routes":[]'
    )
    notifier.handler(event, None)
    assert len(routes.published("ops-fallback")) == 1


# --- fallbacks ------------------------------------------------------------------------------------


def _sns_event(message: str) -> dict[str, Any]:
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message}}]}


@pytest.mark.parametrize(
    "event",
    [
        _sns_event("{garbage json"),
        _sns_event(""),
        _sns_event('{"AlarmDescription": "no name, no state"}'),
        {"Records": [{"EventSource": "aws:sqs", "body": "not ours"}]},
        {"detail-type": "CloudWatch Alarm State Change", "detail": {"state": {"value": "ALARM"}}},
        {},
        {"Records": []},
        None,
        "a string",
        42,
        [1, 2, 3],
    ],
)
def test_unreadable_event_publishes_fallback_to_fallback_route(routes: Routes, event: Any) -> None:
    assert notifier.handler(event, None) == summary(published=1, fallbacks=1)
    ((subject, structured),) = routes.published("ops-fallback")
    assert subject == "[vigil] unparseable alarm event"
    assert set(structured) == {"default", "sms"}
    assert "unparseable alarm event" in structured["default"]
    assert len(structured["sms"]) <= 160
    assert routes.published("campaigns-critical") == []


def test_fallback_names_alarm_and_state_when_they_can_be_found(routes: Routes) -> None:
    message = {"AlarmName": "vigil-prod-orders-queue-backlog", "NewStateValue": "ALARM", "StateChangeTime": 12}
    message["AlarmDescription"] = "plain"
    message["Trigger"] = {"Threshold": "not a number"}
    notifier.handler(_sns_event(json.dumps(message)), None)
    ((subject, structured),) = routes.published("ops-fallback")
    assert subject == "[ALARM][fallback] vigil-prod-orders-queue-backlog"
    assert "alarm vigil-prod-orders-queue-backlog is ALARM" in structured["default"]
    assert structured["sms"].startswith("vigil notifier: alarm vigil-prod-orders-queue-backlog is ALARM.")


def test_unknown_state_with_vigil_metadata_falls_back_to_the_alarms_own_routes(routes: Routes) -> None:
    event = load("eventbridge_alarm.json")
    event["detail"]["state"]["value"] = "PANIC"
    assert notifier.handler(event, None) == summary(published=2, fallbacks=1)
    for route in ("campaigns-critical", "platform-critical"):
        ((subject, _),) = routes.published(route)
        assert subject == "[PANIC][fallback] vigil-prod-campaign-api-health-down"
    assert routes.published("ops-fallback") == []


def test_render_failure_sends_plain_fallback_to_meta_routes(routes: Routes, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_render(*_: Any) -> Any:
        raise ZeroDivisionError("template bug")

    monkeypatch.setattr(notifier, "render", broken_render)
    assert notifier.handler(load("sns_alarm.json"), None) == summary(published=1, fallbacks=1)
    ((subject, structured),) = routes.published("campaigns-critical")
    assert subject == "[ALARM][fallback] vigil-prod-orders-queue-backlog"
    assert "ZeroDivisionError: template bug" in structured["default"]
    assert "Runbook: https://wiki.example.com/runbooks/orders#queue" in structured["default"]


def test_one_bad_record_does_not_block_the_good_one(routes: Routes) -> None:
    good = load("sns_alarm.json")["Records"][0]
    notifier.handler({"Records": [{"Sns": {"Message": "{"}}, good]}, None)
    assert len(routes.published("ops-fallback")) == 1
    assert len(routes.published("campaigns-critical")) == 1


def test_fallback_is_logged_without_the_payload(routes: Routes, monkeypatch: pytest.MonkeyPatch) -> None:
    # The Logger's handler holds the stdout it saw at import; give it a stream we can read.
    stream = io.StringIO()
    monkeypatch.setattr(notifier.logger.registered_handler, "stream", stream)
    message = {"AlarmName": "a", "NewStateValue": "PANIC", "AlarmDescription": "do-not-log-me-4711"}
    notifier.handler(_sns_event(json.dumps(message)), None)
    logs = [json.loads(line) for line in stream.getvalue().splitlines()]
    errors = [entry for entry in logs if entry["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["alarm"] == "a"
    assert errors[0]["stage"] == "parse"
    assert errors[0]["service"] == "vigil-notifier"
    assert "do-not-log-me-4711" not in json.dumps(logs)


# --- failures that must surface -------------------------------------------------------------------


def test_with_no_topic_anywhere_the_event_is_kept_for_a_retry(routes: Routes, monkeypatch: pytest.MonkeyPatch) -> None:
    # Neither the alarm's route nor the fallback route exists: raising keeps the event (Lambda's
    # retries, then the failure queue, whose alarm pages without the notifier).
    monkeypatch.setenv("TOPIC_ARN_PREFIX", f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-")
    with pytest.raises(notifier.PublishError, match="campaigns-critical: NotFound"):
        notifier.handler(load("sns_alarm.json"), None)


def test_fallback_publish_failure_raises_too(routes: Routes) -> None:
    routes.sns.delete_topic(TopicArn=PREFIX + "ops-fallback")
    with pytest.raises(notifier.PublishError, match="ops-fallback"):
        notifier.handler("garbage", None)


@pytest.mark.parametrize("missing", ["TOPIC_ARN_PREFIX", "FALLBACK_ROUTE"])
def test_missing_configuration_raises(env: None, monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.delenv(missing)
    with pytest.raises(RuntimeError, match=missing):
        notifier.handler(load("sns_alarm.json"), None)


# --- cold start -----------------------------------------------------------------------------------


def test_import_does_not_load_boto3() -> None:
    # Powertools' package import touches the bare botocore package (~1 ms); its client machinery is the cost.
    code = "import sys, vigil.notifier.handler; print('boto3' in sys.modules, 'botocore.client' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "lambdas"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "False False"
