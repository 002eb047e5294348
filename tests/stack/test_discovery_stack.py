"""Discovery at synth: a recorded listing with 3 tagged ECS services gets each its alarms; a listing
with a 4th adds that service's alarms and changes no existing logical id, alarm or metric filter (the
stopped-task rule only gains the new service)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ENV, Synth, synth

from infra.discovery import RecordedListing
from vigil.alarm_meta import alarm_name

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SIGNALS = ["tasks_short", "cpu", "memory", "deployment_failed", "tasks_crashed"]
CHECKS = [
    {
        "id": "campaign-services",
        "kind": "ecs",
        "severity": "critical",
        "selector": {"tags": {"vigil:service": "campaign-api"}},
    },
    {
        "id": "campaign-lbs",
        "kind": "alb",
        "severity": "warning",
        "selector": {"tags": {"vigil:service": "campaign-api"}},
    },
]
UNCHANGED = {"AWS::CloudWatch::Alarm", "AWS::Logs::MetricFilter", "AWS::Events::Rule", "AWS::Logs::LogGroup"}
STOPPED_TASKS_RULE = "CheckersEcsEventsTaskStopped63CFE4C4"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog") / "checks"
    root.mkdir()
    shutil.copy(FIXTURES / "kinds" / "_settings.yaml", root)
    (root / "campaign.yaml").write_text(
        yaml.safe_dump({"service": "campaign-api", "team": "campaigns", "checks": CHECKS})
    )
    return root


def build(catalog: Path, listing: str, asset_dir: Path, tmp: pytest.TempPathFactory) -> Synth:
    return synth(catalog, tmp.mktemp("cdk.out"), asset_dir, discovery=RecordedListing(FIXTURES / "discovery" / listing))


@pytest.fixture(scope="module")
def three(catalog: Path, asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return build(catalog, "listing-3-services.json", asset_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def four(catalog: Path, asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return build(catalog, "listing-4-services.json", asset_dir, tmp_path_factory)


def alarm_names(built: Synth) -> set[str]:
    return {a["Properties"]["AlarmName"] for a in built.of_type("AWS::CloudWatch::Alarm").values()}


def service_alarms(services: list[str]) -> set[str]:
    return {alarm_name(ENV, f"campaign-services-prod-{s}", signal) for s in services for signal in SIGNALS}


def test_each_of_the_three_tagged_services_gets_the_service_defaults(three: Synth) -> None:
    found = {n for n in alarm_names(three) if n.startswith(f"vigil-{ENV}-campaign-services-")}
    assert found == service_alarms(["campaign-api", "campaign-scheduler", "campaign-worker"])
    # The tagged Application Load Balancer, not the network one nor the target group.
    assert {n for n in alarm_names(three) if n.startswith(f"vigil-{ENV}-campaign-lbs-")} == {
        alarm_name(ENV, "campaign-lbs-campaign-public", s) for s in ("unhealthy_hosts", "target_5xx_rate", "latency")
    }
    filters = [f["Properties"]["FilterName"] for f in three.of_type("AWS::Logs::MetricFilter").values()]
    assert sorted(filters) == sorted(
        alarm_name(ENV, f"campaign-services-prod-{s}", signal)
        for s in ("campaign-api", "campaign-scheduler", "campaign-worker")
        for signal in ("deployment_failed", "tasks_crashed")
    )


def test_a_fourth_tagged_service_adds_its_alarms_and_renames_nothing(three: Synth, four: Synth) -> None:
    assert alarm_names(four) - alarm_names(three) == service_alarms(["campaign-reports"])
    for logical_id, resource in three.resources.items():
        assert logical_id in four.resources, f"{logical_id} vanished"
        assert four.resources[logical_id]["Type"] == resource["Type"]
        if resource["Type"] in UNCHANGED and logical_id != STOPPED_TASKS_RULE:
            assert four.resources[logical_id]["Properties"] == resource["Properties"], logical_id
    # The stopped-task rule names the watched services: it gains the new one, in place.
    before, after = (s.resources[STOPPED_TASKS_RULE]["Properties"] for s in (three, four))
    assert after["EventPattern"]["detail"]["group"] == sorted(
        [*before["EventPattern"]["detail"]["group"], "service:campaign-reports"]
    )
    after["EventPattern"]["detail"]["group"] = before["EventPattern"]["detail"]["group"]
    assert after == before
    added = set(four.resources) - set(three.resources)
    assert {four.resources[k]["Type"] for k in added} == {"AWS::CloudWatch::Alarm", "AWS::Logs::MetricFilter"}
    assert len(added) == len(SIGNALS) + 2  # an alarm per signal, a metric filter per event signal
