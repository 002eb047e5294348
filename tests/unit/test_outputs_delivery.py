"""deliver_all: every output on its own, one budget, and the page that says which output is down."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.http_server import LoopbackServer, Reply, closed_port, running_server
from tests.support.outputs import ALARM_FIXTURE, Secrets, alert_from
from vigil.notifier import sms as gsm
from vigil.notifier.render import SUBJECT_LIMIT
from vigil.outputs import build_outputs
from vigil.outputs.alert import Alert
from vigil.outputs.config import PagerDutyOutput, ServiceNowOutput, SlackOutput, TeamsOutput, WebhookOutput
from vigil.outputs.delivery import Delivery, deliver_all, down_notification
from vigil.outputs.pagerduty import PagerDuty
from vigil.outputs.retry import Deadline

SLACK, TEAMS, HOOK, PD, SLOW = "/slack", "/teams", "/hook", "/v2/enqueue", "/slow"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        srv.replies.update(
            {
                SLACK: [Reply(200, b"ok", "text/plain")],
                TEAMS: [Reply(202)],
                HOOK: [Reply(204)],
                PD: [Reply(202, b'{"status":"success"}')],
                SLOW: [Reply(200, b"ok", delay=10)],
            }
        )
        yield srv


class Exploding:
    name, type = "broken", "webhook"

    def send(self, alert: Alert, deadline: Deadline) -> Delivery:
        raise RuntimeError("a bug that quotes hunter2-secret")


def test_one_output_down_and_one_hung_do_not_stop_the_others(server: LoopbackServer) -> None:
    secrets = Secrets(
        {
            "slack": {"url": server.url(SLACK)},
            "teams": {"url": server.url(TEAMS)},
            "hook": {"url": server.url(HOOK)},
            "hung": {"url": server.url(SLOW)},
            "snow": {"username": "u", "password": "p4ssword"},
            "pd": {"routing_key": "R0UT1NGKEY"},
        }
    )
    configs = [
        ServiceNowOutput(type="servicenow", instance=f"http://127.0.0.1:{closed_port()}", credentials_secret="snow"),
        SlackOutput(type="slack", credentials_secret="slack"),
        TeamsOutput(type="teams", credentials_secret="teams"),
        WebhookOutput(type="webhook", credentials_secret="hook"),
        WebhookOutput(type="webhook", name="hung-hook", credentials_secret="hung"),
    ]
    outputs = [
        *build_outputs(configs, secrets),
        PagerDuty(PagerDutyOutput(type="pagerduty", credentials_secret="pd"), secrets, endpoint=server.url(PD)),
    ]
    alert = alert_from(ALARM_FIXTURE)

    started = time.monotonic()
    report = deliver_all(outputs, alert, budget=2.0)
    elapsed = time.monotonic() - started

    assert elapsed < 2.6, f"the budget bounds the whole delivery: {elapsed:.2f}s"
    assert [(d.output, d.ok) for d in report.deliveries] == [
        ("servicenow", False),
        ("slack", True),
        ("teams", True),
        ("webhook", True),
        ("hung-hook", False),
        ("pagerduty", True),
    ]
    assert [d.output for d in report.failed] == ["servicenow", "hung-hook"]
    assert "connection refused" in report.failed[0].error
    assert "timeout" in report.failed[1].error
    assert {r.path for r in server.requests} == {SLACK, TEAMS, HOOK, PD, SLOW}


@pytest.mark.parametrize("down", ["slack", "teams", "webhook", "pagerduty"])
def test_each_output_when_down_fails_alone_and_names_itself(server: LoopbackServer, down: str) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    urls = {"slack": server.url(SLACK), "teams": server.url(TEAMS), "webhook": server.url(HOOK)}
    pd_endpoint = server.url(PD)
    if down == "pagerduty":
        pd_endpoint = f"{dead}{PD}"
    else:
        urls[down] = f"{dead}/{down}"
    secrets = Secrets({name: {"url": url} for name, url in urls.items()} | {"pd": {"routing_key": "R0UT1NGKEY"}})
    configs = [
        SlackOutput(type="slack", credentials_secret="slack"),
        TeamsOutput(type="teams", credentials_secret="teams"),
        WebhookOutput(type="webhook", credentials_secret="webhook"),
    ]
    outputs = [
        *build_outputs(configs, secrets),
        PagerDuty(PagerDutyOutput(type="pagerduty", credentials_secret="pd"), secrets, endpoint=pd_endpoint),
    ]

    report = deliver_all(outputs, alert_from(ALARM_FIXTURE), budget=2.0)

    assert [d.output for d in report.failed] == [down]
    assert "connection refused" in report.failed[0].error
    assert sorted(d.output for d in report.deliveries if d.ok) == sorted(
        {"slack", "teams", "webhook", "pagerduty"} - {down}
    )
    notice = down_notification(report, alert_from(ALARM_FIXTURE))
    assert notice is not None and down in notice.subject


def test_an_output_that_raises_is_reported_without_its_message() -> None:
    report = deliver_all([Exploding()], alert_from(ALARM_FIXTURE), budget=1)
    (delivery,) = report.deliveries
    assert (delivery.ok, delivery.error) == (False, "internal error: RuntimeError")
    assert "hunter2" not in report.model_dump_json()


def test_no_outputs_delivers_nothing() -> None:
    report = deliver_all([], alert_from(ALARM_FIXTURE))
    assert report.deliveries == [] and report.failed == []
    assert down_notification(report, alert_from(ALARM_FIXTURE)) is None


def test_down_page_names_the_failed_outputs_and_the_alert() -> None:
    alert = alert_from(ALARM_FIXTURE)
    report = deliver_all([Exploding()], alert, budget=1)
    page = down_notification(report, alert)
    assert page is not None
    assert page.subject == "[vigil] output down: broken (prod)"
    assert len(page.subject) <= SUBJECT_LIMIT
    assert "broken (webhook): internal error: RuntimeError" in page.email
    assert "Correlation id: vigil/prod/campaign-api-health/down" in page.email
    assert page.sms == "vigil output down: broken. Undelivered: ALARM campaign-api-health down."
    assert gsm.size(page.sms).segments == 1 and page.sms.isascii()
