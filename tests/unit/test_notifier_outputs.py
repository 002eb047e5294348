"""The notifier's outputs step, against moto (SNS, DynamoDB, Secrets Manager) and the fake ServiceNow:
incidents follow the alarm, an output that is down pages the self-monitoring route without holding
back anyone else, and a retried invocation creates nothing twice."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from test_notifier_delivery import TABLE, FlakySns, sns_event, table  # noqa: F401
from test_notifier_handler import REGION, Routes, env, routes, summary  # noqa: F401

from infra.fake_servicenow import FakeServiceNow, fake_servicenow
from vigil import secrets
from vigil.notifier import handler as notifier
from vigil.notifier.handler import PublishError
from vigil.notifier.route_outputs import MAX_BUDGET_SECONDS, OUTPUT_SECRETS_ENV, ROUTE_OUTPUTS_ENV, budget
from vigil.outputs.delivery import DEFAULT_BUDGET_SECONDS

ROUTE = "campaigns-critical"
FALLBACK = "ops-fallback"  # FALLBACK_ROUTE: the self-monitoring route in a deployed stack
USER, PASSWORD = "vigil.integration", "s3cret-Pa55"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@pytest.fixture
def instance() -> Iterator[FakeServiceNow]:
    with fake_servicenow(BASIC) as fake:
        yield fake


def configure(monkeypatch: pytest.MonkeyPatch, outputs: list[dict[str, Any]], secret_values: dict[str, dict]) -> None:
    """ROUTE_OUTPUTS and OUTPUT_SECRETS as the stack writes them, and the secrets in moto."""
    client = boto3.client("secretsmanager", region_name=REGION)
    for name, value in secret_values.items():
        client.create_secret(Name=f"vigil/{name}", SecretString=json.dumps(value))
    monkeypatch.setenv(ROUTE_OUTPUTS_ENV, json.dumps({ROUTE: outputs}))
    monkeypatch.setenv(OUTPUT_SECRETS_ENV, json.dumps({name: f"vigil/{name}" for name in secret_values}))
    secrets.clear_cache()


@pytest.fixture
def servicenow(
    table: Any,  # noqa: F811
    instance: FakeServiceNow,
    monkeypatch: pytest.MonkeyPatch,
) -> FakeServiceNow:
    configure(
        monkeypatch,
        [{"type": "servicenow", "name": "l2-servicenow", "instance": instance.base_url, "credentials_secret": "snow"}],
        {"snow": {"username": USER, "password": PASSWORD}},
    )
    return instance


@pytest.fixture
def one_down(table: Any, instance: FakeServiceNow, monkeypatch: pytest.MonkeyPatch) -> FakeServiceNow:  # noqa: F811
    """ServiceNow works; the Slack webhook answers 401 (a revoked hook), which no retry fixes."""
    configure(
        monkeypatch,
        [
            {
                "type": "servicenow",
                "name": "l2-servicenow",
                "instance": instance.base_url,
                "credentials_secret": "snow",
            },
            {"type": "slack", "name": "ops-slack", "credentials_secret": "slack"},
        ],
        {"snow": {"username": USER, "password": PASSWORD}, "slack": {"url": f"{instance.base_url}/services/T0/B0/x"}},
    )
    return instance


def alarm(state: str = "ALARM", at: str = "14:03") -> dict[str, Any]:
    return sns_event(
        message_id=f"{state}-{at}",
        NewStateValue=state,
        OldStateValue="OK" if state != "OK" else "ALARM",
        StateChangeTime=f"2024-05-02T{at}:00.000+0000",
    )


def subjects(route: str) -> list[str | None]:
    return [subject for subject, _ in Routes.published(route)]


def test_an_alarm_opens_an_incident_and_its_recovery_resolves_it(servicenow: FakeServiceNow) -> None:
    assert notifier.handler(alarm(), None) == summary(published=1)
    (incident,) = servicenow.incidents.values()
    assert incident["correlation_id"] == "vigil/prod/orders-queue/backlog"
    assert incident["short_description"] == "[vigil prod] orders-queue backlog: 1520 messages > 500"
    assert incident["state"] == "1"
    assert notifier.handler(alarm("OK", "15:15"), None) == summary(published=1)
    assert incident["state"] == "6" and incident["close_code"] == "Resolved by caller"
    assert servicenow.problems == []
    assert subjects(ROUTE) == [
        "[ALARM][critical] orders-queue backlog - orders",
        "[OK][critical] orders-queue backlog recovered - orders",
    ]
    assert subjects(FALLBACK) == []  # nothing was down


def test_insufficient_data_calls_no_output(servicenow: FakeServiceNow) -> None:
    assert notifier.handler(alarm("INSUFFICIENT_DATA"), None) == summary(published=1)
    assert servicenow.requests == []


def test_an_output_that_is_down_pages_the_self_monitoring_route_and_blocks_nobody(one_down: FakeServiceNow) -> None:
    assert notifier.handler(alarm(), None) == summary(published=2)  # the route's page, and the output-down page
    assert len(one_down.incidents) == 1  # ServiceNow delivered all the same
    assert subjects(ROUTE) == ["[ALARM][critical] orders-queue backlog - orders"]
    ((subject, page),) = Routes.published(FALLBACK)
    assert subject == "[vigil] output down: ops-slack (prod)"
    assert "- ops-slack (slack): post message: HTTP 401" in page["default"]
    assert "Alert:          ALARM critical: orders-queue backlog (prod)" in page["default"]
    assert page["sms"] == "vigil output down: ops-slack. Undelivered: ALARM orders-queue backlog."
    assert "/services/T0/B0/x" not in json.dumps(page)  # the webhook's secret path is never shown


def test_a_missing_secret_is_an_output_down_page_naming_the_secret(
    table: Any,  # noqa: F811
    instance: FakeServiceNow,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(monkeypatch, [{"type": "servicenow", "instance": instance.base_url, "credentials_secret": "snow"}], {})
    assert notifier.handler(alarm(), None) == summary(published=2)
    ((_, page),) = Routes.published(FALLBACK)
    assert "- servicenow (servicenow): credentials: secret snow is not in this function's secrets" in page["default"]


def test_a_retried_invocation_creates_no_second_incident_and_pages_about_an_output_once(
    one_down: FakeServiceNow,
) -> None:
    notifier._clients["sns"] = FlakySns({ROUTE: ["Throttled"]})  # the route's publish fails once
    with pytest.raises(PublishError):
        notifier.handler(alarm(), None)
    created = [r for r in one_down.requests if r.method == "POST" and r.path.endswith("/incident")]
    assert len(one_down.incidents) == 1 and len(created) == 1
    assert subjects(FALLBACK) == ["[vigil] output down: ops-slack (prod)"]

    # Lambda's retry: the route gets its page; ServiceNow is not asked again; Slack is tried again
    # (it may be back) but, still down, pages no second time.
    seen = len(one_down.requests)
    assert notifier.handler(alarm(), None) == summary(published=1)
    again = [r.path for r in one_down.requests[seen:]]
    assert again == ["/services/T0/B0/x"]
    assert len(one_down.incidents) == 1
    assert subjects(ROUTE) == ["[ALARM][critical] orders-queue backlog - orders"]
    assert subjects(FALLBACK) == ["[vigil] output down: ops-slack (prod)"]


def test_the_outputs_budget_is_the_invocations_time_less_a_reserve_for_the_publishes() -> None:
    assert budget(None) == MAX_BUDGET_SECONDS == DEFAULT_BUDGET_SECONDS == 20
    assert budget(29.5) == 20
    assert budget(12) == 7
    assert budget(2) == 1  # never nothing: an output gets its one quick try


def test_the_remaining_time_of_the_invocation_bounds_the_outputs(
    servicenow: FakeServiceNow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigil.outputs import delivery

    seen: list[float] = []
    real = delivery.deliver_all

    def recording(outputs: Any, alert: Any, budget: float) -> Any:
        seen.append(budget)
        return real(outputs, alert, budget=budget)

    monkeypatch.setattr(delivery, "deliver_all", recording)

    class Context:
        aws_request_id = "r-1"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 9_000

    notifier.handler(alarm(), Context())
    assert seen == [4.0]
