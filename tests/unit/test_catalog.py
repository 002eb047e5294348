"""The catalog: good catalogs load; each bad one fails with a message naming file, check, field and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from infra.__main__ import main
from infra.catalog import load_catalog
from infra.kinds import KINDS
from tests.support.catalogs import FIXTURE_CATALOG
from tests.support.catalogs import problem_lines as problems
from vigil.spec.common import Comparison, MissingData
from vigil.spec.sqs import SqsCheck

CHECKS = FIXTURE_CATALOG

SETTINGS = {
    "defaults": {"cadence": "1m"},
    "contacts": {
        "oncall": {"email": "oncall@example.com", "sms": "+447700900123"},
        "desk": {"email": "desk@example.com"},
    },
    "routes": {
        "crit": {"severities": ["critical"], "email": ["oncall"], "sms": ["oncall"]},
        "warn": {"severities": ["warning"], "email": ["desk"]},
    },
    "secrets": {"api-headers": "vigil/api/headers"},
    "self_monitoring_route": "crit",
}
HTTP = {"id": "api-health", "kind": "http", "severity": "critical", "url": "https://api.example.com/health"}
SQS = {"id": "orders-queue", "kind": "sqs", "severity": "warning", "queue": "orders", "dlq": "orders-dlq"}


def write_catalog(root: Path, checks: list, settings: dict | None = None, service: str = "api") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings if settings is not None else SETTINGS))
    (root / f"{service}.yaml").write_text(yaml.safe_dump({"service": service, "team": "core", "checks": checks}))
    return root


def test_sample_catalog_is_valid():
    catalog = load_catalog(CHECKS)
    assert {c.kind for c in catalog.checks} == set(KINDS), "the sample catalog shows every kind"
    assert all(catalog.routes_for(c) for c in catalog.checks)


def test_good_catalog_resolves_defaults_and_overrides(tmp_path):
    root = write_catalog(tmp_path, [HTTP, {**SQS, "alarms": {"backlog": {"threshold": 50}}}])
    catalog = load_catalog(root)
    http, sqs = catalog.by_id("api-health"), catalog.by_id("orders-queue")
    assert http.cadence == 60  # from settings defaults
    assert http.service == "api" and http.team == "core"  # from the file header
    backlog = sqs.rule("backlog")
    assert (backlog.threshold, backlog.comparison, backlog.evaluation_periods) == (50, Comparison.gt, 3)
    assert sqs.rule("dlq").threshold == 0
    down = http.rule("down")
    assert down.period == 60 and down.comparison is Comparison.lt  # checker rules follow the cadence
    assert down.missing_data is MissingData.breaching  # http's one alarm: a silent checker alarms
    assert catalog.routes_for(http) == ["crit"] and catalog.routes_for(sqs) == ["warn"]


def test_settings_alarm_window_applies_unless_the_check_overrides(tmp_path):
    settings = {**SETTINGS, "defaults": {"cadence": "5m", "alarm": {"evaluation_periods": 4, "datapoints_to_alarm": 2}}}
    root = write_catalog(
        tmp_path, [{**SQS, "alarms": {"age": {"evaluation_periods": 1, "datapoints_to_alarm": 1}}}], settings
    )
    check = load_catalog(root).by_id("orders-queue")
    assert (check.rule("backlog").evaluation_periods, check.rule("backlog").datapoints_to_alarm) == (4, 2)
    assert (check.rule("age").evaluation_periods, check.rule("age").datapoints_to_alarm) == (1, 1)


# Each case: how to break a valid catalog, and the fragments the one error line must contain.
BAD_CHECKS = [
    (
        "unknown-kind",
        [{**HTTP, "kind": "smtp"}],
        ["api.yaml", "check api-health", "kind", "'smtp'", ", ".join(sorted(KINDS))],
    ),
    ("missing-kind", [{k: v for k, v in HTTP.items() if k != "kind"}], ["check api-health", "kind", "found nothing"]),
    ("unknown-field", [{**HTTP, "colour": "red"}], ["check api-health", "colour", "unknown field"]),
    ("bad-id", [{**HTTP, "id": "API_Health"}], ["check API_Health", "id", "lowercase slug"]),
    (
        "bad-severity",
        [{**HTTP, "severity": "urgent"}],
        ["check api-health", "severity", "'urgent'", "allowed: 'critical' or 'warning'"],
    ),
    ("bad-url", [{**HTTP, "url": "ftp://host/x"}], ["check api-health", "url", "http:// or https://"]),
    ("missing-url", [{k: v for k, v in HTTP.items() if k != "url"}], ["check api-health", "url", "required"]),
    ("bad-cadence", [{**HTTP, "cadence": "5 minutes"}], ["check api-health", "cadence", "30s, 5m or 1h"]),
    ("cadence-too-long", [{**HTTP, "cadence": "2h"}], ["check api-health", "cadence", "1m to 1h"]),
    (
        "timeout-past-cadence",
        [{**HTTP, "cadence": "1m", "timeout": 60}],
        ["check api-health", "timeout", "shorter than the cadence"],
    ),
    ("bad-status", [{**HTTP, "expect_status": [200, 999]}], ["check api-health", "expect_status", "999"]),
    (
        "unknown-signal",
        [{**SQS, "alarms": {"backlogg": {"threshold": 5}}}],
        ["check orders-queue", "alarms", "backlogg", ", ".join(SqsCheck.signals)],
    ),
    (
        "m-greater-than-n",
        [{**SQS, "alarms": {"backlog": {"evaluation_periods": 2, "datapoints_to_alarm": 3}}}],
        ["check orders-queue", "alarms.backlog", "datapoints_to_alarm (3) must not exceed evaluation_periods (2)"],
    ),
    (
        "bad-comparison",
        [{**SQS, "alarms": {"age": {"comparison": "=>"}}}],
        ["check orders-queue", "alarms.age.comparison", "'=>'"],
    ),
    (
        "bad-missing-data",
        [{**SQS, "alarms": {"age": {"missing_data": "zero"}}}],
        ["alarms.age.missing_data", "'notBreaching'"],
    ),
    ("bad-queue", [{**SQS, "queue": "orders queue!"}], ["check orders-queue", "queue", "found 'orders queue!'"]),
    ("duplicate-id", [HTTP, {**SQS, "id": "api-health"}], ["check api-health", "id", "duplicate id"]),
    (
        "unknown-secret",
        [{**HTTP, "headers_secret": "nope"}],
        ["check api-health", "headers_secret", "unknown secret", "declared: api-headers"],
    ),
    ("check-not-a-mapping", ["just text"], ["api.yaml", "check #1", "expected a mapping, found text"]),
    ("service-per-check", [{**HTTP, "service": "other"}], ["check api-health", "service", "once per file"]),
    ("long-description", [{**HTTP, "description": "x" * 301}], ["check api-health", "description", "300"]),
    ("bad-runbook", [{**HTTP, "runbook": "wiki/page"}], ["check api-health", "runbook", "http:// or https://"]),
]


@pytest.mark.parametrize(("name", "checks", "fragments"), BAD_CHECKS, ids=[c[0] for c in BAD_CHECKS])
def test_bad_check_fails_with_a_clear_line(tmp_path, name, checks, fragments):
    found = problems(write_catalog(tmp_path, checks))
    assert any(all(f in line for f in fragments) for line in found), f"no line has {fragments}: {found}"


def _settings(**changes):
    return {**SETTINGS, **changes}


BAD_SETTINGS = [
    (
        "unknown-contact",
        _settings(routes={"crit": {"email": ["ghost"]}}),
        ["_settings.yaml", "routes.crit.email", "unknown contact 'ghost'"],
    ),
    (
        "contact-without-sms",
        _settings(routes={"crit": {"sms": ["desk"]}}, self_monitoring_route="crit"),
        ["routes.crit.sms", "contact 'desk' has no sms"],
    ),
    ("bad-phone", _settings(contacts={"oncall": {"sms": "07700 900123"}}), ["contacts.oncall.sms", "E.164"]),
    (
        "bad-email",
        _settings(contacts={"oncall": {"email": "not-an-address"}}),
        ["contacts.oncall.email", "e-mail address"],
    ),
    (
        "route-without-contacts",
        _settings(routes={"crit": {"severities": ["critical"]}}),
        ["routes.crit", "at least one contact"],
    ),
    (
        "unknown-self-route",
        _settings(self_monitoring_route="pager"),
        ["self_monitoring_route", "unknown route 'pager'"],
    ),
    ("settings-unknown-key", _settings(contact={}), ["_settings.yaml", "contact", "unknown field"]),
    (
        "no-route-for-check",
        _settings(routes={"crit": {"severities": ["critical"], "email": ["oncall"]}}),
        ["check orders-queue", "severity", "no route matches"],
    ),
]


@pytest.mark.parametrize(("name", "settings", "fragments"), BAD_SETTINGS, ids=[c[0] for c in BAD_SETTINGS])
def test_bad_settings_fail_with_a_clear_line(tmp_path, name, settings, fragments):
    found = problems(write_catalog(tmp_path, [HTTP, SQS], settings))
    assert any(all(f in line for f in fragments) for line in found), f"no line has {fragments}: {found}"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("service: api\nchecks: [\n", ["api.yaml:3: ", "malformed YAML: while parsing a flow node at line 3"]),
        ("- a\n- b\n", ["api.yaml", "expected a mapping with service and checks, found a list"]),
        ("", ["api.yaml", "empty file"]),
        ("service: api\nchecks: {id: x}\n", ["api.yaml", "checks", "list"]),
        ("service: api\nchecks: []\nowner: me\n", ["api.yaml", "owner", "unknown field"]),
    ],
    ids=["malformed-yaml", "list-at-top", "empty-file", "checks-not-a-list", "unknown-file-key"],
)
def test_bad_service_file_fails_with_a_clear_line(tmp_path, text, fragments):
    write_catalog(tmp_path, [HTTP])
    (tmp_path / "api.yaml").write_text(text)
    found = problems(tmp_path)
    assert any(all(f in line for f in fragments) for line in found), f"no line has {fragments}: {found}"


def test_missing_settings_file_is_reported(tmp_path):
    write_catalog(tmp_path, [HTTP])
    (tmp_path / "_settings.yaml").unlink()
    assert any("_settings.yaml" in line and "missing" in line for line in problems(tmp_path))


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    found = problems(write_catalog(tmp_path, [{**HTTP, "kind": "smtp"}, {**SQS, "severity": "urgent"}]))
    assert len(found) == 2


def test_validate_command_exit_codes_and_output(tmp_path, capsys):
    assert main(["validate", str(CHECKS)]) == 0
    assert "ok:" in capsys.readouterr().out
    bad = write_catalog(tmp_path / "bad", [{**HTTP, "kind": "smtp"}])
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "error:" in out and "Traceback" not in out and "allowed kinds" in out


def test_validate_never_tracebacks_on_a_directory_that_is_not_there(capsys):
    assert main(["validate", "/nonexistent/catalog"]) == 1
    assert "no such catalog directory" in capsys.readouterr().out


def test_committed_json_schema_is_current(capsys):
    assert main(["schema", "--check"]) == 0, capsys.readouterr().out


def test_json_schema_accepts_the_sample_catalog():
    jsonschema = pytest.importorskip("jsonschema")
    root = Path(__file__).resolve().parents[2]
    service = yaml.safe_load((root / "schema" / "service.schema.json").read_text())
    for path in CHECKS.glob("*.yaml"):
        if path.name != "_settings.yaml":
            jsonschema.validate(yaml.safe_load(path.read_text()), service)


def test_copying_the_sample_catalog_keeps_it_valid(tmp_path):
    shutil.copytree(CHECKS, tmp_path / "catalog")
    assert load_catalog(tmp_path / "catalog").checks


def test_hidden_files_in_the_catalog_are_not_read(tmp_path, capsys):
    """`run`'s local secrets file beside the catalog is no service file: never read, never quoted."""
    root = tmp_path / "catalog"
    shutil.copytree(CHECKS, root)
    expected = {c.id for c in load_catalog(root).checks}
    (root / ".vigil-secrets.yaml").write_text('campaign-db-readonly: {password: "hunter2"}\n')
    (root / ".backup").mkdir()
    (root / ".backup" / "orders.yaml").write_text((root / "orders.yaml").read_text())  # duplicate ids if read
    (root / "tests" / ".draft.yaml").write_text("tests: [{check: nowhere}]\n")

    assert {c.id for c in load_catalog(root).checks} == expected
    assert main(["validate", str(root)]) == 0
    assert main(["test-alarms", str(root)]) == 0
    assert "hunter2" not in capsys.readouterr().out


def test_a_signal_with_its_own_severity_needs_a_route_of_that_severity(tmp_path):
    # The sqlserver preset's I/O-error patterns are critical though the check is a warning:
    # with only a warning route, nobody would hear them.
    only_warning = {**SETTINGS, "routes": {"warn": SETTINGS["routes"]["warn"]}, "self_monitoring_route": "warn"}
    errors = {
        "id": "db-errors",
        "kind": "log_pattern",
        "severity": "warning",
        "log_group": "/aws/rds/x/error",
        "preset": "sqlserver",
    }
    root = write_catalog(tmp_path, [errors], only_warning)

    (line,) = problems(root)

    assert "check db-errors" in line and "no route matches" in line and "severity 'critical'" in line


def test_the_settings_alarm_window_never_names_a_signal_on_the_checks_behalf(tmp_path):
    # The window goes to the signals a check has; naming the others under `alarms` would switch on
    # opt-in ones (sqs drain_time, dlq_age) or be refused (an sqs dlq without a DLQ, amazonmq memory
    # without a threshold, an elasticsearch aggregate without an aggregation).
    settings = {**SETTINGS, "defaults": {"cadence": "5m", "alarm": {"evaluation_periods": 4, "datapoints_to_alarm": 2}}}
    no_dlq = {k: v for k, v in SQS.items() if k != "dlq"}
    broker = {"id": "broker", "kind": "amazonmq", "severity": "warning", "broker": "shop"}
    search = {"id": "errors", "kind": "elasticsearch", "severity": "warning", "url": "https://es.example.com"}
    catalog = load_catalog(write_catalog(tmp_path, [no_dlq, broker, {**search, "index": "logs-*"}], settings))
    queue = catalog.by_id("orders-queue")
    assert queue.active_signals() == ["backlog", "age"]
    assert (queue.rule("backlog").evaluation_periods, queue.rule("backlog").datapoints_to_alarm) == (4, 2)
    assert "memory" not in catalog.by_id("broker").active_signals()
    assert catalog.by_id("broker").rule("disk").evaluation_periods == 4
    assert catalog.by_id("errors").active_signals() == ["count", "measure"]
    assert catalog.by_id("errors").rule("count").evaluation_periods == 4
