"""`paging` in _settings.yaml and the routes' repeat_every / escalate_to: the policy the notifier receives,
and clear errors for escalations that cannot work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.catalog import load_catalog
from infra.paging_config import paging_policy
from tests.support.catalogs import has_problem, problem_lines, write_catalog

CONTACTS = {"oncall": {"email": "oncall@example.com"}, "boss": {"email": "boss@example.com"}}
CHECKS = [{"id": "api-health", "kind": "http", "severity": "critical", "url": "https://api.example.com/health"}]


def write(tmp_path: Path, routes: dict[str, Any], **more: Any) -> Path:
    root = write_catalog(tmp_path, CHECKS)
    settings = {"contacts": CONTACTS, "routes": routes, "self_monitoring_route": next(iter(routes)), **more}
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return root


def policy_of(tmp_path: Path, routes: dict[str, Any], **more: Any) -> dict[str, Any]:
    return paging_policy(load_catalog(write(tmp_path, routes, **more)).settings).model_dump(exclude_defaults=True)


def test_by_default_critical_alarms_repeat_every_30_minutes_and_warnings_never(tmp_path: Path) -> None:
    routes = {
        "critical": {"severities": ["critical"], "email": ["oncall"]},
        "warning": {"severities": ["warning"], "email": ["oncall"]},
    }
    assert policy_of(tmp_path, routes) == {"routes": {"critical": {"repeat_every": {"critical": 1800}}}}


def test_a_route_overrides_the_interval_per_severity_and_null_turns_repeats_off(tmp_path: Path) -> None:
    routes = {
        "fast": {"email": ["oncall"], "repeat_every": {"critical": "10m", "warning": "2h"}},
        "quiet": {"email": ["boss"], "repeat_every": {"critical": None}},
    }
    assert policy_of(tmp_path, routes, paging={"max_repeats": 3}) == {
        "max_repeats": 3,
        "routes": {"fast": {"repeat_every": {"critical": 600, "warning": 7200}}},
    }


def test_an_escalation_names_its_route_and_delay(tmp_path: Path) -> None:
    routes = {
        "oncall": {"email": ["oncall"], "escalate_to": "boss", "escalate_after": "20m"},
        "boss": {"email": ["boss"], "repeat_every": {"critical": None}},
    }
    assert policy_of(tmp_path, routes)["routes"] == {
        "oncall": {"repeat_every": {"critical": 1800}, "escalate_to": "boss", "escalate_after": 1200}
    }


def test_an_escalation_to_an_unknown_route_or_to_itself_is_refused_with_its_field(tmp_path: Path) -> None:
    found = problem_lines(write(tmp_path, {"oncall": {"email": ["oncall"], "escalate_to": "bosss"}}))
    assert has_problem(found, "routes.oncall.escalate_to", "unknown route 'bosss'", "routes: oncall")
    found = problem_lines(write(tmp_path, {"oncall": {"email": ["oncall"], "escalate_to": "oncall"}}))
    assert has_problem(found, "routes.oncall.escalate_to", "cannot escalate to itself")


def test_a_bad_interval_says_what_is_allowed(tmp_path: Path) -> None:
    found = problem_lines(
        write(tmp_path, {"oncall": {"email": ["oncall"]}}, paging={"repeat_every": {"critical": "soon"}})
    )
    assert has_problem(found, "paging.repeat_every.critical", "not a duration")
