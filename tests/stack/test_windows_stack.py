"""Maintenance windows and route outputs in the synthesized template.

moto models neither alarm mute rules nor IAM, so these tests walk the template and assert AWS's own
rules for AWS::CloudWatch::AlarmMuteRule (CloudWatch API reference, *MuteTargets* and *Schedule*:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MuteTargets.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Schedule.html): at most 100
alarm names per rule, each an alarm that exists; an expression `cron(Minutes Hours Day-of-month
Month Day-of-week)` with `*`, `-`, `,` and names, or `at(yyyy-MM-ddThh:mm)`, 1 to 256 characters;
a duration in ISO 8601 from PT1M to P15D; an IANA time zone.

The catalog is the general fixture catalog plus, in a temporary copy: a team window over every
service of team campaigns (more than 100 alarms once one more check is added, so it takes two
rules), a window over one check, and outputs on a route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import ENV, Synth

from infra import split
from infra.catalog import load_catalog
from infra.mute_rules import rule_name
from infra.notifications import NOTIFIER_HANDLER
from tests.support.catalogs import FIXTURE_CATALOG
from vigil.notifier.route_outputs import OUTPUT_SECRETS_ENV, ROUTE_OUTPUTS_ENV
from vigil.notifier.silencing import WINDOWS_ENV, windows_from
from vigil.silences.windows import MAX_ALARMS_PER_RULE

pytestmark = pytest.mark.slow

ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
_CRON = re.compile(r"^cron\([0-9A-Z*,-]+ [0-9A-Z*,-]+ [0-9A-Z*,-]+ [0-9A-Z*,-]+ [0-9A-Z*,-]+\)$")
_AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}\)$")
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")
STATUS_CHECKS = 25
OUTPUT_SECRETS = {
    "servicenow-api": "vigil/servicenow/api",
    "ops-webhook": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:vigil/ops-webhook-AbCdEf",
}


def windows_catalog(root: Path) -> Path:
    for path in FIXTURE_CATALOG.rglob("*"):
        if path.is_file():
            target = root / path.relative_to(FIXTURE_CATALOG)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    settings = yaml.safe_load((root / "_settings.yaml").read_text())
    settings["windows"] = {
        "sqlserver-patching": {
            "teams": ["campaigns"],
            "cron": "0 2 * * SUN",
            "duration": "2h",
            "timezone": "Europe/London",
        }
    }
    settings["secrets"].update(OUTPUT_SECRETS)
    settings["routes"]["campaigns-critical"]["outputs"] = [
        {"type": "servicenow", "instance": "https://acme.service-now.com", "credentials_secret": "servicenow-api"},
        {"type": "webhook", "name": "ops-hook", "credentials_secret": "ops-webhook"},
    ]
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    db = yaml.safe_load((root / "campaign-db.yaml").read_text())
    db["windows"] = {
        "db-reindex": {"start": "2099-12-24T22:00", "end": "2099-12-25T02:00", "checks": ["campaign-db-errors"]}
    }
    (root / "campaign-db.yaml").write_text(yaml.safe_dump(db, sort_keys=False))
    # Enough of the team's alarms (each http check has one, down) for the team window to need two rules.
    status = {
        "service": "status-page",
        "team": "campaigns",
        "checks": [
            {
                "id": f"status-page-health{suffix}",
                "kind": "http",
                "severity": "warning",
                "url": f"https://status.example.com/health{suffix}",
            }
            for suffix in ["", *(f"-{n}" for n in range(1, STATUS_CHECKS))]
        ],
    }
    (root / "status-page.yaml").write_text(yaml.safe_dump(status, sort_keys=False))
    return root


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return windows_catalog(tmp_path_factory.mktemp("catalog"))


@pytest.fixture(scope="module")
def synth(synthesize: Callable[[Path], Synth], catalog_dir: Path) -> Synth:
    return synthesize(catalog_dir)


def alarm_names(synth: Synth) -> dict[str, str]:
    """Logical id → AlarmName, for every alarm and composite alarm of the template."""
    return {lid: r["Properties"]["AlarmName"] for t in ALARM_TYPES for lid, r in synth.of_type(t).items()}


def targets(rule: dict, names: dict[str, str]) -> list[str]:
    """The alarm names a rule mutes: each a reference to an alarm of the template (or a literal name of one)."""
    found = []
    for entry in rule["Properties"]["MuteTargets"]["AlarmNames"]:
        name = names.get(entry["Ref"]) if isinstance(entry, dict) and set(entry) == {"Ref"} else entry
        assert name in names.values(), f"{entry} is not an alarm of the template"
        found.append(name)
    return found


def seconds(iso: str) -> int:
    match = _DURATION.match(iso)
    assert match and iso not in ("P", "PT"), iso
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60


def test_every_mute_rule_keeps_to_cloudwatchs_rules(synth: Synth) -> None:
    rules = synth.of_type("AWS::CloudWatch::AlarmMuteRule")
    assert len(rules) >= 3  # the walk found something: two rules for the team window, one for the check's
    names = alarm_names(synth)
    rule_names = [r["Properties"]["Name"] for r in rules.values()]
    assert len(set(rule_names)) == len(rule_names) and all(1 <= len(n) <= 255 for n in rule_names)
    for rule in rules.values():
        muted = targets(rule, names)
        assert 1 <= len(muted) <= MAX_ALARMS_PER_RULE == 100
        assert len(set(muted)) == len(muted)
        schedule = rule["Properties"]["Rule"]["Schedule"]
        assert len(schedule["Expression"]) <= 256
        assert _CRON.match(schedule["Expression"]) or _AT.match(schedule["Expression"]), schedule["Expression"]
        assert 60 <= seconds(schedule["Duration"]) <= 15 * 86400 and len(schedule["Duration"]) <= 50
        ZoneInfo(schedule["Timezone"])  # an IANA name (raises otherwise)


def test_a_team_window_mutes_each_alarm_of_the_teams_services_once_from_each_service_stack(
    synth: Synth, catalog_dir: Path
) -> None:
    catalog = load_catalog(catalog_dir)
    services = {c.service for c in catalog.checks if c.team == "campaigns"}
    names = alarm_names(synth)
    expected = {
        name
        for name in names.values()
        if any(name.startswith(f"vigil-{ENV}-{c.id}-") for c in catalog.checks if c.service in services)
    }
    assert len(expected) > MAX_ALARMS_PER_RULE  # more than one rule's worth, spread over the service stacks
    parts = {
        lid: r
        for lid, r in synth.of_type("AWS::CloudWatch::AlarmMuteRule").items()
        if r["Properties"]["Name"].startswith(f"vigil-{ENV}-window-sqlserver-patching-")
    }
    by_name = {r["Properties"]["Name"]: lid for lid, r in parts.items()}
    seen = 0
    for file_id, checks in split.by_service_file(catalog).items():
        part = 1
        while (lid := by_name.get(rule_name(ENV, "sqlserver-patching", file_id, part))) is not None:
            # In its own service file's stack, muting only that file's alarms.
            assert lid.startswith(f"Checks{file_id.replace('-', '')}NestedStack"), lid
            assert all(any(n.startswith(f"vigil-{ENV}-{c.id}-") for c in checks) for n in targets(parts[lid], names))
            seen, part = seen + 1, part + 1
    assert seen == len(parts) >= 2
    muted = [name for rule in parts.values() for name in targets(rule, names)]
    assert sorted(muted) == sorted(expected)  # each exactly once
    for rule in parts.values():
        assert rule["Properties"]["Rule"]["Schedule"] == {
            "Expression": "cron(0 2 * * SUN)",
            "Duration": "PT2H",
            "Timezone": "Europe/London",
        }


def test_a_checks_window_mutes_that_checks_alarms_only(synth: Synth) -> None:
    names = alarm_names(synth)
    by_name = {r["Properties"]["Name"]: r for r in synth.of_type("AWS::CloudWatch::AlarmMuteRule").values()}
    rule = by_name[rule_name(ENV, "db-reindex", "campaign-db", 1)]
    muted = targets(rule, names)
    assert muted and all(name.startswith(f"vigil-{ENV}-campaign-db-errors-") for name in muted)
    assert len(muted) == sum(1 for n in names.values() if n.startswith(f"vigil-{ENV}-campaign-db-errors-"))
    assert rule["Properties"]["Rule"]["Schedule"] == {
        "Expression": "at(2099-12-24T22:00)",
        "Duration": "PT4H",
        "Timezone": "UTC",
    }


def _notifier(synth: Synth) -> tuple[str, dict]:
    (found,) = [
        (lid, r)
        for lid, r in synth.of_type("AWS::Lambda::Function").items()
        if r["Properties"]["Handler"] == NOTIFIER_HANDLER
    ]
    return found


def test_the_notifier_gets_the_same_windows_and_the_routes_outputs(synth: Synth, catalog_dir: Path) -> None:
    variables = _notifier(synth)[1]["Properties"]["Environment"]["Variables"]
    assert windows_from(variables[WINDOWS_ENV]) == tuple(load_catalog(catalog_dir).windows)
    outputs = json.loads(variables[ROUTE_OUTPUTS_ENV])
    assert list(outputs) == ["campaigns-critical"]
    assert [o["type"] for o in outputs["campaigns-critical"]] == ["servicenow", "webhook"]
    assert json.loads(variables[OUTPUT_SECRETS_ENV]) == OUTPUT_SECRETS  # ids only: never a value
    assert sum(len(k) + len(json.dumps(v)) for k, v in variables.items()) < 4096  # Lambda's limit for all variables


def test_only_the_notifier_reads_the_outputs_secrets_and_nothing_else_of_secrets_manager(synth: Synth) -> None:
    notifier_role = _notifier(synth)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    # The stack's own acknowledgement-link key is read by reference (tests/stack/test_paging_stack.py).
    generated = [{"Ref": lid} for lid in synth.of_type("AWS::SecretsManager::Secret")]
    granted: dict[str, list] = {}
    for policy in synth.of_type("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "secretsmanager:GetSecretValue" in actions and statement["Resource"] not in generated:
                resources = (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
                for role in policy["Properties"]["Roles"]:
                    granted.setdefault(role["Ref"], []).extend(resources)
    notifier = granted[notifier_role]
    text = json.dumps(notifier)
    # vigil/servicenow/api through the vigil/ prefix (the Deny keeps job tokens out); the ARN, maybe
    # in another account, by itself and with the random suffix (infra.secret_convention)
    assert len(notifier) == 4
    assert text.count(":secret:vigil/*") == 1 and text.count(":secret:vigil/heartbeat/*") == 1
    assert OUTPUT_SECRETS["ops-webhook"] in notifier and OUTPUT_SECRETS["ops-webhook"] + "-??????" in notifier
    for role, resources in granted.items():
        if role != notifier_role:  # checkers read their own secrets, never the outputs'
            assert "servicenow" not in json.dumps(resources) and "ops-webhook" not in json.dumps(resources)


def test_no_finding_of_cdk_nag_is_left_unacknowledged(synth: Synth) -> None:
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []
