"""Outputs in _settings.yaml: per route, credentials only by reference, every mistake on one clear line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from vigil.outputs import OUTPUT_TYPES, build_outputs
from vigil.outputs.config import OUTPUT_TYPE_NAMES, PagerDutyOutput, ServiceNowOutput

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "tests" / "fixtures" / "outputs"
SETTINGS_SCHEMA = json.loads((ROOT / "schema" / "settings.schema.json").read_text())


def settings_data() -> dict[str, Any]:
    return yaml.safe_load((CATALOG / "_settings.yaml").read_text())


def problems_with(tmp_path: Path, settings: dict[str, Any]) -> list[str]:
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings))
    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    return [str(p) for p in caught.value.problems]


def test_routes_with_every_output_type_load() -> None:
    routes = load_catalog(CATALOG).settings.routes
    critical, warning = routes["critical"].outputs, routes["warning"].outputs
    assert [o.label for o in critical] == ["l2-servicenow", "pagerduty", "slack"]
    assert [o.label for o in warning] == ["servicenow", "teams", "ops-hook", "audit-hook"]
    snow = critical[0]
    assert isinstance(snow, ServiceNowOutput)
    assert (snow.auth, snow.close_code) == ("basic", "Resolved by caller")
    assert (snow.severity_map["critical"].impact, snow.severity_map["critical"].urgency) == (2, 1)
    assert snow.fields["assignment_group"] == "L2 Operations"
    assert isinstance(critical[1], PagerDutyOutput) and critical[1].region == "eu"
    assert set(OUTPUT_TYPE_NAMES) == set(OUTPUT_TYPES)


def test_the_notifier_builds_outputs_from_the_same_models() -> None:
    routes = load_catalog(CATALOG).settings.routes
    built = build_outputs(routes["warning"].outputs, lambda name: {})
    assert [(o.name, o.type) for o in built] == [
        ("servicenow", "servicenow"),
        ("teams", "teams"),
        ("ops-hook", "webhook"),
        ("audit-hook", "webhook"),
    ]


def test_committed_settings_schema_accepts_the_outputs() -> None:
    jsonschema.validate(settings_data(), SETTINGS_SCHEMA)
    bad = settings_data()
    bad["routes"]["critical"]["outputs"][0]["type"] = "jira"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SETTINGS_SCHEMA)


def _edit(path: str, value: Any) -> dict[str, Any]:
    """The fixture's settings with one value replaced: path like 'critical.0.instance'."""
    data = settings_data()
    route, index, key = path.split(".")
    data["routes"][route]["outputs"][int(index)][key] = value
    return data


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            _edit("critical.2.credentials_secret", "slack-typo"),
            "routes.critical.outputs.2.credentials_secret: unknown secret: no entry of that name under secrets in "
            "_settings.yaml (declared: ops-webhook, pagerduty-campaigns, servicenow-api, slack-oncall, teams-l2); "  # as safe_dump sorts them
            "the name found is not shown",
        ),
        (
            _edit("critical.2.type", "slak"),
            "routes.critical.outputs.2: type: found 'slak'; allowed: servicenow, pagerduty, slack, teams, webhook",
        ),
        (
            _edit("critical.0.instance", "http://acme.service-now.com"),
            "routes.critical.outputs.0.servicenow.instance: found 'http://acme.service-now.com'; "
            "allowed: an https:// URL such as https://acme.service-now.com",
        ),
        (
            _edit("critical.0.instance", "https://acme.service-now.com/api/now"),
            "allowed: the instance's base URL only",
        ),
        (
            _edit("critical.0.instance", "https://admin:pw@acme.service-now.com"),
            "must not carry credentials (user:password@): put them in the credentials secret",
        ),
        (
            _edit("critical.0.fields", {"correlation_id": "x"}),
            "routes.critical.outputs.0.servicenow.fields: 'correlation_id' is set by vigil itself",
        ),
        (
            _edit("critical.0.severity_map", {"critical": {"impact": 1, "urgency": 1}}),
            "routes.critical.outputs.0.servicenow.severity_map: missing warning: map every severity",
        ),
        (
            _edit("critical.1.severity_map", {"critical": "page", "warning": "warning"}),
            "routes.critical.outputs.1.pagerduty.severity_map.critical: found 'page'; allowed: 'critical', 'error', "
            "'warning' or 'info'",
        ),
        (
            _edit("critical.2.url", "https://hooks.slack.com/services/T/B/X"),
            "routes.critical.outputs.2.slack.url: unknown field",
        ),
        (
            _edit("warning.3.name", "ops-hook"),
            "routes.warning.outputs: two outputs are named 'ops-hook': give each a distinct name (name: defaults to "
            "the type)",
        ),
    ],
    ids=[
        "unknown-secret",
        "unknown-type",
        "plain-http-instance",
        "instance-with-path",
        "instance-with-credentials",
        "managed-field",
        "severity-missing",
        "pagerduty-severity",
        "webhook-url-in-catalog",
        "duplicate-name",
    ],
)
def test_bad_outputs_fail_with_a_clear_line(tmp_path: Path, settings: dict[str, Any], expected: str) -> None:
    found = problems_with(tmp_path, settings)
    assert len(found) == 1, found
    # file:line of the output (or its field) in the settings, then the field's path and the rule.
    where = re.escape(str(tmp_path / "catalog" / "_settings.yaml"))
    assert re.match(rf"{where}:\d+: routes\.", found[0]), found[0]
    assert expected in found[0], found[0]
    assert "slack-typo" not in found[0]


def test_a_route_may_deliver_by_outputs_alone(tmp_path: Path) -> None:
    data = settings_data()
    del data["routes"]["warning"]["email"]
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    (root / "_settings.yaml").write_text(yaml.safe_dump(data))

    warning = load_catalog(root).settings.routes["warning"]

    assert (warning.email, warning.sms) == ([], [])
    assert [o.label for o in warning.outputs] == ["servicenow", "teams", "ops-hook", "audit-hook"]


def test_a_route_that_delivers_to_no_one_is_refused(tmp_path: Path) -> None:
    data = settings_data()
    data["routes"]["warning"] = {"severities": ["warning"]}

    (line,) = problems_with(tmp_path, data)

    assert re.match(rf"{re.escape(str(tmp_path / 'catalog' / '_settings.yaml'))}:\d+: routes\.warning: ", line), line
    assert line.endswith(
        "a route delivers to no one: give it at least one contact under email or sms, or an entry under outputs"
    ), line


def test_the_self_monitoring_route_needs_people_not_only_outputs(tmp_path: Path) -> None:
    data = settings_data()
    for channel in ("email", "sms"):
        del data["routes"]["critical"][channel]

    (line,) = problems_with(tmp_path, data)

    assert "_settings.yaml:" in line and ": self_monitoring_route: route 'critical' has no email or sms contact" in line
