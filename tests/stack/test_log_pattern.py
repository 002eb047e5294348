"""Kind log_pattern in the sample stack: a metric filter and an alarm per pattern, named, routed by severity."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLE, Synth

from infra.catalog import load_catalog
from vigil.alarm_meta import alarm_name, decode_description
from vigil.spec.log_pattern import LogPatternCheck

pytestmark = pytest.mark.slow
ENV = "demo"
CATALOG = load_catalog(SAMPLE)
CHECK = CATALOG.by_id("campaign-db-errors")
assert isinstance(CHECK, LogPatternCheck)
PATTERNS = CHECK.all_patterns()


def _filters(sample: Synth) -> dict[str, dict]:
    found = [f["Properties"] for f in sample.of_type("AWS::Logs::MetricFilter").values()]
    return {f["FilterName"]: f for f in found if f["LogGroupName"] == CHECK.log_group}


def _alarms(sample: Synth) -> dict[str, dict]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in sample.of_type("AWS::CloudWatch::Alarm").values()}


def test_a_metric_filter_per_pattern_on_the_existing_log_group(sample: Synth) -> None:
    filters = _filters(sample)
    assert len(filters) == len(PATTERNS) == 7  # six from the sqlserver preset, one of the check's own
    for p in PATTERNS:
        props = filters[alarm_name(ENV, CHECK.id, p.name)]
        assert props["FilterPattern"] == p.pattern
        assert props["MetricTransformations"] == [
            {
                "MetricNamespace": "Vigil/Logs",
                "MetricName": f"{CHECK.id}.{p.name}",
                "MetricValue": "1",
                "DefaultValue": 0,
            }
        ]
    created = [g["Properties"].get("LogGroupName") for g in sample.of_type("AWS::Logs::LogGroup").values()]
    assert CHECK.log_group not in created  # the database's log group is imported, never created


def test_an_alarm_per_pattern_counts_matches_over_its_window(sample: Synth) -> None:
    alarms = _alarms(sample)
    for p in PATTERNS:
        props = alarms[alarm_name(ENV, CHECK.id, p.name)]
        rule = CHECK.rule(p.name)
        assert (props["Namespace"], props["MetricName"]) == ("Vigil/Logs", f"{CHECK.id}.{p.name}")
        assert "Dimensions" not in props
        assert (props["Statistic"], props["Period"], props["Threshold"]) == ("Sum", rule.period, rule.threshold)
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (1, 1)
        assert props["TreatMissingData"] == "notBreaching"
    assert alarms[alarm_name(ENV, CHECK.id, "login-failures")]["Threshold"] == 20  # the catalog's override


def test_each_alarm_carries_its_patterns_severity_explanation_and_routes(sample: Synth) -> None:
    alarms = _alarms(sample)
    expected_routes = {"critical": ["campaigns-critical", "platform-critical"], "warning": ["campaigns-warning"]}
    seen = set()
    for p in PATTERNS:
        _, meta = decode_description(alarms[alarm_name(ENV, CHECK.id, p.name)]["AlarmDescription"])
        severity = (p.severity or CHECK.severity).value
        assert meta is not None and (meta.check, meta.signal, meta.kind) == (CHECK.id, p.name, "log_pattern")
        assert (meta.severity, meta.summary) == (severity, p.explain)
        assert meta.routes == expected_routes[severity]
        seen.add(severity)
    assert seen == {"critical", "warning"}  # the sample exercises both


def test_no_lambda_or_schedule_runs_for_it(sample: Synth) -> None:
    schedules = json.dumps(sample.of_type("AWS::Scheduler::Schedule"))
    functions = json.dumps(sample.of_type("AWS::Lambda::Function"))
    assert CHECK.id not in schedules and "log_pattern" not in functions
