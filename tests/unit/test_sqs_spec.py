"""Kind `sqs` catalog entries: one queue or a list, opt-in signals, and the errors the catalog prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from infra.plan import alarm_metrics
from vigil.spec.sqs import SqsCheck

SETTINGS = {
    "contacts": {"oncall": {"email": "oncall@example.com"}},
    "routes": {"all": {"email": ["oncall"]}},
    "self_monitoring_route": "all",
}
BASE = {"id": "orders", "kind": "sqs", "severity": "warning"}


def check(**fields: object) -> SqsCheck:
    return SqsCheck.model_validate({**BASE, "service": "orders", **fields})


def catalog_problems(tmp_path: Path, entry: dict) -> list[str]:
    (tmp_path / "_settings.yaml").write_text(yaml.safe_dump(SETTINGS))
    (tmp_path / "orders.yaml").write_text(yaml.safe_dump({"service": "orders", "checks": [{**BASE, **entry}]}))
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    return [str(p) for p in caught.value.problems]


def test_one_queue_keeps_the_original_signals():
    assert check(queue="orders", dlq="orders-dlq").active_signals() == ["backlog", "age", "dlq"]
    assert check(queue="orders").active_signals() == ["backlog", "age"]


def test_drain_time_and_dlq_age_alarm_only_when_named():
    spec = check(queue="orders", dlq="orders-dlq", alarms={"drain_time": {}, "dlq_age": {"threshold": 3600}})
    assert spec.active_signals() == ["backlog", "age", "drain_time", "dlq", "dlq_age"]
    assert spec.rule("drain_time").threshold == 900
    assert spec.rule("drain_time").describe("seconds") == "> 900 seconds for 5 of 5 minutes"
    assert spec.rule("dlq_age").threshold == 3600


def test_a_list_resolves_names_and_arns_per_signal():
    spec = check(queues=["a", "arn:aws:sqs:eu-west-1:123456789012:b.fifo"], dlqs=["a-dlq"], alarms={"drain_time": {}})
    assert spec.queues_for("backlog") == ["a", "b.fifo"]
    assert spec.queues_for("dlq") == ["a-dlq"]
    # The plan prices an alarm per metric it reads: drain time reads two per queue.
    assert [alarm_metrics(spec, s) for s in ("backlog", "drain_time", "dlq")] == [2, 4, 1]


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ({}, ["check orders:", "give one of queue (one queue) or queues", "found neither"]),
        ({"queue": "a", "queues": ["b"]}, ["give one of queue", "found both"]),
        ({"queue": "a", "dlq": "x", "dlqs": ["y"]}, ["give one of dlq", "dlqs", "found both"]),
        ({"queue_prefix": "orders-"}, ["check orders: queue_prefix:", "without a Lambda", "list them under queues"]),
        ({"queues": [f"q{i}" for i in range(11)]}, ["check orders: queues:", "at most 10"]),
        ({"queues": ["ok", "not ok!"]}, ["check orders: queues.1:", "'not ok!'"]),
        ({"queue": "a", "alarms": {"dlq_age": {}}}, ["alarms.dlq_age: the check names no dead-letter queue"]),
        (
            {"queue": "a", "alarms": {"drain_time": {"statistic": "Average"}}},
            ["alarms.drain_time: statistic is fixed"],
        ),
        (
            {"queues": [f"q{i}" for i in range(6)], "alarms": {"drain_time": {}}},
            ["alarms.drain_time: reads 2 metrics per queue", "at most 5 queues"],
        ),
        ({"queue": "a", "alarms": {"growth": {}}}, ["alarms: unknown signal growth", "backlog, age, drain_time"]),
    ],
)
def test_bad_entries_say_what_is_allowed(tmp_path, entry, fragments):
    found = catalog_problems(tmp_path, entry)
    assert any(all(f in line for f in fragments) for line in found), found
