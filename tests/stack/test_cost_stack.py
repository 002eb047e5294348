"""What plan prices and the runtime at scale, checked in the synthesized template: the alarms,
checker memory and reserved concurrency, each schedule's minute, and secret grants by prefix."""

from __future__ import annotations

import json

from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from conftest import SAMPLE, Synth, schedule_event

from infra.catalog import load_catalog
from infra.jitter import schedule_expression
from infra.plan import load_prices, plan_catalog
from infra.secret_arns import grant_secret_reads
from infra.sizing import checker_groups, checker_memory_mb, checker_timeout, reserved_concurrency

CATALOG = load_catalog(SAMPLE)


def test_plan_counts_the_templates_alarms(sample: Synth) -> None:
    _, totals = plan_catalog(CATALOG, load_prices())
    # Inhibition holds pages back in the notifier: no composite alarm to price.
    assert sample.of_type("AWS::CloudWatch::CompositeAlarm") == {}
    names = [a["Properties"]["AlarmName"] for a in sample.of_type("AWS::CloudWatch::Alarm").values()]
    # vigil's own alarms (vigil-<env>-self-...) are not a check's; a tag selector's checks count as found
    assert sum(1 for n in names if not n.startswith("vigil-demo-self-")) == totals.alarms


def _checker(sample: Synth, kind: str) -> dict:
    (props,) = [
        f["Properties"]
        for f in sample.of_type("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == f"vigil.checkers.{kind}.handler"
        and f["Properties"]["Description"].endswith("(public)")
    ]
    return props


def test_checker_memory_and_reserved_concurrency_follow_infra_sizing(sample: Synth) -> None:
    for (kind, placement), peers in checker_groups(CATALOG.checks).items():
        if placement != "public":
            continue
        props = _checker(sample, kind)
        assert props["MemorySize"] == checker_memory_mb(kind), kind
        assert props["ReservedConcurrentExecutions"] == reserved_concurrency(peers, checker_timeout(peers)), kind


def test_checkers_log_quietly_and_the_rest_log_everything(sample: Synth) -> None:
    # Lambda drops a checker's START/END/REPORT lines (INFO); a timeout shows in Errors and the failure queue:
    # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
    functions = sample.of_type("AWS::Lambda::Function").values()
    checkers = [f["Properties"] for f in functions if ".checkers." in str(f["Properties"].get("Handler"))]
    others = [f["Properties"] for f in functions if ".checkers." not in str(f["Properties"].get("Handler"))]
    assert checkers and others
    for props in checkers:
        assert props["LoggingConfig"] == {
            "LogFormat": "JSON",
            "SystemLogLevel": "WARN",
            "ApplicationLogLevel": "INFO",
            "LogGroup": props["LoggingConfig"]["LogGroup"],
        }, props["Handler"]
    # The notifier's and heartbeat's own lines are how an incident is traced: kept in full.
    for props in others:
        assert "LogFormat" not in props.get("LoggingConfig", {}), props.get("Handler")


def test_each_schedule_fires_at_its_checks_minute(sample: Synth) -> None:
    schedules = [s["Properties"] for s in sample.of_type("AWS::Scheduler::Schedule").values()]
    by_check = {schedule_event(s)["check"]["id"]: s["ScheduleExpression"] for s in schedules}
    assert by_check
    for check_id, expression in by_check.items():
        assert expression == schedule_expression(
            check_id, CATALOG.by_id(check_id).cadence, getattr(CATALOG.by_id(check_id), "timeout", 0)
        )
    assert any(e.startswith("cron(") for e in by_check.values())


def _secret_statements(refs: list[str]) -> list[dict]:
    stack = Stack(App(), "Grants")
    fn = lambda_.Function(
        stack,
        "Checker",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        handler="index.handler",
        runtime=lambda_.Runtime.PYTHON_3_12,
    )
    grant_secret_reads(fn, refs)
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_the_secret_policy_does_not_grow_with_the_catalog() -> None:
    few = _secret_statements([f"vigil/service-{i}/token" for i in range(3)])
    many = _secret_statements([f"vigil/service-{i}/token" for i in range(1_000)])
    assert few == many
    assert len(json.dumps(many)) < 1_000  # IAM's inline limit is 10,240 characters
    allow, deny = many
    assert (allow["Effect"], deny["Effect"]) == ("Allow", "Deny")
    assert json.dumps(allow["Resource"]).endswith(':secret:vigil/*"]]}')
    assert json.dumps(deny["Resource"]).endswith(':secret:vigil/heartbeat/*"]]}')  # job tokens stay out


def test_exceptions_are_listed_one_by_one() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared/db"
    _, _, listed = _secret_statements(["vigil/api/token", arn])
    assert listed["Resource"] == [arn, f"{arn}-??????"]
    assert _secret_statements([arn]) == [listed]  # no prefix grant when nothing is under the prefix
