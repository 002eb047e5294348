"""Kind `ecs` catalog entries: the two task-count sources, default rules and missing data, targets of a
selector, and the errors validate prints."""

from __future__ import annotations

import pytest

from infra.plan import alarm_metrics, custom_metrics
from tests.support.catalogs import catalog_problems, has_problem, loaded
from vigil.spec.common import MissingData
from vigil.spec.ecs import EcsCheck

BASE = {"id": "api", "kind": "ecs", "severity": "critical", "cluster": "prod", "ecs_service": "campaign-api"}


def check(**fields: object) -> EcsCheck:
    return EcsCheck.model_validate({**BASE, "service": "campaign-api", **fields})


def described(spec: EcsCheck) -> dict[str, str]:
    return {s: spec.rule(s).describe(spec.signals[s].unit) for s in spec.active_signals()}


def test_with_container_insights_tasks_short_compares_running_with_desired():
    spec = check()
    assert described(spec) == {
        "tasks_short": "> 0 tasks for 5 of 5 minutes",
        "cpu": "> 90 % for 5 of 5 minutes",
        "memory": "> 90 % for 5 of 5 minutes",
        "deployment_failed": ">= 1 deployments for 1 of 1 minutes",
        "tasks_crashed": ">= 2 tasks for 1 of 1 periods of 5m",
    }
    missing = {s: spec.rule(s).missing_data for s in spec.active_signals()}
    # No Container Insights data at all means nobody sees the service run: breaching.
    assert missing == {
        "tasks_short": MissingData.breaching,
        "cpu": MissingData.not_breaching,
        "memory": MissingData.not_breaching,
        "deployment_failed": MissingData.not_breaching,
        "tasks_crashed": MissingData.not_breaching,
    }
    # desired - running reads two metrics; deployments and crashes are metric filters' custom metrics.
    assert [alarm_metrics(spec, s) for s in spec.active_signals()] == [2, 1, 1, 1, 1]
    assert custom_metrics(spec) == 2
    assert spec.rule("tasks_crashed").statistic.value == "Sum"


def test_without_container_insights_running_alarms_below_a_fixed_minimum(tmp_path):
    spec = check(container_insights=False, alarms={"running": {"threshold": 3}})
    assert spec.active_signals() == ["running", "cpu", "memory", "deployment_failed", "tasks_crashed"]
    rule = spec.rule("running")
    assert rule.describe("tasks") == "< 3 tasks for 3 of 3 minutes"
    assert (rule.statistic.value, rule.period, rule.missing_data) == ("SampleCount", 60, MissingData.breaching)
    # Catalog-wide M of N defaults reach every signal, the idle one included, without an error.
    settings = {
        "contacts": {"oncall": {"email": "oncall@example.com"}},
        "routes": {"all": {"email": ["oncall"]}},
        "self_monitoring_route": "all",
        "defaults": {"alarm": {"evaluation_periods": 4, "datapoints_to_alarm": 4}},
    }
    (found,) = loaded(tmp_path, [{**BASE, "container_insights": False}], settings)
    assert found.rule("running").describe() == "< 1 for 4 of 4 minutes"


def test_a_selector_check_stands_for_the_services_it_finds():
    spec = check(cluster=None, ecs_service=None, selector={"tags": {"vigil:service": "campaign-api"}})
    found = spec.for_resource("arn:aws:ecs:eu-west-2:123456789012:service/prod/campaign-worker")
    assert found is not None
    assert (found.id, found.cluster, found.ecs_service, found.selector) == (
        "api-prod-campaign-worker",
        "prod",
        "campaign-worker",
        None,
    )
    assert found.rules() == spec.rules()
    # The short ARN format (no cluster) cannot be tagged, and a cluster is not a service.
    assert spec.for_resource("arn:aws:ecs:eu-west-2:123456789012:service/campaign-worker") is None
    assert spec.for_resource("not-an-arn") is None


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ({"cluster": None}, ["give cluster and ecs_service (one service) or selector"]),
        ({"selector": {"tags": {"vigil:service": "x"}}}, ["give cluster and ecs_service", "not both"]),
        ({"cluster": None, "ecs_service": None}, ["give cluster and ecs_service"]),
        ({"selector": {"tags": {}}, "cluster": None, "ecs_service": None}, ["selector.tags", "at least 1"]),
        ({"ecs_service": "has space"}, ["check api: ecs_service:", "allowed: an ECS cluster or service name"]),
        ({"alarms": {"tasks_short": {"statistic": "Average"}}}, ["alarms.tasks_short: statistic is fixed"]),
        ({"alarms": {"tasks_crashed": {"statistic": "Maximum"}}}, ["alarms.tasks_crashed: statistic is fixed"]),
        (
            {"container_insights": False, "alarms": {"running": {"period": "5m"}}},
            ["alarms.running.period: fixed at 1m"],
        ),
        ({"alarms": {"cpu": {"statistic": "p42"}}}, ["alarms.cpu.statistic", "found 'p42'"]),
    ],
)
def test_bad_entries_say_what_is_allowed(tmp_path, entry, fragments):
    found = catalog_problems(tmp_path, [{**BASE, **entry}])
    assert has_problem(found, *fragments), found
