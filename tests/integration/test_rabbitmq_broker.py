"""The rabbitmq checker against the real RabbitMQ on 127.0.0.1 (AMQP 5672, management 15672).

Each test declares its own uniquely named queues (deleted afterwards), runs the checker Lambda's
handler (secret from moto's Secrets Manager, EMF parsed from stdout) and asserts the metrics and
the verdict of each alarm rule. The management API refreshes its figures every few seconds
(collect_statistics_interval), so tests poll the checker until the figures they expect appear.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.emf import emf_lines, metric_values
from tests.support.http_server import closed_port
from vigil import secrets
from vigil.checkers import rabbitmq as checker
from vigil.checkers.runner import make_event
from vigil.result import METRIC_BUDGETS
from vigil.spec.rabbitmq import RabbitmqCheck

pytestmark = pytest.mark.service

HOST = "127.0.0.1"
AMQP_PORT = 5672
MANAGEMENT = f"http://{HOST}:15672"
SECRET_NAME = "rabbit-monitoring"
SECRET_ID = "vigil/test/rabbit"
POLL_SECONDS = 30  # several statistics intervals


def _management_get(path: str) -> Any:
    request = urllib.request.Request(
        MANAGEMENT + path, headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _broker_problem() -> str | None:
    try:
        socket.create_connection((HOST, AMQP_PORT), timeout=2).close()
        _management_get("/api/overview?columns=rabbitmq_version")
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="module")
def broker() -> None:
    problem = _broker_problem()
    if problem is None:
        return
    message = (
        f"RabbitMQ with the management plugin is not answering on {HOST}:{AMQP_PORT} and :15672 ({problem}); "
        "start it with `bash .ci/services` (rabbitmq-server -detached; rabbitmq-plugins enable rabbitmq_management)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def amqp(broker: None) -> Iterator[Any]:
    import pika

    connection = pika.BlockingConnection(pika.ConnectionParameters(HOST, AMQP_PORT, heartbeat=0))
    yield connection
    if connection.is_open:
        connection.close()


@pytest.fixture
def prefix(amqp: Any) -> Iterator[str]:
    """A unique queue-name prefix; every queue starting with it is deleted after the test."""
    name = f"vigil-it-{uuid.uuid4().hex[:8]}-"
    yield name
    import pika

    listing = _management_get(f"/api/queues?name=%5E{name}&use_regex=true&columns=name")
    cleanup = pika.BlockingConnection(pika.ConnectionParameters(HOST, AMQP_PORT))
    channel = cleanup.channel()
    for queue in listing:
        channel.queue_delete(queue["name"])
    cleanup.close()


def declare(amqp: Any, queue: str, messages: int = 0) -> None:
    channel = amqp.channel()
    channel.queue_declare(queue)
    for _ in range(messages):
        channel.basic_publish("", queue, b"event")
    channel.close()


@pytest.fixture
def aws_secret() -> Iterator[Callable[[str, str], None]]:
    with mock_aws():
        client = boto3.client("secretsmanager")
        secrets.clear_cache()

        def put(username: str, password: str) -> None:
            value = json.dumps({"username": username, "password": password})
            try:
                client.create_secret(Name=SECRET_ID, SecretString=value)
            except client.exceptions.ResourceExistsException:
                client.put_secret_value(SecretId=SECRET_ID, SecretString=value)
            secrets.clear_cache()

        put("guest", "guest")
        yield put
        secrets.clear_cache()


@dataclass
class Run:
    result: dict[str, Any]
    check: dict[str, float]  # the check's own series (dimension Check)
    queues: dict[str, dict[str, float]]  # per-queue series by Queue

    def verdicts(self, spec: RabbitmqCheck) -> dict[str, bool]:
        """Signal → whether this run's value breaches its rule (signals with a value this run)."""
        found = {}
        for signal in spec.active_signals():
            base, queue = signal.partition("@")[::2]
            series = self.queues.get(queue, {}) if queue else self.check
            value = series.get(RabbitmqCheck.signals[base].metric)
            if value is not None:
                rule = spec.rule(signal)
                found[signal] = rule.comparison.breaches(value, rule.threshold)
        return found


def make_spec(**fields: Any) -> RabbitmqCheck:
    return RabbitmqCheck.model_validate(
        {
            "id": "events-broker",
            "kind": "rabbitmq",
            "service": "campaign-events",
            "severity": "critical",
            "url": MANAGEMENT,
            "credentials_secret": SECRET_NAME,
            "timeout": 10,
            **fields,
        }
    )


def run(spec: RabbitmqCheck, capsys: pytest.CaptureFixture[str]) -> Run:
    capsys.readouterr()
    result = checker.handler(make_event(spec, {SECRET_NAME: SECRET_ID}))
    documents = emf_lines(capsys.readouterr().out)
    own = [d for d in documents if d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Check"]]]
    assert len(own) == 1, documents
    per_queue = {}
    for document in documents:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        if directive["Dimensions"] == [["Check", "Queue"]]:
            assert document["Check"] == spec.id
            per_queue[document["Queue"]] = run_values(document)
    return Run(result, run_values(own[0]), per_queue)


def run_values(document: dict[str, Any]) -> dict[str, float]:
    """Every value of the run: the metrics the alarms read, and the rest, plain fields of the same line
    (vigil.result.METRIC_BUDGETS); the metrics must be exactly what the kind's budget allows."""
    metrics = metric_values(document)
    assert set(metrics) <= METRIC_BUDGETS["rabbitmq"].metrics, metrics
    return {**{name: document[name] for name in checker.UNITS if name in document}, **metrics}


def poll(spec: RabbitmqCheck, capsys: pytest.CaptureFixture[str], until: Callable[[Run], bool]) -> Run:
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        latest = run(spec, capsys)
        if until(latest) or time.monotonic() > deadline:
            return latest
        time.sleep(1)


def test_messages_without_consumer_then_consumer_attached_then_detached(
    amqp: Any, prefix: str, aws_secret: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    listed, rolled = f"{prefix}orders", f"{prefix}events.a"
    declare(amqp, listed, messages=3)
    declare(amqp, rolled, messages=2)
    declare(amqp, f"{prefix}events.idle")
    # Its own no_consumers alarm (an override); its other signals are in the check's worst-of series.
    spec = make_spec(queues=[{"name": listed, "alarms": {"no_consumers": {}}}], pattern=f"^{prefix}events\\.")

    waiting = poll(spec, capsys, lambda r: r.queues.get(listed, {}).get("Backlog") == 3 and r.check.get("Backlog") == 3)
    assert waiting.result["status"] == "ok"
    assert waiting.check["MeasureFailed"] == 0 and waiting.check["Unreachable"] == 0
    assert waiting.check["Queues"] == 2  # events.a and events.idle; the listed queue does not roll up
    assert waiting.check["NoConsumers"] == 1  # events.a waits; events.idle has nothing waiting
    assert waiting.check["MessagesReady"] == 2  # the sums are the rolled-up queues'
    assert waiting.result["samples"][0].startswith(f"worst queue per signal: backlog {listed} (3 ready)")
    assert waiting.queues[listed]["NoConsumers"] == 1 and waiting.queues[listed]["Consumers"] == 0
    verdicts = waiting.verdicts(spec)
    assert verdicts["no_consumers"] and verdicts[f"no_consumers@{listed}"]
    assert not verdicts["unreachable"] and not verdicts["resource_alarm"]
    assert not verdicts["backlog"] and not verdicts["unacked"]

    consumer = amqp.channel()
    consumer.basic_qos(prefetch_count=1)
    consumer.basic_consume(listed, lambda *args: None)  # takes one message and never acks it
    attached = poll(spec, capsys, lambda r: r.queues.get(listed, {}).get("Consumers") == 1)
    assert attached.queues[listed]["NoConsumers"] == 0
    assert attached.verdicts(spec)[f"no_consumers@{listed}"] is False
    unacked = poll(spec, capsys, lambda r: r.queues[listed].get("MessagesUnacked") == 1)
    assert unacked.queues[listed]["UnackedPercent"] == pytest.approx(100 / 3, abs=0.01)

    consumer.close()  # detach: the unacked message returns to the queue
    detached = poll(spec, capsys, lambda r: r.queues.get(listed, {}).get("Consumers") == 0)
    assert detached.queues[listed]["NoConsumers"] == 1
    assert detached.verdicts(spec)[f"no_consumers@{listed}"] is True


def test_backlog_past_a_per_queue_threshold(
    amqp: Any, prefix: str, aws_secret: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = f"{prefix}orders"
    declare(amqp, queue, messages=4)
    spec = make_spec(queues=[{"name": queue, "alarms": {"backlog": {"threshold": 5}}}])
    below = poll(spec, capsys, lambda r: r.queues.get(queue, {}).get("Backlog") == 4)
    assert below.verdicts(spec)[f"backlog@{queue}"] is False

    declare(amqp, queue, messages=3)
    above = poll(spec, capsys, lambda r: r.queues.get(queue, {}).get("Backlog") == 7)
    assert above.queues[queue]["Backlog"] == 7
    assert above.verdicts(spec)[f"backlog@{queue}"] is True
    assert "Backlog" not in above.check  # no rollup: only listed queues


def test_unacknowledged_share_alarm(
    amqp: Any, prefix: str, aws_secret: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = f"{prefix}work"
    declare(amqp, queue, messages=2)
    consumer = amqp.channel()
    consumer.basic_qos(prefetch_count=10)
    consumer.basic_consume(queue, lambda *args: None)  # holds both, acks none
    spec = make_spec(pattern=f"^{prefix}")
    held = poll(spec, capsys, lambda r: r.check.get("MessagesUnacked") == 2)
    assert held.check["UnackedPercent"] == 100
    verdicts = held.verdicts(spec)
    assert verdicts["unacked"] is True
    assert verdicts["no_consumers"] is False and verdicts["backlog"] is False
    consumer.close()


def test_head_message_age_when_messages_carry_a_timestamp(
    amqp: Any, prefix: str, aws_secret: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import pika

    queue = f"{prefix}stamped"
    declare(amqp, queue)
    channel = amqp.channel()
    channel.basic_publish("", queue, b"x", pika.BasicProperties(timestamp=int(time.time()) - 600))
    spec = make_spec(queues=[{"name": queue, "alarms": {"backlog": {}}}])  # its own series: its figures
    stamped = poll(spec, capsys, lambda r: "OldestMessageAgeSeconds" in r.queues.get(queue, {}))
    assert 590 <= stamped.queues[queue]["OldestMessageAgeSeconds"] <= 700


def test_closed_port_is_unreachable_not_a_measure_failure(
    broker: None, aws_secret: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = make_spec(url=f"http://{HOST}:{closed_port()}", pattern="x")
    down = run(spec, capsys)
    assert down.result["status"] == "ok"
    assert down.result["reason_code"] == "connect"
    assert down.check == {"MeasureFailed": 0, "Unreachable": 1}
    assert down.queues == {}
    assert down.verdicts(spec) == {"unreachable": True, "measure": False}


def test_wrong_credentials_cannot_measure(broker: None, aws_secret: Any, capsys: pytest.CaptureFixture[str]) -> None:
    aws_secret("guest", "not-the-password")
    spec = make_spec(pattern="x")
    refused = run(spec, capsys)
    assert refused.result["status"] == "failed"
    assert refused.result["reason_code"] == "auth"
    assert "not-the-password" not in json.dumps(refused.result)
    assert refused.check == {"MeasureFailed": 1}
    assert refused.verdicts(spec) == {"measure": True}


def test_unknown_vhost_cannot_measure(broker: None, aws_secret: Any, capsys: pytest.CaptureFixture[str]) -> None:
    refused = run(make_spec(vhost=f"no-such-{uuid.uuid4().hex[:6]}"), capsys)
    assert refused.result["status"] == "failed" and refused.result["reason_code"] == "not_found"
    assert refused.check == {"MeasureFailed": 1}


def test_a_deleted_listed_queue_and_an_empty_pattern_are_missing(
    amqp: Any, prefix: str, aws_secret: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    orders, emails = f"{prefix}orders", f"{prefix}emails"
    declare(amqp, orders, messages=2)
    declare(amqp, emails)
    declare(amqp, f"{prefix}events.a")
    spec = make_spec(queues=[orders, emails], pattern=f"^{prefix}events\\.")

    present = poll(spec, capsys, lambda r: r.check.get("Backlog") == 2 and r.check.get("Queues") == 1)
    assert present.check["QueuesMissing"] == 0
    assert present.result["reason"] is None
    assert present.verdicts(spec)["queue_missing"] is False

    channel = amqp.channel()
    channel.queue_delete(orders)  # deleted (or renamed by a deploy): it leaves the worst-of series
    channel.close()
    gone = poll(spec, capsys, lambda r: r.check.get("QueuesMissing") == 1)
    assert gone.check["QueuesMissing"] == 1
    assert gone.check["Backlog"] == 0  # emails and events.a are empty: queue_missing is what pages
    assert gone.result["reason_code"] == "queue_missing"
    assert gone.result["reason"] == f"listed queue(s) not found in vhost /: {orders}"
    assert gone.verdicts(spec)["queue_missing"] is True

    channel = amqp.channel()
    channel.queue_delete(f"{prefix}events.a")  # now the pattern selects nothing either
    channel.close()
    empty = poll(spec, capsys, lambda r: r.check.get("QueuesMissing") == 2)
    assert empty.check["QueuesMissing"] == 2 and empty.check["Queues"] == 0
    assert f"pattern ^{prefix}events\\. matches no queue beyond the listed ones in any vhost" in empty.result["reason"]


def test_a_broker_outage_reports_no_missing_queues(
    broker: None, aws_secret: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Unreachable: nothing is known about the queues, so queue_missing has no data and holds
    # (and `unreachable` suppresses its page anyway).
    spec = make_spec(url=f"http://{HOST}:{closed_port()}", queues=["orders"], pattern="x")
    down = run(spec, capsys)
    assert "QueuesMissing" not in down.check
    assert "queue_missing" not in down.verdicts(spec)
