"""Routes: today's additive routes unchanged, first-match routes with `continue` (Alertmanager's routing
tree), a catch-all default route, clear errors for routes that cannot work, and plan's who-gets-what."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.catalog import load_catalog
from infra.cli import plan_cmd
from infra.plan import plan_catalog, plan_routes
from tests.support.catalogs import FIXTURE_CATALOG, has_problem, problem_lines, write_catalog

CONTACTS = {"oncall": {"email": "oncall@example.com", "sms": "+447700900123"}, "desk": {"email": "desk@example.com"}}
CHECKS = [
    {"id": "api-health", "kind": "http", "severity": "critical", "url": "https://api.example.com/health"},
    {"id": "api-slow", "kind": "http", "severity": "warning", "url": "https://api.example.com/slow"},
]


def settings(routes: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"contacts": CONTACTS, "routes": routes, "self_monitoring_route": next(iter(routes)), **more}


def write(tmp_path: Path, routes: dict[str, Any], **more: Any) -> Path:
    """A catalog of CHECKS with these routes, in this order (the order is the routing's)."""
    root = write_catalog(tmp_path, CHECKS)
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings(routes, **more), sort_keys=False))
    return root


def routes_of(tmp_path: Path, routes: dict[str, Any], **more: Any) -> dict[str, list[str]]:
    """Check id → the routes its alarms go to (each check's own severity)."""
    catalog = load_catalog(write(tmp_path, routes, **more))
    return {c.id: catalog.routes_for(c) for c in catalog.checks}


TREE = {
    "api-team": {"services": ["campaign-api"], "email": ["oncall"], "continue": True},
    "critical": {"severities": ["critical"], "email": ["oncall"], "sms": ["oncall"]},
    "everything": {"email": ["desk"]},
}


def test_additive_routing_is_still_the_default_every_matching_route(tmp_path: Path) -> None:
    additive = {name: {k: v for k, v in route.items() if k != "continue"} for name, route in TREE.items()}
    assert routes_of(tmp_path, additive) == {
        "api-health": ["api-team", "critical", "everything"],
        "api-slow": ["api-team", "everything"],
    }


def test_the_general_fixture_catalog_routes_as_before(tmp_path: Path) -> None:
    catalog = load_catalog(FIXTURE_CATALOG)
    assert catalog.settings.routing == "additive" and catalog.settings.default_route is None
    by_id = {c.id: catalog.routes_for(c) for c in catalog.checks}
    assert by_id["campaign-api-health"] == ["campaigns-critical", "platform-critical"]
    assert by_id["campaign-db-errors"] == ["campaigns-warning"]


def test_first_match_stops_at_the_first_route_unless_it_continues(tmp_path: Path) -> None:
    assert routes_of(tmp_path, TREE, routing="first_match") == {
        "api-health": ["api-team", "critical"],  # api-team continues; critical stops it
        "api-slow": ["api-team", "everything"],
    }


def test_without_continue_the_first_match_is_the_only_route(tmp_path: Path) -> None:
    tree = {**TREE, "api-team": {k: v for k, v in TREE["api-team"].items() if k != "continue"}}
    assert routes_of(tmp_path, tree, routing="first_match") == {"api-health": ["api-team"], "api-slow": ["api-team"]}


def test_the_default_route_takes_what_no_route_matches(tmp_path: Path) -> None:
    routes = {
        "critical": {"severities": ["critical"], "email": ["oncall"]},
        "catch-all": {"services": ["nothing"], "email": ["desk"]},
    }
    assert routes_of(tmp_path, routes, default_route="catch-all") == {
        "api-health": ["critical"],
        "api-slow": ["catch-all"],
    }


def test_without_a_default_route_an_unrouted_alarm_is_an_error_that_names_the_way_out(tmp_path: Path) -> None:
    lines = problem_lines(write(tmp_path, {"critical": {"severities": ["critical"], "email": ["oncall"]}}))
    assert has_problem(lines, "api-slow", "no route matches", "or set default_route")


@pytest.mark.parametrize(
    ("routes", "more", "fragments"),
    [
        (
            {"everything": {"email": ["desk"]}, "critical": {"severities": ["critical"], "email": ["oncall"]}},
            {"routing": "first_match"},
            ("routes.critical", "unreachable: route 'everything' above it", "give 'everything' continue: true"),
        ),
        (
            {"team": {"teams": ["a", "b"], "email": ["desk"]}, "team-a": {"teams": ["a"], "email": ["oncall"]}},
            {"routing": "first_match"},
            ("routes.team-a", "unreachable: route 'team' above it", "teams a"),
        ),
        (
            {"all": {"email": ["desk"], "continue": True}},
            {},
            ("routes.all.continue", "continue applies only with routing: first_match"),
        ),
        ({"all": {"email": ["desk"]}}, {"default_route": "nope"}, ("default_route", "unknown route 'nope'")),
        ({"all": {"email": ["nobody"]}}, {}, ("routes.all.email", "unknown contact 'nobody'")),
        ({"all": {"sms": ["desk"]}}, {}, ("routes.all.sms", "contact 'desk' has no sms address")),
        ({"all": {"email": ["desk"]}}, {"routing": "first"}, ("routing", "found 'first'", "first_match")),
    ],
)
def test_routes_that_cannot_work_are_clear_errors(
    tmp_path: Path, routes: dict[str, Any], more: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    assert has_problem(problem_lines(write(tmp_path, routes, **more)), *fragments)


def test_a_route_after_a_continuing_catch_all_is_reachable(tmp_path: Path) -> None:
    routes = {
        "everything": {"email": ["desk"], "continue": True},
        "critical": {"severities": ["critical"], "email": ["oncall"]},
    }
    assert routes_of(tmp_path, routes, routing="first_match")["api-health"] == ["everything", "critical"]


# --- plan: who gets what --------------------------------------------------------------------------


def test_plan_says_per_route_who_receives_what_and_which_alarms_go_there(tmp_path: Path) -> None:
    root = write(tmp_path, TREE, routing="first_match")
    catalog = load_catalog(root)
    rows, _ = plan_catalog(catalog)
    plans = {r.name: r for r in plan_routes(catalog, rows)}
    assert plans["api-team"].email == ["oncall <oncall@example.com>"] and plans["api-team"].sms == []
    assert plans["critical"].sms == ["oncall +447700900123"]
    assert "then goes on (continue)" in plans["api-team"].matches
    assert "and stops there (first match)" in plans["critical"].matches
    assert plans["critical"].signals == ["api-health/down"]
    assert plans["everything"].signals == ["api-slow/down"]


def test_plan_lists_a_routes_outputs() -> None:
    catalog = load_catalog(FIXTURE_CATALOG.parent / "outputs")
    rows, _ = plan_catalog(catalog)
    plans = {r.name: r for r in plan_routes(catalog, rows)}
    assert plans["critical"].outputs == ["l2-servicenow (servicenow)", "pagerduty (pagerduty)", "slack (slack)"]
    assert plans["warning"].outputs[-2:] == ["ops-hook (webhook)", "audit-hook (webhook)"]


def test_plan_prints_who_gets_what(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write(tmp_path, TREE, routing="first_match")
    assert plan_cmd.run(plan_cmd.argparse.Namespace(catalog=str(root), json=False, listing=None)) == 0
    out = capsys.readouterr().out
    assert "who gets what (routing: first_match)" in out
    assert "  critical: any team, any service, severities critical, and stops there (first match)" in out
    assert "    SMS:     oncall +447700900123" in out
    assert "    down: < 1 for 2 of 2 periods of 5m  → alarm after 4 period(s)" in out
    assert out.count("→ api-team, critical") == 1  # api-health has one signal, down
