"""Check groups in the template (infra.check_groups): one schedule runs the group, each check keeps
its own alarm, and adding a check to the group changes that schedule's input and nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Synth, schedule_event
from test_lint_nag import lint_all

from infra import estimate
from infra.catalog import load_catalog
from tests.support.catalogs import grouped_plan_catalog

pytestmark = pytest.mark.slow

GROUP = ["campaign-api-health", "campaign-api-edge-1"]


@pytest.fixture(scope="module")
def grouped_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return grouped_plan_catalog(tmp_path_factory.mktemp("grouped") / "catalog", 1)


@pytest.fixture(scope="module")
def grouped(synthesize: Callable[[Path], Synth], grouped_dir: Path) -> Synth:
    return synthesize(grouped_dir)


@pytest.fixture(scope="module")
def grown(synthesize: Callable[[Path], Synth], tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(grouped_plan_catalog(tmp_path_factory.mktemp("grown") / "catalog", 2))


def schedules(synth: Synth) -> dict[str, dict]:
    return {k: s["Properties"] for k, s in synth.of_type("AWS::Scheduler::Schedule").items()}


def group_schedule(synth: Synth) -> tuple[str, dict]:
    (found,) = [(k, s) for k, s in schedules(synth).items() if "checks" in schedule_event(s)]
    return found


def test_one_schedule_runs_the_group_and_the_rest_keep_their_own(grouped: Synth) -> None:
    _, props = group_schedule(grouped)
    event = schedule_event(props)
    assert [member["check"]["id"] for member in event["checks"]] == GROUP
    assert all(member["check"]["group"] == "edge" and member["secrets"] == {} for member in event["checks"])
    alone = [schedule_event(s)["check"]["id"] for s in schedules(grouped).values() if "check" in schedule_event(s)]
    assert alone == ["campaign-api-deep-health"]
    assert props["ScheduleExpression"] == "rate(1 minute)"
    assert props["Description"] == f"vigil demo: campaign-api/group:edge ({', '.join(GROUP)}) every 1 min"


def test_each_check_of_the_group_keeps_its_own_alarm(grouped: Synth) -> None:
    watched = [
        a["Properties"]["Dimensions"][0]["Value"]
        for a in grouped.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "Healthy"
    ]
    assert sorted(watched) == sorted([*GROUP, "campaign-api-deep-health"])


def test_adding_a_check_to_the_group_changes_its_schedules_input_only(grouped: Synth, grown: Synth) -> None:
    group_id, before = group_schedule(grouped)
    after_id, after = group_schedule(grown)
    assert after_id == group_id, "the group's schedule keeps its logical id"
    assert [m["check"]["id"] for m in schedule_event(after)["checks"]] == [*GROUP, "campaign-api-edge-2"]
    changed = {
        logical_id
        for logical_id, resource in grouped.resources.items()
        if grown.resources.get(logical_id) != resource and resource["Type"] != "AWS::CloudWatch::Dashboard"
    }
    assert changed == {group_id}
    assert {k for k in before if before[k] != after[k]} == {"Target", "Description"}


def test_the_grouped_templates_lint_and_pass_nag(grouped: Synth) -> None:
    assert lint_all(grouped) == {}
    assert (grouped.outdir / "validation-report.json").exists()


def test_validates_estimate_counts_one_schedule_per_group(grouped: Synth, grouped_dir: Path) -> None:
    (template,) = [
        t
        for t in (json.loads(path.read_text()) for path in grouped.template_files)
        if t.get("Description", "").endswith("service file campaign-api")
    ]
    assert estimate.by_file(load_catalog(grouped_dir))["campaign-api"] == len(template["Resources"])
