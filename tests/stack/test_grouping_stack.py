"""Grouping's infrastructure in the template: the deferred queue that brings each group's flush back
(and each ALARM held back for its inhibitor) to the notifier, its dead-letter queue, and the
notifier's few grants on it.

Event source mappings and redrive policies are not moto's to check, so these walk the template.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT, Synth

from infra.deferred_queue import GROUP_WAIT_ENV, MAX_RECEIVE_COUNT
from infra.notifications import NOTIFIER_HANDLER
from vigil.notifier.deferred import QUEUE_ENV

pytestmark = pytest.mark.slow

CATALOG_DIR = ROOT / "tests" / "fixtures" / "inhibition"


@pytest.fixture(scope="module")
def synth(synthesize: Callable[[Path], Synth]) -> Synth:
    return synthesize(CATALOG_DIR)


def _notifier(synth: Synth) -> tuple[str, dict]:
    [(key, function)] = [
        (k, r)
        for k, r in synth.of_type("AWS::Lambda::Function").items()
        if r["Properties"]["Handler"] == NOTIFIER_HANDLER
    ]
    return key, function


def _deferred(synth: Synth) -> tuple[str, dict]:
    [(key, queue)] = [(k, q) for k, q in synth.of_type("AWS::SQS::Queue").items() if "Deferred" in k]
    return key, queue


def test_the_deferred_queue_is_encrypted_and_ends_in_the_notifiers_failure_queue(synth: Synth) -> None:
    _, queue = _deferred(synth)
    props = queue["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    failures = next(k for k in synth.of_type("AWS::SQS::Queue") if "NotifierFailures" in k)
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [failures, "Arn"]},
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    _, notifier = _notifier(synth)
    assert props["VisibilityTimeout"] >= 6 * notifier["Properties"]["Timeout"]


def test_the_deferred_queue_triggers_the_notifier_which_knows_it_and_the_wait(synth: Synth) -> None:
    queue, _ = _deferred(synth)
    function, notifier = _notifier(synth)
    [mapping] = synth.of_type("AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert mapping["Properties"]["FunctionName"] == {"Ref": function}
    variables = notifier["Properties"]["Environment"]["Variables"]
    assert variables[QUEUE_ENV] == {"Ref": queue}
    assert variables[GROUP_WAIT_ENV] == "30"  # the default group_wait


def test_only_the_notifier_may_send_to_the_deferred_queue(synth: Synth) -> None:
    queue, _ = _deferred(synth)
    senders = [
        policy["Properties"]["Roles"]
        for policy in synth.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "sqs:SendMessage" in statement["Action"] and statement["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
    ]
    _, notifier = _notifier(synth)
    role = notifier["Properties"]["Role"]["Fn::GetAtt"][0]
    assert senders == [[{"Ref": role}]]


def test_with_group_wait_zero_the_queue_stays_for_inhibition_and_nothing_is_grouped(
    synthesize: Callable[[Path], Synth], tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    settings = catalog / "_settings.yaml"
    settings.write_text(settings.read_text() + "paging:\n  group_wait: 0s\n")
    built = synthesize(catalog)
    assert len([k for k in built.of_type("AWS::SQS::Queue") if "Deferred" in k]) == 1
    _, notifier = _notifier(built)
    assert notifier["Properties"]["Environment"]["Variables"][GROUP_WAIT_ENV] == "0"
