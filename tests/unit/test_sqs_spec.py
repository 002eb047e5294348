"""Kind `sqs` catalog entries: one queue or a list, opt-in signals, and the errors the catalog prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from infra.plan import alarm_metrics
from vigil.spec.sqs import PREFIX_METRICS, SqsCheck

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
        ({}, ["check orders:", "give one of queue (one queue), queues", "or queue_prefix", "found neither"]),
        ({"queue": "a", "queues": ["b"]}, ["give one of queue", "found queue and queues"]),
        ({"queue": "a", "queue_prefix": "b-"}, ["give one of queue", "found queue and queue_prefix"]),
        ({"queue_prefix": "b-", "dlq": "b-dlq"}, ["with queue_prefix, name the dead-letter queues by dlq_suffix"]),
        ({"queue": "a", "dlq_suffix": "-dlq"}, ["dlq_suffix: only with queue_prefix"]),
        ({"queue": "a", "timeout": 10}, ["timeout: only with queue_prefix"]),
        (
            {"queue_prefix": "b-", "alarms": {"dlq": {}}},
            ["alarms.dlq: the check names no dead-letter queue; add dlq_suffix"],
        ),
        ({"queue_prefix": "b-", "cadence": "1m", "timeout": 90}, ["timeout: 90s must be shorter than the cadence"]),
        ({"queue_prefix": "bad prefix"}, ["check orders: queue_prefix:", "allowed: the start of a queue name"]),
        ({"queue_prefix": "x" * 81}, ["check orders: queue_prefix:"]),
        ({"queue": "a", "alarms": {"measure": {}}}, ["alarms: unknown signal measure"]),
        ({"queue": "a", "dlq": "x", "dlqs": ["y"]}, ["give one of dlq", "dlqs", "found both"]),
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


def test_only_a_prefix_check_runs_a_checker_and_has_the_measure_signal():
    listed = check(queues=["a", "b"], dlqs=["a-dlq"])
    assert listed.has_checker is False
    assert "measure" not in listed.signals
    prefixed = check(queue_prefix="orders-", dlq_suffix="-dlq", alarms={"drain_time": {}})
    assert prefixed.has_checker is True
    assert prefixed.active_signals() == ["backlog", "age", "drain_time", "dlq", "measure"]
    assert check(queue_prefix="orders-").active_signals() == ["backlog", "age", "measure"]
    assert prefixed.timeout == 20


def test_a_prefix_check_keeps_the_signals_and_thresholds_on_the_checkers_metrics():
    listed = check(queue="orders", dlq="orders-dlq", alarms={"drain_time": {}, "dlq_age": {}})
    prefixed = check(queue_prefix="orders-", dlq_suffix="-dlq", cadence=60, alarms={"drain_time": {}, "dlq_age": {}})
    assert [s for s in prefixed.active_signals() if s != "measure"] == listed.active_signals()
    for signal in listed.active_signals():
        mine, theirs = prefixed.rule(signal), listed.rule(signal)
        assert (mine.threshold, mine.comparison, mine.evaluation_periods, mine.datapoints_to_alarm) == (
            theirs.threshold,
            theirs.comparison,
            theirs.evaluation_periods,
            theirs.datapoints_to_alarm,
        )
        # One datapoint per run: a failed run keeps the state (measure pages), no false recovery.
        assert mine.missing_data.value == "ignore"
        assert prefixed.signals[signal].metric == PREFIX_METRICS[signal][0]
        assert listed.signals[signal].metric == SqsCheck.signals[signal].metric
    assert prefixed.rule("backlog").period == 60
    assert check(queue_prefix="orders-", cadence=300).rule("backlog").period == 300
    assert [alarm_metrics(prefixed, s) for s in prefixed.active_signals()] == [1] * 6


def test_dead_letter_queues_are_the_matches_ending_with_the_suffix():
    prefixed = check(queue_prefix="orders-", dlq_suffix="-dlq")
    assert prefixed.is_dead_letter_queue("orders-eu-dlq")
    assert prefixed.is_dead_letter_queue("orders-eu-dlq.fifo")
    assert not prefixed.is_dead_letter_queue("orders-eu")
    assert not check(queue_prefix="orders-").is_dead_letter_queue("orders-eu-dlq")
