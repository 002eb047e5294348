"""Inhibition in the template: composite alarms page inhibited signals, held back by the inhibitor's
metric alarm, while each inhibited metric alarm keeps its OK action (a recovery is never suppressed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ENV, ROOT, Synth
from test_lint_nag import lint_all

from infra.alarms import PAGE_SUFFIX
from infra.catalog import load_catalog
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


def test_each_inhibited_signal_pages_through_one_composite_held_back_by_the_inhibitor(synth: Synth) -> None:
    metric_alarms = _by_name(synth, "AWS::CloudWatch::Alarm", "AlarmName")
    composites = _by_name(synth, "AWS::CloudWatch::CompositeAlarm", "AlarmName")
    inhibitor_id, inhibitor = metric_alarms[INHIBITOR]
    assert set(composites) == {alarm_name(ENV, c, s) + PAGE_SUFFIX for c, s in INHIBITED}
    for check_id, signal in INHIBITED:
        child_id, child = metric_alarms[alarm_name(ENV, check_id, signal)]
        _, page = composites[alarm_name(ENV, check_id, signal) + PAGE_SUFFIX]
        assert page["AlarmRule"] == {"Fn::Join": ["", ['ALARM("', {"Fn::GetAtt": [child_id, "Arn"]}, '")']]}
        assert page["ActionsSuppressor"] == {"Fn::GetAtt": [inhibitor_id, "Arn"]}
        # Waits the inhibitor's N periods for it to alarm; extends by the signal's own N periods.
        assert page["ActionsSuppressorWaitPeriod"] == inhibitor["Period"] * inhibitor["EvaluationPeriods"]
        assert page["ActionsSuppressorExtensionPeriod"] == child["Period"] * child["EvaluationPeriods"]
        assert page["AlarmActions"] == [{"Ref": _events_topic(synth)}]
        assert "OKActions" not in page  # CloudWatch would suppress it: the recovery comes from the child
        assert page["AlarmDescription"] == child["AlarmDescription"]


def test_an_inhibited_metric_alarm_sends_only_ok_and_names_its_inhibitor(synth: Synth) -> None:
    metric_alarms = _by_name(synth, "AWS::CloudWatch::Alarm", "AlarmName")
    for check_id, signal in INHIBITED:
        _, child = metric_alarms[alarm_name(ENV, check_id, signal)]
        assert "AlarmActions" not in child
        assert child["OKActions"] == [{"Ref": _events_topic(synth)}]
        _, meta = decode_description(child["AlarmDescription"])
        assert meta is not None and meta.inhibited_by == INHIBITOR


def test_everything_else_pages_directly_as_before(synth: Synth) -> None:
    metric_alarms = _by_name(synth, "AWS::CloudWatch::Alarm", "AlarmName")
    topic = {"Ref": _events_topic(synth)}
    direct = [
        (check.id, signal)
        for check in CATALOG.checks
        for signal in check.active_signals()
        if (check.id, signal) not in INHIBITED
    ]
    # The inhibitor itself, every `measure`, and a check without inhibited_by.
    assert {("order-worker-health", "down"), ("billing-health", "measure"), ("invoices-queue", "backlog")} <= set(
        direct
    )
    for check_id, signal in direct:
        _, props = metric_alarms[alarm_name(ENV, check_id, signal)]
        assert props["AlarmActions"] == [topic] == props["OKActions"], (check_id, signal)
        _, meta = decode_description(props["AlarmDescription"])
        assert meta is not None and meta.inhibited_by is None


def test_the_inhibition_template_lints_and_passes_nag(synth: Synth) -> None:
    assert lint_all(synth) == {}
    assert (synth.outdir / "validation-report.json").exists()
