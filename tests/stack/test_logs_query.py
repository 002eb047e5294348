"""Kind logs_query in the sample stack: its schedule, its alarms, and StartQuery on exactly its log groups."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLE, Synth, schedule_event

from infra.catalog import load_catalog
from infra.jitter import schedule_expression
from vigil.alarm_meta import alarm_name, decode_description
from vigil.spec.logs_query import LogsQueryCheck

pytestmark = pytest.mark.slow
ENV = "demo"
CATALOG = load_catalog(SAMPLE)
CHECK = CATALOG.by_id("campaign-api-errors")
assert isinstance(CHECK, LogsQueryCheck)


def _alarms(sample: Synth) -> dict[str, dict]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in sample.of_type("AWS::CloudWatch::Alarm").values()}


def _query_statements(sample: Synth) -> list[dict]:
    return [
        s
        for p in sample.of_type("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if any(
            a.startswith("logs:") and "Query" in a
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        )
    ]


def _arn_text(resource: object) -> str:
    """An ARN built with Fn::Join, as one string with the pseudo parameters named."""
    if isinstance(resource, str):
        return resource
    parts = resource["Fn::Join"][1]  # type: ignore[index]
    return "".join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)


def test_the_value_alarm_compares_the_query_number_per_cadence(sample: Synth) -> None:
    props = _alarms(sample)[alarm_name(ENV, CHECK.id, "value")]
    assert (props["Namespace"], props["MetricName"]) == ("Vigil", "QueryValue")
    assert props["Dimensions"] == [{"Name": "Check", "Value": CHECK.id}]
    assert (props["Threshold"], props["ComparisonOperator"]) == (10, "GreaterThanOrEqualToThreshold")
    assert (props["Period"], props["Statistic"]) == (CHECK.cadence, "Maximum")
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"], props["TreatMissingData"]) == (1, 1, "ignore")
    _, meta = decode_description(props["AlarmDescription"])
    assert meta is not None and (meta.check, meta.signal, meta.kind) == (CHECK.id, "value", "logs_query")
    assert meta.routes == ["campaigns-warning"]
    measure = _alarms(sample)[alarm_name(ENV, CHECK.id, "measure")]
    assert (measure["MetricName"], measure["TreatMissingData"]) == ("MeasureFailed", "breaching")


def test_start_query_is_granted_on_the_checks_log_groups_only(sample: Synth) -> None:
    statements = _query_statements(sample)
    start = [s for s in statements if s["Action"] == "logs:StartQuery"]
    assert len(start) == 1
    arns = {_arn_text(r) for r in start[0]["Resource"]}
    base = "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
    assert arns == {f"{base}{g}{suffix}" for g in CHECK.log_groups for suffix in ("", ":*")}
    # The by-id actions take no resource-level permissions; they are all a checker gets on "*".
    rest = [s for s in statements if s is not start[0]]
    assert [(sorted(s["Action"]), s["Resource"]) for s in rest] == [(["logs:GetQueryResults", "logs:StopQuery"], "*")]


def test_the_grant_is_in_the_services_access_role_which_the_schedule_names_and_waits_for(sample: Synth) -> None:
    policies = {
        k: p
        for k, p in sample.of_type("AWS::IAM::Policy").items()
        if "logs:StartQuery" in json.dumps(p["Properties"]["PolicyDocument"])
    }
    ((policy_id, policy),) = policies.items()
    ((schedule_id, schedule),) = [
        (k, s)
        for k, s in sample.of_type("AWS::Scheduler::Schedule").items()
        if schedule_event(s["Properties"])["check"]["id"] == CHECK.id
    ]
    (role,) = [r["Ref"] for r in policy["Properties"]["Roles"]]
    assert schedule_event(schedule["Properties"])["access_role"] == f"<{role}.Arn>"
    # In the check's own service stack (the merged view prefixes a nested resource with its stack).
    assert role.split(".")[0] == schedule_id.split(".")[0] == policy_id.split(".")[0]
    assert policy_id in schedule["DependsOn"]


def test_the_schedule_carries_the_spec_the_checker_accepts(sample: Synth) -> None:
    (schedule,) = [
        s["Properties"]
        for s in sample.of_type("AWS::Scheduler::Schedule").values()
        if schedule_event(s["Properties"])["check"]["id"] == CHECK.id
    ]
    event = schedule_event(schedule)
    assert LogsQueryCheck.model_validate(event["check"]) == CHECK
    assert event["secrets"] == {}
    assert schedule["ScheduleExpression"] == schedule_expression(
        CHECK.id, 300, CHECK.timeout
    )  # every 5 minutes, own minute
