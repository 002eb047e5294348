"""Kind sqs with queue_prefix in the sample stack: a schedule, alarms on the checker's Vigil metrics,
and GetQueueAttributes on exactly the prefix's queues. Lambda-free sqs checks stay checker-free."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLE, Synth, schedule_event

from infra.catalog import load_catalog
from vigil.alarm_meta import alarm_name, decode_description
from vigil.spec.sqs import PREFIX_METRICS, SqsCheck

pytestmark = pytest.mark.slow
ENV = "demo"
CATALOG = load_catalog(SAMPLE)
CHECK = CATALOG.by_id("campaign-fulfilment-queues")
assert isinstance(CHECK, SqsCheck) and CHECK.queue_prefix == "campaign-fulfilment-"


def _alarms(sample: Synth) -> dict[str, dict]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in sample.of_type("AWS::CloudWatch::Alarm").values()}


def _arn_text(resource: object) -> str:
    if isinstance(resource, str):
        return resource
    parts = resource["Fn::Join"][1]  # type: ignore[index]
    return "".join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)


def _schedules(sample: Synth, check_id: str) -> list[dict]:
    return [
        s
        for s in sample.of_type("AWS::Scheduler::Schedule").values()
        if schedule_event(s["Properties"])["check"]["id"] == check_id
    ]


def test_the_schedule_carries_the_spec_the_checker_accepts(sample: Synth) -> None:
    (schedule,) = _schedules(sample, CHECK.id)
    event = schedule_event(schedule["Properties"])
    assert SqsCheck.model_validate(event["check"]) == CHECK
    assert schedule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    (function,) = [
        f["Properties"]
        for f in sample.of_type("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "vigil.checkers.sqs.handler"
    ]
    # Sized for the prefix check alone: Lambda-free sqs checks are not its peers.
    assert function["Timeout"] == min(int(CHECK.timeout) + 10, CHECK.cadence - 5)
    for other in (c for c in CATALOG.checks if c.kind == "sqs" and c.id != CHECK.id):
        assert not _schedules(sample, other.id)


def test_every_signal_alarms_on_the_checkers_metric_with_the_check_dimension(sample: Synth) -> None:
    alarms = _alarms(sample)
    assert CHECK.active_signals() == ["backlog", "age", "drain_time", "dlq", "dlq_age", "measure"]
    for signal in CHECK.active_signals():
        props = alarms[alarm_name(ENV, CHECK.id, signal)]
        metric = "MeasureFailed" if signal == "measure" else PREFIX_METRICS[signal][0]
        assert (props["Namespace"], props["MetricName"]) == ("Vigil", metric)
        assert props["Dimensions"] == [{"Name": "Check", "Value": CHECK.id}]
        rule = CHECK.rule(signal)
        assert (props["Period"], props["Threshold"], props["EvaluationPeriods"]) == (
            60,
            rule.threshold,
            rule.evaluation_periods,
        )
        assert props["TreatMissingData"] == ("breaching" if signal == "measure" else "ignore")
        _, meta = decode_description(props["AlarmDescription"])
        assert meta is not None and meta.logs == f"/vigil/{ENV}/checkers/sqs"


def test_the_lambda_free_sqs_checks_keep_aws_metrics(sample: Synth) -> None:
    props = _alarms(sample)[alarm_name(ENV, "orders-queue", "backlog")]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm_name(ENV, "orders-queue", "measure") not in _alarms(sample)


def test_iam_is_scoped_to_the_prefix_and_precedes_the_schedule(sample: Synth) -> None:
    policies = {
        k: p
        for k, p in sample.of_type("AWS::IAM::Policy").items()
        if "sqs:ListQueues" in json.dumps(p["Properties"]["PolicyDocument"])
    }
    ((policy_id, policy),) = policies.items()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_action = {json.dumps(s["Action"]): s["Resource"] for s in statements}
    assert _arn_text(by_action['"sqs:GetQueueAttributes"']) == (
        "arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:campaign-fulfilment-*"
    )
    assert by_action['["sqs:ListQueues", "cloudwatch:GetMetricData"]'] == "*"
    # In the service stack's access role (the trust and the assume grant: test_access_roles.py),
    # which the schedule names and waits for.
    (role,) = [r["Ref"] for r in policy["Properties"]["Roles"]]
    (schedule,) = _schedules(sample, CHECK.id)
    assert schedule_event(schedule["Properties"])["access_role"] == f"<{role}.Arn>"
    assert policy_id in schedule["DependsOn"]
