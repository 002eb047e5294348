"""The sample catalog's rabbitmq check in the template: every alarm, its metric and rule, the checker
function in the check's VPC with read access to exactly its credentials secret, and its schedule."""

from __future__ import annotations

import pytest
from conftest import ENV, SAMPLE, Synth, assert_reads_catalog_secrets_by_prefix, schedule_event, secret_statements

from infra.catalog import load_catalog
from vigil.alarm_meta import alarm_name, decode_description
from vigil.spec.rabbitmq import RabbitmqCheck, split_signal

pytestmark = pytest.mark.slow

CATALOG = load_catalog(SAMPLE)
CHECK = CATALOG.by_id("campaign-events-broker")
assert isinstance(CHECK, RabbitmqCheck)
CW = {">": "GreaterThanThreshold", ">=": "GreaterThanOrEqualToThreshold", "<": "LessThanThreshold"}
HANDLER = "vigil.checkers.rabbitmq.handler"


def _alarms(sample: Synth) -> dict[str, dict]:
    prefix = alarm_name(ENV, CHECK.id, "")
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in sample.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"].startswith(prefix)
    }


def test_one_alarm_per_active_signal_and_no_other() -> None:
    # The sample lists two queues and a pattern: broker signals, queue_missing, 4 worst-of signals (the
    # rollup and the listed queues without an override), campaign-orders' two overrides, measure.
    assert len(CHECK.active_signals()) == 2 + 1 + 4 + 2 + 1


def test_every_rabbitmq_alarm_watches_its_metric_with_its_rule(sample: Synth) -> None:
    alarms = _alarms(sample)
    assert set(alarms) == {alarm_name(ENV, CHECK.id, s) for s in CHECK.active_signals()}
    for signal in CHECK.active_signals():
        props = alarms[alarm_name(ENV, CHECK.id, signal)]
        base, queue = split_signal(signal)
        rule = CHECK.rule(signal)
        assert props["Namespace"] == "Vigil"
        assert props["MetricName"] == RabbitmqCheck.signals[base].metric
        expected = [{"Name": "Check", "Value": CHECK.id}]
        if queue is not None:
            expected.append({"Name": "Queue", "Value": queue})
        assert props["Dimensions"] == expected, signal
        assert props["Threshold"] == rule.threshold
        assert props["ComparisonOperator"] == CW[rule.comparison.value]
        assert props["EvaluationPeriods"] == rule.evaluation_periods
        assert props["DatapointsToAlarm"] == rule.datapoints_to_alarm
        assert props["TreatMissingData"] == rule.missing_data.value
        assert props["Period"] == CHECK.cadence == rule.period
        assert props["Statistic"] == "Maximum"
        _, meta = decode_description(props["AlarmDescription"])
        assert meta is not None and (meta.check, meta.signal, meta.kind) == (CHECK.id, signal, "rabbitmq")


def test_the_catalog_overrides_reach_the_alarms(sample: Synth) -> None:
    alarms = _alarms(sample)
    assert alarms[alarm_name(ENV, CHECK.id, "backlog@campaign-orders")]["Threshold"] == 500
    assert alarms[alarm_name(ENV, CHECK.id, "backlog")]["Threshold"] == 1000  # campaign-emails' too
    assert alarms[alarm_name(ENV, CHECK.id, "no_consumers@campaign-orders")]["EvaluationPeriods"] == 3
    assert alarms[alarm_name(ENV, CHECK.id, "unacked")]["Threshold"] == 90  # check-level, every listed queue's
    # A listed queue without an override has no alarm of its own: the worst-of alarm covers it.
    assert not [name for name in alarms if "@campaign-emails" in name or "growth@" in name]
    assert alarms[alarm_name(ENV, CHECK.id, "unreachable")]["TreatMissingData"] == "notBreaching"
    assert alarms[alarm_name(ENV, CHECK.id, "measure")]["TreatMissingData"] == "breaching"


def test_a_gone_queue_has_an_alarm_of_its_own(sample: Synth) -> None:
    missing = _alarms(sample)[alarm_name(ENV, CHECK.id, "queue_missing")]
    assert missing["MetricName"] == "QueuesMissing"
    assert missing["Dimensions"] == [{"Name": "Check", "Value": CHECK.id}]
    assert (missing["Threshold"], missing["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert (missing["DatapointsToAlarm"], missing["EvaluationPeriods"]) == (3, 3)
    assert missing["TreatMissingData"] == "ignore"


def test_the_checker_runs_in_the_check_vpc_and_reads_only_its_secret(sample: Synth) -> None:
    functions = {k: f["Properties"] for k, f in sample.of_type("AWS::Lambda::Function").items()}
    (function,) = [f for f in functions.values() if f["Handler"] == HANDLER]
    assert CHECK.vpc is not None
    assert sorted(function["VpcConfig"]["SubnetIds"]) == sorted(CHECK.vpc.subnet_ids)
    assert function["VpcConfig"]["SecurityGroupIds"] == CHECK.vpc.security_group_ids
    assert CHECK.timeout < function["Timeout"] < CHECK.cadence
    role = function["Role"]["Fn::GetAtt"][0]
    # the prefix grant (infra.secret_convention), nothing listed: the same policy for any number of secrets
    assert CATALOG.settings.secrets[CHECK.credentials_secret].startswith("vigil/")
    assert_reads_catalog_secrets_by_prefix(secret_statements(sample, role))


def test_the_schedule_carries_the_spec_and_the_secret_id(sample: Synth) -> None:
    schedules = [s["Properties"] for s in sample.of_type("AWS::Scheduler::Schedule").values()]
    events = [schedule_event(s) for s in schedules]
    (event,) = [e for e in events if e["check"]["id"] == CHECK.id]
    assert RabbitmqCheck.model_validate(event["check"]) == CHECK
    assert event["secrets"] == {CHECK.credentials_secret: CATALOG.settings.secrets[CHECK.credentials_secret]}


def test_queue_and_resource_alarms_page_only_while_the_broker_is_reachable(sample: Synth) -> None:
    metas = {
        a["Properties"]["AlarmName"]: decode_description(a["Properties"]["AlarmDescription"])[1]
        for a in sample.of_type("AWS::CloudWatch::Alarm").values()
    }
    unreachable = alarm_name(ENV, CHECK.id, "unreachable")
    held_back = [s for s in CHECK.active_signals() if s not in ("unreachable", "measure")]
    assert "queue_missing" in held_back  # while the broker is down no queue is found: one page, not two
    for signal in held_back:
        meta = metas[alarm_name(ENV, CHECK.id, signal)]
        assert meta is not None and meta.inhibited_by == unreachable and meta.inhibit_wait, signal
    for signal in ("unreachable", "measure"):
        meta = metas[alarm_name(ENV, CHECK.id, signal)]
        assert meta is not None and meta.inhibited_by is None
