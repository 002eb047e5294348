"""A team's catalog meets `make test` only through `make check-catalog`: validate, test-alarms, synth.

The scenario of issue 10: a team adds seven checks (five kinds, one of them in a new service file,
with its own route, secret and alarm tests) to the catalog as shipped, and the Makefile's own
entry point, pointed at that copy with CATALOG=, passes. The copy starts from the fixture catalog
(the sample as shipped), not from checks/: a test that read the user's live catalog could be
broken by it, which is what this issue removes (tests/support/catalog_guard.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra import assembly
from infra.catalog import load_catalog
from tests.support.catalogs import FIXTURE_CATALOG, REPO_ROOT

pytestmark = pytest.mark.slow

# Targets that install (pip, npm) are taken as done: `make test` made them before pytest ran.
MAKE = ["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "node_modules/.installed"]
VPC = {
    "vpc_id": "vpc-0b1c2d3e4f5061728",
    "subnet_ids": ["subnet-0b1c2d3e4f5061728"],
    "security_group_ids": ["sg-0b1c2d3e4f5061728"],
}

BILLING = {
    "service": "billing",
    "team": "billing",
    "checks": [
        {
            "id": "billing-api-health",
            "kind": "http",
            "severity": "critical",
            "description": "Public health endpoint of the billing API.",
            "runbook": "https://wiki.example.com/runbooks/billing#health",
            "url": "https://billing.example.com/health",
            "json_assert": {"path": "status", "equals": "ok"},
        },
        {
            "id": "billing-invoices-queue",
            "kind": "sqs",
            "severity": "critical",
            "description": "Invoices waiting for the invoice renderer.",
            "runbook": "https://wiki.example.com/runbooks/billing#invoices",
            "queue": "billing-invoices",
            "dlq": "billing-invoices-dlq",
            "alarms": {"backlog": {"threshold": 200}},
        },
        {
            "id": "billing-db-instance",
            "kind": "rds",
            "severity": "warning",
            "description": "CPU, storage and latency of the billing PostgreSQL instance.",
            "runbook": "https://wiki.example.com/runbooks/billing#db",
            "instance": "billing-pg",
        },
        {
            "id": "billing-invoices-unsent",
            "kind": "sql",
            "severity": "warning",
            "cadence": "5m",
            "description": "Invoices issued more than an hour ago and still not sent.",
            "runbook": "https://wiki.example.com/runbooks/billing#unsent",
            "engine": "postgresql",
            "secret": "billing-db-readonly",
            "query": "SELECT count(*) FROM invoices WHERE sent_at IS NULL AND issued_at < now() - interval '1 hour'",
            "vpc": VPC,
            "alarms": {"value": {"threshold": 25}},
        },
        {
            "id": "billing-api-error-logs",
            "kind": "log_pattern",
            "severity": "warning",
            "description": "Payment-provider failures in the billing API's log.",
            "runbook": "https://wiki.example.com/runbooks/billing#provider",
            "log_group": "/ecs/billing-api",
            "patterns": [
                {
                    "name": "provider-timeout",
                    "pattern": '"payment provider" "timed out"',
                    "explain": "the provider did not answer",
                },
                {
                    "name": "card-declined-burst",
                    "pattern": '"card_declined"',
                    "explain": "declines above the usual rate",
                },
            ],
            "alarms": {"card-declined-burst": {"threshold": 30}},
        },
    ],
}
# Two more in the existing service files: a status page and a refunds queue.
CAMPAIGN_API = {
    "id": "campaign-api-status-page",
    "kind": "http",
    "severity": "warning",
    "cadence": "5m",
    "description": "The public status page of the campaign platform.",
    "runbook": "https://wiki.example.com/runbooks/campaign-api#status-page",
    "url": "https://status.campaigns.example.com/",
}
ORDERS = {
    "id": "orders-refunds-queue",
    "kind": "sqs",
    "severity": "warning",
    "description": "Refunds waiting for the payments worker.",
    "runbook": "https://wiki.example.com/runbooks/orders#refunds",
    "queue": "campaign-orders-refunds",
    "dlq": "campaign-orders-refunds-dlq",
}
BILLING_TESTS = {
    "tests": [
        {
            "check": "billing-api-health",
            "signal": "down",
            "values": "1 0 0 1",
            "expect": {1: "OK", 2: "ALARM", 3: "OK"},
        },
        {
            "check": "billing-invoices-queue",
            "signal": "backlog",
            "values": "10 250x3 10",
            "expect": {2: "OK", 3: "ALARM", 4: "OK"},
        },
    ]
}
NEW_IDS = {c["id"] for c in BILLING["checks"]} | {CAMPAIGN_API["id"], ORDERS["id"]}


def _append(service_file: Path, check: dict) -> None:
    data = yaml.safe_load(service_file.read_text())
    data["checks"].append(check)
    service_file.write_text(yaml.safe_dump(data, sort_keys=False))


def _grown_catalog(root: Path) -> Path:
    shutil.copytree(FIXTURE_CATALOG, root)
    settings = yaml.safe_load((root / "_settings.yaml").read_text())
    settings["contacts"]["billing-oncall"] = {"email": "billing-oncall@example.com"}
    settings["routes"]["billing-warning"] = {
        "teams": ["billing"],
        "severities": ["warning"],
        "email": ["billing-oncall"],
    }
    settings["secrets"]["billing-db-readonly"] = "vigil/billing/db-readonly"
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    (root / "billing.yaml").write_text(yaml.safe_dump(BILLING, sort_keys=False))
    (root / "tests" / "billing.yaml").write_text(yaml.safe_dump(BILLING_TESTS, sort_keys=False))
    _append(root / "campaign-api.yaml", CAMPAIGN_API)
    _append(root / "orders.yaml", ORDERS)
    return root


def _check_catalog(catalog: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAKE, "check-catalog", f"CATALOG={catalog}", f"CDK_OUT={out}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_seven_new_checks_pass_validate_alarm_tests_and_synth(tmp_path: Path) -> None:
    catalog = _grown_catalog(tmp_path / "catalog")
    shipped = {c.id for c in load_catalog(FIXTURE_CATALOG).checks}
    grown = load_catalog(catalog)
    assert {c.id for c in grown.checks} - shipped == NEW_IDS and len(NEW_IDS) == 7
    assert {c.kind for c in grown.checks if c.id in NEW_IDS} == {"http", "sqs", "rds", "sql", "log_pattern"}

    run = _check_catalog(catalog, tmp_path / "cdk.out")

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert f"ok: {len(grown.checks)} checks" in run.stdout  # validate, on the copy
    assert "FAILED" not in run.stdout and "ok: " in run.stdout.split("test-alarms", 1)[1]
    template = assembly.merged(tmp_path / "cdk.out", "Vigil-demo")  # the core and every service stack
    alarms = {
        r["Properties"].get("AlarmName")
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    for name in [
        "billing-api-health-down",
        "billing-invoices-queue-backlog",
        "billing-api-error-logs-provider-timeout",
        "billing-invoices-unsent-value",
        "billing-db-instance-cpu",
        "campaign-api-status-page-down",
        "orders-refunds-queue-dlq",
    ]:
        assert f"vigil-demo-{name}" in alarms, name


def test_a_broken_new_check_fails_the_same_entry_point_with_its_line(tmp_path: Path) -> None:
    catalog = _grown_catalog(tmp_path / "catalog")
    _append(catalog / "billing.yaml", {**CAMPAIGN_API, "id": "billing-status", "severity": "urgent"})

    run = _check_catalog(catalog, tmp_path / "cdk.out")

    assert run.returncode != 0
    assert re.search(r"billing\.yaml:\d+: check billing-status: severity: found 'urgent'", run.stdout), run.stdout
    assert not (tmp_path / "cdk.out").exists()  # stopped at validate, before synth


def test_make_test_gives_the_catalog_only_validate_alarm_tests_and_synth() -> None:
    dry = subprocess.run(
        [*MAKE, "-n", "test", "CATALOG=/team/catalog"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [line for line in dry if "/team/catalog" in line] == [
        ".venv/bin/python -m infra validate /team/catalog",
        ".venv/bin/python -m infra test-alarms /team/catalog",
        "node_modules/.bin/cdk synth --no-notices -q -c catalog=/team/catalog -o cdk.out",
    ]
    assert not [line for line in dry if "checks" in line], "make test names the default catalog directly"
    assert any(line.endswith("-m pytest") for line in dry)
