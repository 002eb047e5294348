"""Kinds `sql` and `rds` as synthesized: every alarm (name, metric or expression, rule, actions,
AlarmMeta trailer), the sql checker's VPC placement, secret grant and schedule input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import ENV, SAMPLE, Synth, assert_reads_catalog_secrets_by_prefix, schedule_event, secret_statements

from infra.jitter import schedule_expression
from vigil.alarm_meta import alarm_name, decode_description
from vigil.notifier.events import parse_alarm, split_event
from vigil.notifier.render import render_sms, render_subject
from vigil.spec.sql import SqlCheck

pytestmark = pytest.mark.slow

HANDLER = "vigil.checkers.sql.handler"
SECRET = "vigil/campaign-db/readonly"
VPC = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "security_group_ids": ["sg-0123456789abcdef0"],
}
CHECKS = [
    {
        "id": "failed-jobs",
        "kind": "sql",
        "severity": "critical",
        "cadence": "5m",
        "engine": "postgresql",
        "secret": "campaign-db",
        "query": "SELECT count(*) FROM jobs WHERE status = 'failed' AND finished_at > now() - interval '1 hour'",
        "timeout": 20,
        "vpc": VPC,
        "alarms": {"value": {"threshold": 3, "comparison": ">="}},
    },
    {
        "id": "sends-fresh",
        "kind": "sql",
        "severity": "warning",
        "cadence": "10m",
        "engine": "mssql",
        "secret": "campaign-db",
        "freshness": {"table": "dbo.sends", "column": "updated_at", "max_age": "2h"},
        "vpc": VPC,
    },
    {
        "id": "db-instance",
        "kind": "rds",
        "severity": "critical",
        "instance": "campaign-sql",
        "alarms": {"connections": {"threshold": 400}, "free_storage": {"threshold": 20}},
    },
    {"id": "db-replica", "kind": "rds", "severity": "warning", "instance": "campaign-sql-replica"},
]


@pytest.fixture(scope="module")
def synth(synthesize: Callable[[Path], Synth], tmp_path_factory: pytest.TempPathFactory) -> Synth:
    root = tmp_path_factory.mktemp("catalog") / "catalog"
    root.mkdir()
    settings = yaml.safe_load((SAMPLE / "_settings.yaml").read_text())
    settings["secrets"] = {"campaign-db": SECRET}
    (root / "_settings.yaml").write_text(yaml.safe_dump(settings))
    (root / "db.yaml").write_text(yaml.safe_dump({"service": "campaign-db", "team": "campaigns", "checks": CHECKS}))
    return synthesize(root)


def alarms(synth: Synth) -> dict[str, dict]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in synth.of_type("AWS::CloudWatch::Alarm").values()}


def alarm(synth: Synth, check: str, signal: str) -> dict:
    props = alarms(synth)[alarm_name(ENV, check, signal)]
    _, meta = decode_description(props["AlarmDescription"])
    assert meta is not None and (meta.check, meta.signal) == (check, signal)
    # Through the notifier both ways: a recovery is never lost.
    assert props["AlarmActions"] and props["OKActions"] == props["AlarmActions"]
    return props


def test_every_signal_has_exactly_one_alarm(synth: Synth) -> None:
    names = {name for name in alarms(synth) if not name.startswith(f"vigil-{ENV}-self-")}
    expected = {
        *(alarm_name(ENV, c, s) for c in ("failed-jobs", "sends-fresh") for s in ("value", "measure")),
        *(
            alarm_name(ENV, "db-instance", s)
            for s in ("cpu", "free_storage", "connections", "read_latency", "write_latency")
        ),
        *(alarm_name(ENV, "db-replica", s) for s in ("cpu", "free_storage", "read_latency", "write_latency")),
    }
    assert names == expected


def test_sql_value_alarms_on_the_checkers_metric_with_the_catalogs_rule(synth: Synth) -> None:
    jobs = alarm(synth, "failed-jobs", "value")
    assert (jobs["Namespace"], jobs["MetricName"]) == ("Vigil", "Value")
    assert jobs["Dimensions"] == [{"Name": "Check", "Value": "failed-jobs"}]
    assert (jobs["Threshold"], jobs["ComparisonOperator"]) == (3, "GreaterThanOrEqualToThreshold")
    assert (jobs["Period"], jobs["EvaluationPeriods"], jobs["DatapointsToAlarm"]) == (300, 1, 1)
    assert jobs["TreatMissingData"] == "ignore"

    fresh = alarm(synth, "sends-fresh", "value")
    assert (fresh["Threshold"], fresh["ComparisonOperator"], fresh["Period"]) == (7200, "GreaterThanThreshold", 600)
    _, meta = decode_description(fresh["AlarmDescription"])
    assert meta is not None and meta.rule == "> 7200 seconds for 1 of 1 periods of 10m" and meta.kind == "sql"

    measure = alarm(synth, "failed-jobs", "measure")
    assert (measure["MetricName"], measure["TreatMissingData"]) == ("MeasureFailed", "breaching")


def test_sql_checker_runs_in_the_vpc_and_reads_only_its_secret(synth: Synth) -> None:
    functions = {k: f["Properties"] for k, f in synth.of_type("AWS::Lambda::Function").items()}
    (function,) = [f for f in functions.values() if f["Handler"] == HANDLER]  # one per placement: both checks
    assert sorted(function["VpcConfig"]["SubnetIds"]) == sorted(VPC["subnet_ids"])
    assert function["VpcConfig"]["SecurityGroupIds"] == VPC["security_group_ids"]
    assert 20 < function["Timeout"] < 300  # the slowest check's timeout, inside the fastest cadence
    role = function["Role"]["Fn::GetAtt"][0]
    assert SECRET.startswith("vigil/")  # read through the prefix grant (infra.secret_convention)
    assert_reads_catalog_secrets_by_prefix(secret_statements(synth, role))


def test_sql_schedules_carry_the_spec_and_the_secret_id(synth: Synth) -> None:
    schedules = [s["Properties"] for s in synth.of_type("AWS::Scheduler::Schedule").values()]
    events = {schedule_event(s)["check"]["id"]: (s, schedule_event(s)) for s in schedules}
    assert set(events) == {"failed-jobs", "sends-fresh"}  # rds runs no checker
    schedule, event = events["sends-fresh"]
    assert schedule["ScheduleExpression"] == schedule_expression(
        "sends-fresh", 600, event["check"]["timeout"]
    )  # every 10 minutes
    assert SqlCheck.model_validate(event["check"]).freshness is not None
    assert event["secrets"] == {"campaign-db": SECRET}


RDS_DIMENSIONS = [{"Name": "DBInstanceIdentifier", "Value": "campaign-sql"}]


@pytest.mark.parametrize(
    ("signal", "metric", "statistic", "threshold", "comparison", "periods"),
    [
        ("cpu", "CPUUtilization", "Average", 90, "GreaterThanThreshold", 5),
        ("connections", "DatabaseConnections", "Maximum", 400, "GreaterThanThreshold", 5),
    ],
)
def test_rds_plain_metric_alarms(
    synth: Synth, signal: str, metric: str, statistic: str, threshold: float, comparison: str, periods: int
) -> None:
    props = alarm(synth, "db-instance", signal)
    assert (props["Namespace"], props["MetricName"], props["Dimensions"]) == ("AWS/RDS", metric, RDS_DIMENSIONS)
    assert (props["Statistic"], props["Period"], props["Threshold"]) == (statistic, 60, threshold)
    assert (props["ComparisonOperator"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (
        comparison,
        periods,
        periods,
    )
    assert props["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(
    ("signal", "metric", "expression", "statistic", "period", "threshold", "comparison"),
    [
        ("free_storage", "FreeStorageSpace", "free_storage / 1073741824", "Minimum", 300, 20, "LessThanThreshold"),
        ("read_latency", "ReadLatency", "read_latency * 1000", "Average", 60, 20, "GreaterThanThreshold"),
        ("write_latency", "WriteLatency", "write_latency * 1000", "Average", 60, 20, "GreaterThanThreshold"),
    ],
)
def test_rds_storage_and_latency_alarm_in_gib_and_ms(
    synth: Synth,
    signal: str,
    metric: str,
    expression: str,
    statistic: str,
    period: int,
    threshold: float,
    comparison: str,
) -> None:
    props = alarm(synth, "db-instance", signal)
    assert "MetricName" not in props
    returned, raw = props["Metrics"]
    assert (returned["Expression"], returned["ReturnData"]) == (expression, True)
    assert raw["Id"] == signal and raw["ReturnData"] is False
    assert raw["MetricStat"] == {
        "Metric": {"Namespace": "AWS/RDS", "MetricName": metric, "Dimensions": RDS_DIMENSIONS},
        "Period": period,
        "Stat": statistic,
    }
    assert (props["Threshold"], props["ComparisonOperator"]) == (threshold, comparison)
    _, meta = decode_description(props["AlarmDescription"])
    assert meta is not None and meta.unit in ("GiB", "ms") and meta.kind == "rds"


def test_rds_connections_alarm_only_with_a_threshold(synth: Synth) -> None:
    assert alarm_name(ENV, "db-replica", "connections") not in alarms(synth)
    replica = alarm(synth, "db-replica", "free_storage")
    assert replica["Threshold"] == 2


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alarms"


def notified(props: dict, value: float) -> tuple[str, str]:
    """(e-mail subject, SMS) the notifier sends when CloudWatch publishes this alarm's ALARM."""
    record = json.loads((FIXTURES / "sns_alarm.json").read_text())
    message = json.loads(record["Records"][0]["Sns"]["Message"])
    message.update(
        AlarmName=props["AlarmName"],
        AlarmDescription=props["AlarmDescription"],
        NewStateReason=f"Threshold Crossed: 1 out of the last 1 datapoints [{value} (02/05/24 14:02:00)] "
        f"was greater than the threshold ({props['Threshold']}).",
    )
    message["Trigger"].update(Threshold=props["Threshold"], ComparisonOperator=props["ComparisonOperator"])
    record["Records"][0]["Sns"]["Message"] = json.dumps(message)
    (payload,) = split_event(record)
    event = parse_alarm(payload)
    return render_subject(event), render_sms(event)


def test_sql_and_rds_alarms_reach_on_call_by_name(synth: Synth) -> None:
    subject, sms = notified(alarm(synth, "sends-fresh", "value"), 9000)
    assert subject.startswith("[ALARM][warning] sends-fresh value")
    assert "9000" in sms and "7200" in sms

    subject, sms = notified(alarm(synth, "db-instance", "cpu"), 97)
    assert subject.startswith("[ALARM][critical] db-instance cpu")
    assert "97" in sms and "90" in sms
