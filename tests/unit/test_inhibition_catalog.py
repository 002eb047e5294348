"""Inhibition in the catalog: which alarm holds back which signal, and every bad `inhibited_by` rejected
with the file, the check, the field and what is allowed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar, Literal

import pytest
import yaml

from infra.catalog import Catalog, CatalogError, load_catalog
from infra.settings import Settings
from vigil.spec.common import AlarmRule, CheckBase, Comparison, MissingData, Signal, checker_signals

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "inhibition"
ROUTE = {"email": ["oncall"], "sms": ["oncall"]}
SETTINGS = {
    "contacts": {"oncall": {"email": "oncall@example.com", "sms": "+447700900123"}},
    "routes": {"all": ROUTE},
    "self_monitoring_route": "all",
}
WORKER = {"id": "worker-health", "kind": "http", "severity": "critical", "url": "https://worker.example.com/health"}
QUEUE = {"id": "jobs-queue", "kind": "sqs", "severity": "critical", "queue": "jobs"}


def write(root: Path, checks: list[dict], settings: dict | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings or SETTINGS))
    (root / "jobs.yaml").write_text(yaml.safe_dump({"service": "jobs", "checks": checks}))
    return root


def problems(root: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    # Without the line number (test_catalog covers lines): these tests read the message.
    return [str(replace(p, line=None)) for p in caught.value.problems]


def test_the_fixture_catalog_resolves_every_suppressor() -> None:
    catalog = load_catalog(FIXTURE)
    worker_down = ("order-worker-health", "down")
    assert {s: catalog.suppressor(catalog.by_id("orders-queue"), s) for s in ("backlog", "age", "dlq")} == {
        "backlog": worker_down,
        "age": worker_down,
        "dlq": worker_down,
    }
    billing = catalog.by_id("billing-health")
    assert catalog.suppressor(billing, "down") == worker_down
    assert catalog.suppressor(billing, "measure") is None  # vigil's own failure always pages
    assert catalog.suppressor(catalog.by_id("order-worker-health"), "down") is None
    assert catalog.suppressor(catalog.by_id("invoices-queue"), "backlog") is None


class BrokerCheck(CheckBase):
    """A kind whose `unreachable` signal inhibits its other signals (as rabbitmq declares it)."""

    signals: ClassVar = checker_signals(
        *(
            Signal(
                name=name,
                metric=name.capitalize(),
                unit="",
                summary=name,
                default=AlarmRule(
                    threshold=1,
                    comparison=Comparison.ge,
                    evaluation_periods=2,
                    datapoints_to_alarm=2,
                    missing_data=MissingData.not_breaching,
                ),
            )
            for name in ("unreachable", "backlog")
        )
    )
    inhibitor_signal: ClassVar = "unreachable"
    kind: Literal["broker"]


def _broker_catalog(*checks: CheckBase) -> Catalog:
    return Catalog(root=FIXTURE, settings=Settings.model_validate(SETTINGS), checks=list(checks))


def test_a_kinds_inhibitor_signal_holds_back_its_other_signals_but_not_measure() -> None:
    broker = BrokerCheck(id="broker", kind="broker", service="jobs", severity="critical")
    catalog = _broker_catalog(broker)
    assert catalog.suppressor(broker, "backlog") == ("broker", "unreachable")
    assert catalog.suppressor(broker, "unreachable") is None
    assert catalog.suppressor(broker, "measure") is None


def test_the_nearest_inhibitor_wins() -> None:
    """A queue on a broker: its own signals wait for its own `unreachable`, which waits for the broker's."""
    broker = BrokerCheck(id="broker", kind="broker", service="jobs", severity="critical")
    queue = BrokerCheck(id="queue", kind="broker", service="jobs", severity="critical", inhibited_by="broker")
    catalog = _broker_catalog(broker, queue)
    assert catalog.suppressor(queue, "backlog") == ("queue", "unreachable")
    assert catalog.suppressor(queue, "unreachable") == ("broker", "unreachable")
    assert catalog.suppressor(queue, "measure") is None


def test_inhibited_by_an_http_check_loads(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, [WORKER, {**QUEUE, "inhibited_by": "worker-health"}]))
    assert catalog.by_id("jobs-queue").inhibited_by == "worker-health"


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        (
            [WORKER, {**QUEUE, "inhibited_by": "worker-heath"}],
            "check jobs-queue: inhibited_by: unknown check 'worker-heath'; checks that can inhibit (kinds ",
        ),
        (
            [{**WORKER, "inhibited_by": "worker-health"}],
            "check worker-health: inhibited_by: a check cannot be inhibited by itself; checks that can inhibit",
        ),
        (
            [QUEUE, {**QUEUE, "id": "other-queue", "inhibited_by": "jobs-queue"}],
            "check other-queue: inhibited_by: check 'jobs-queue' (kind sqs) has no inhibitor signal to hold pages "
            "back; checks that can inhibit (kinds ",
        ),
        (
            [WORKER, {**QUEUE, "inhibited_by": "Worker Health"}],
            "check jobs-queue: inhibited_by: found 'Worker Health'; allowed: a lowercase slug",
        ),
    ],
    ids=["unknown", "self", "no-inhibitor-signal", "not-a-slug"],
)
def test_bad_references_name_file_check_field_and_the_allowed_values(
    tmp_path: Path, checks: list[dict], expected: str
) -> None:
    found = problems(write(tmp_path, checks))
    assert len(found) == 1, found
    assert found[0].startswith(f"{tmp_path / 'jobs.yaml'}: ")
    assert expected in found[0]
    if "checks that can inhibit" in expected:
        kinds = found[0].split("(kinds ", 1)[1].split(")", 1)[0].split(", ")
        assert "http" in kinds and "sqs" not in kinds
        can_inhibit = found[0].split("): ", 1)[1]
        assert can_inhibit == ("worker-health" if any(c["kind"] == "http" for c in checks) else "none in this catalog")


def test_a_cycle_is_rejected_once_because_all_down_none_would_page(tmp_path: Path) -> None:
    checks = [
        {**WORKER, "id": "a-health", "inhibited_by": "b-health"},
        {**WORKER, "id": "b-health", "inhibited_by": "c-health"},
        {**WORKER, "id": "c-health", "inhibited_by": "a-health"},
        {**WORKER, "id": "d-health", "inhibited_by": "a-health"},  # hangs off the cycle, is not in it
    ]
    assert problems(write(tmp_path, checks)) == [
        f"{tmp_path / 'jobs.yaml'}: check a-health: inhibited_by: inhibition cycle a-health -> b-health -> "
        "c-health -> a-health: were they all down, none would page"
    ]


def test_a_chain_is_fine(tmp_path: Path) -> None:
    checks = [
        {**WORKER, "id": "a-health", "inhibited_by": "b-health"},
        {**WORKER, "id": "b-health", "inhibited_by": "c-health"},
        {**WORKER, "id": "c-health"},
    ]
    assert [c.inhibited_by for c in load_catalog(write(tmp_path, checks)).checks] == ["b-health", "c-health", None]


def test_an_inhibitor_must_reach_every_route_the_inhibited_check_pages(tmp_path: Path) -> None:
    settings = {
        **SETTINGS,
        "routes": {"all": ROUTE, "warnings": {**ROUTE, "severities": ["warning"]}},
    }
    checks = [WORKER, {**QUEUE, "severity": "warning", "inhibited_by": "worker-health"}]
    (found,) = problems(write(tmp_path, checks, settings))
    assert found == (
        f"{tmp_path / 'jobs.yaml'}: check jobs-queue: inhibited_by: route(s) warnings page this check but not "
        "'worker-health', so while 'worker-health' is down they would hear nothing: inhibit only by a check "
        "whose routes include this check's"
    )


# A log_pattern check pages each pattern at the pattern's own severity: sqlserver's preset has
# critical patterns (io-error-823, checksum-824, severity-17plus) in a check that may be warning.
SEVERITY_ROUTES = {
    **SETTINGS,
    "routes": {"all": ROUTE, "critical-only": {**ROUTE, "severities": ["critical"]}},
}
DB_ERRORS = {
    "id": "db-errors",
    "kind": "log_pattern",
    "severity": "warning",
    "log_group": "/aws/rds/instance/jobs-sql/error",
    "preset": "sqlserver",
}


def test_a_signal_pages_the_routes_of_its_own_severity(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, [DB_ERRORS], SEVERITY_ROUTES))
    check = catalog.by_id("db-errors")
    assert catalog.routes_for_signal(check, "io-error-823") == ["all", "critical-only"]
    assert catalog.routes_for_signal(check, "deadlock") == ["all"]
    assert catalog.routes_for(check) == ["all"]  # the check's own severity only


def test_an_inhibitor_must_reach_the_routes_of_every_signal_severity(tmp_path: Path) -> None:
    """A warning inhibitor would silence the critical patterns' route while it is down: refused."""
    checks = [{**WORKER, "severity": "warning"}, {**DB_ERRORS, "inhibited_by": "worker-health"}]
    (found,) = problems(write(tmp_path, checks, SEVERITY_ROUTES))
    assert found.startswith(
        f"{tmp_path / 'jobs.yaml'}: check db-errors: inhibited_by: route(s) critical-only page this check "
        "(signals paging at their own severity: severity-17plus (critical), io-error-823 (critical), "
        "checksum-824 (critical)) but not 'worker-health', so while 'worker-health' is down they would hear nothing"
    ), found


def test_an_inhibitor_reaching_every_signal_severity_loads(tmp_path: Path) -> None:
    checks = [WORKER, {**DB_ERRORS, "inhibited_by": "worker-health"}]  # the worker check is critical
    catalog = load_catalog(write(tmp_path, checks, SEVERITY_ROUTES))
    assert catalog.by_id("db-errors").inhibited_by == "worker-health"
