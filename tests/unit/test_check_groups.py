"""Check groups (infra.check_groups): who runs together, what the catalog refuses, what plan charges."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from aws_cdk import aws_lambda as lambda_

from infra import check_groups
from infra.catalog import CatalogError, load_catalog
from infra.environments import Environment
from infra.plan import load_prices, plan_catalog
from infra.stack import build_app
from tests.support.catalogs import PLAN_CATALOG, SETTINGS, grouped_plan_catalog
from tests.support.catalogs import problem_lines as problems
from vigil.checkers.runner import make_event

VPC = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0"],
    "security_group_ids": ["sg-0123456789abcdef0"],
}


def http(check_id: str, **fields: object) -> dict:
    return {"id": check_id, "kind": "http", "severity": "critical", "url": f"https://{check_id}.example.com/", **fields}


def write(root: Path, files: dict[str, list[dict]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "_settings.yaml").write_text(yaml.safe_dump(SETTINGS))
    for service, checks in files.items():
        (root / f"{service}.yaml").write_text(yaml.safe_dump({"service": service, "checks": checks}, sort_keys=False))
    return root


def test_a_group_is_its_files_checks_that_name_it(tmp_path):
    root = write(
        tmp_path,
        {
            "edge": [http("edge-a", group="web"), http("edge-b"), http("edge-c", group="web")],
            "shop": [http("shop-a", group="web")],
        },
    )
    catalog = load_catalog(root)
    by_id = {c.id: c for c in catalog.checks}
    members = check_groups.members(by_id["edge-c"], catalog.checks, catalog.files)
    assert [c.id for c in members] == ["edge-a", "edge-c"]
    # The same name in another file is another group: a group never spans two stacks.
    assert [c.id for c in check_groups.members(by_id["shop-a"], catalog.checks, catalog.files)] == ["shop-a"]
    assert [c.id for c in check_groups.members(by_id["edge-b"], catalog.checks, catalog.files)] == ["edge-b"]


def test_a_check_with_another_cadence_is_refused_with_file_check_field_and_fix(tmp_path):
    root = write(
        tmp_path, {"edge": [http("edge-a", group="web", cadence="1m"), http("edge-b", group="web", cadence="5m")]}
    )
    (line,) = problems(root)
    assert "edge.yaml" in line and "check edge-b" in line and "group" in line
    assert "share a cadence: edge-a runs every 1m, this one every 5m" in line
    assert "give it the same cadence, or another group" in line


def test_a_check_in_another_network_is_refused(tmp_path):
    root = write(tmp_path, {"edge": [http("edge-a", group="web"), http("edge-b", group="web", vpc=VPC)]})
    (line,) = problems(root)
    assert "check edge-b" in line and "share a network" in line
    assert "edge-a runs outside a VPC, this one in vpc-0123456789abcdef0" in line


def test_a_group_over_the_limit_is_refused_at_its_first_extra_check(tmp_path):
    size = check_groups.MAX_GROUP_SIZE + 1
    root = write(tmp_path, {"edge": [http(f"edge-{i}", group="web") for i in range(size)]})
    (line,) = problems(root)
    assert f"check edge-{size - 1}" in line
    assert f"group web has {size} checks, at most {check_groups.MAX_GROUP_SIZE}" in line


def test_group_is_an_http_field_only(tmp_path):
    sqs = {"id": "orders-queue", "kind": "sqs", "severity": "warning", "queue": "orders", "group": "web"}
    found = problems(write(tmp_path, {"orders": [sqs]}))
    assert any("orders-queue" in line and "group" in line for line in found), found


@pytest.fixture(scope="module")
def grouped_plan(tmp_path_factory):
    """The plan catalog with two more 1-minute checks in campaign-api-health's group."""
    root = grouped_plan_catalog(tmp_path_factory.mktemp("plan") / "catalog", 2)
    rows, _ = plan_catalog(load_catalog(root), load_prices())
    alone, _ = plan_catalog(load_catalog(PLAN_CATALOG), load_prices())
    return {r.id: r for r in rows}, {r.id: r for r in alone}


def test_plan_shares_a_groups_run_between_its_checks(grouped_plan):
    grouped, alone = grouped_plan
    row, solo = grouped["campaign-api-health"], alone["campaign-api-health"]
    for item in ("scheduler", "lambda_requests", "lambda_compute"):
        assert row.cost_breakdown[item] == pytest.approx(solo.cost_breakdown[item] / 3, abs=1e-6), item
    # Each check still writes its own metric and EMF line and has its own alarm and pages.
    for item in ("custom_metrics", "alarms", "notifications", "logs"):
        assert row.cost_breakdown[item] == solo.cost_breakdown[item], item
    # Issue 11's target, with the sample's routes (3 e-mail and 2 SMS contacts): USD 0.50 a month.
    assert row.cost_usd_month == pytest.approx(0.4842, abs=1e-4)
    assert row.cost_usd_month <= 0.50
    # An ungrouped check of the same file pays for its runs alone.
    assert grouped["campaign-api-deep-health"].cost_usd_month == alone["campaign-api-deep-health"].cost_usd_month


def test_a_check_without_a_group_sends_the_spec_it_sent_before_groups(tmp_path):
    # A release adding the field must not rewrite the input of every deployed http schedule.
    catalog = load_catalog(write(tmp_path, {"edge": [http("edge-a"), http("edge-b", group="web")]}))
    alone, grouped = (make_event(check, {})["check"] for check in catalog.checks)
    assert "group" not in alone
    assert grouped["group"] == "web"


def test_synth_refuses_a_group_that_cannot_run_together_in_a_catalog_built_in_code(tmp_path):
    catalog = load_catalog(write(tmp_path, {"edge": [http("edge-a", group="web"), http("edge-b", group="web")]}))
    catalog.checks[1] = catalog.checks[1].model_copy(update={"cadence": 60})

    with pytest.raises(CatalogError) as refused:
        build_app(Environment(name="demo", catalog=tmp_path), catalog=catalog, code=lambda_.Code.from_inline("x"))
    assert "share a cadence" in str(refused.value.problems[0])
