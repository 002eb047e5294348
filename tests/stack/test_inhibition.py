"""Inhibition in the template: no composite alarms; each inhibited signal's metric alarm pages ALARM
and OK through the notifier, its metadata naming the inhibitor's alarm and the seconds to wait for it
(the notifier holds the page back: vigil.notifier.inhibition), and the notifier may ask CloudWatch
about this environment's alarms only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ENV, ROOT, Synth
from test_lint_nag import lint_all

from infra.catalog import load_catalog
from infra.notifications import NOTIFIER_HANDLER
from vigil.alarm_meta import alarm_name, decode_description

pytestmark = pytest.mark.slow

CATALOG_DIR = ROOT / "tests" / "fixtures" / "inhibition"
CATALOG = load_catalog(CATALOG_DIR)
INHIBITOR = alarm_name(ENV, "order-worker-health", "down")
INHIBITED = {
    ("orders-queue", "backlog"),
    ("orders-queue", "age"),
    ("orders-queue", "dlq"),
    ("billing-health", "down"),
}


@pytest.fixture(scope="module")
def synth(synthesize: Callable[[Path], Synth]) -> Synth:
    return synthesize(CATALOG_DIR)


def _by_name(synth: Synth, cfn_type: str, key: str) -> dict[str, tuple[str, dict]]:
    return {r["Properties"][key]: (logical_id, r["Properties"]) for logical_id, r in synth.of_type(cfn_type).items()}


def _events_topic(synth: Synth) -> str:
    return next(k for k, t in synth.of_type("AWS::SNS::Topic").items() if "TopicName" not in t["Properties"])


def test_there_are_no_composite_alarms(synth: Synth) -> None:
    assert synth.of_type("AWS::CloudWatch::CompositeAlarm") == {}


def test_an_inhibited_metric_alarm_pages_both_ways_and_carries_its_inhibitor_and_waits(synth: Synth) -> None:
    metric_alarms = _by_name(synth, "AWS::CloudWatch::Alarm", "AlarmName")
    _, inhibitor = metric_alarms[INHIBITOR]
    topic = {"Ref": _events_topic(synth)}
    for check_id, signal in INHIBITED:
        _, child = metric_alarms[alarm_name(ENV, check_id, signal)]
        assert child["AlarmActions"] == [topic] == child["OKActions"], (check_id, signal)
        _, meta = decode_description(child["AlarmDescription"])
        assert meta is not None and meta.inhibited_by == INHIBITOR
        # Waits the inhibitor's N periods for it to alarm; looks again every N periods of the signal's own.
        assert meta.inhibit_wait == inhibitor["Period"] * inhibitor["EvaluationPeriods"]
        assert meta.inhibit_extension == child["Period"] * child["EvaluationPeriods"]


def test_the_notifier_may_describe_this_environments_alarms_only(synth: Synth) -> None:
    [role] = [
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in synth.of_type("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == NOTIFIER_HANDLER
    ]
    grants = [
        statement["Resource"]
        for policy in synth.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "cloudwatch:DescribeAlarms" in statement["Action"]
    ]
    assert grants == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":cloudwatch:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    f":alarm:vigil-{ENV}-*",
                ],
            ]
        }
    ]
    assert any(
        {"Ref": role} in p["Properties"]["Roles"]
        for p in synth.of_type("AWS::IAM::Policy").values()
        if any("cloudwatch:DescribeAlarms" in st["Action"] for st in p["Properties"]["PolicyDocument"]["Statement"])
    )


def test_everything_else_pages_directly_as_before(synth: Synth) -> None:
    metric_alarms = _by_name(synth, "AWS::CloudWatch::Alarm", "AlarmName")
    topic = {"Ref": _events_topic(synth)}
    direct = [
        (check.id, signal)
        for check in CATALOG.checks
        for signal in check.active_signals()
        if (check.id, signal) not in INHIBITED
    ]
    # The inhibitor itself and a check without inhibited_by (http has no `measure`: its one signal is down).
    assert {("order-worker-health", "down"), ("invoices-queue", "backlog")} <= set(direct)
    for check_id, signal in direct:
        _, props = metric_alarms[alarm_name(ENV, check_id, signal)]
        assert props["AlarmActions"] == [topic] == props["OKActions"], (check_id, signal)
        _, meta = decode_description(props["AlarmDescription"])
        assert meta is not None and (meta.inhibited_by, meta.inhibit_wait) == (None, None)


def test_the_inhibition_template_lints_and_passes_nag(synth: Synth) -> None:
    assert lint_all(synth) == {}
    assert (synth.outdir / "validation-report.json").exists()
