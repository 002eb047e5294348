"""The rabbitmq catalog model: per-queue signals and rules, regex and queue validation, clear errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.support.catalogs import FIXTURE_CATALOG
from vigil.spec.common import MissingData
from vigil.spec.rabbitmq import RabbitmqCheck, split_signal

BASE: dict[str, Any] = {
    "id": "events-broker",
    "kind": "rabbitmq",
    "service": "campaign-events",
    "severity": "critical",
    "cadence": 60,
    "url": "http://rabbit.internal:15672",
    "credentials_secret": "rabbit-monitoring",
}


def check(**fields: Any) -> RabbitmqCheck:
    return RabbitmqCheck.model_validate({**BASE, **fields})


def error_of(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        check(**fields)
    return str(caught.value)


def test_whole_broker_has_broker_and_rollup_signals() -> None:
    assert check().active_signals() == [
        "unreachable",
        "resource_alarm",
        "backlog",
        "no_consumers",
        "growth",
        "unacked",
        "measure",
    ]


def test_listed_queues_without_overrides_get_one_worst_of_alarm_per_signal() -> None:
    signals = check(queues=["orders", "emails"]).active_signals()
    assert signals == [
        "unreachable",
        "resource_alarm",
        "queue_missing",
        "backlog",
        "no_consumers",
        "growth",
        "unacked",
        "measure",
    ]


def test_a_listed_queues_override_gives_it_its_own_alarm_for_that_signal_only() -> None:
    every_signal_own = {s: {"threshold": 5} for s in ("backlog", "no_consumers", "growth", "unacked")}
    s = check(queues=[{"name": "orders", "alarms": {"backlog": {"threshold": 5}}}, "emails"])
    assert [x for x in s.active_signals() if "@" in x] == ["backlog@orders"]
    assert s.pooled_queues("backlog") == ["emails"] and s.pooled_queues("growth") == ["orders", "emails"]
    # Every signal overridden and no pattern: no check-level queue series left.
    only_own = check(queues=[{"name": "orders", "alarms": every_signal_own}]).active_signals()
    assert [x for x in only_own if "@" not in x] == ["unreachable", "resource_alarm", "queue_missing", "measure"]


def test_pattern_with_listed_queues_keeps_the_rollup() -> None:
    s = check(queues=[{"name": "orders", "alarms": {"backlog": {"threshold": 5}}}], pattern="^events\\.")
    signals = s.active_signals()
    assert "backlog" in signals and "backlog@orders" in signals


@pytest.mark.parametrize(
    ("fields", "active"),
    [
        ({}, False),  # the whole broker: an empty broker is not a missing queue
        ({"vhost": "campaigns"}, False),
        ({"queues": ["orders"]}, True),
        ({"pattern": "^events\\."}, True),
        ({"queues": ["orders"], "pattern": "^events\\."}, True),
    ],
)
def test_queue_missing_is_active_when_some_queue_must_exist(fields: dict[str, Any], active: bool) -> None:
    assert ("queue_missing" in check(**fields).active_signals()) is active


def test_queue_missing_rule_pages_after_three_runs_and_holds_through_outages() -> None:
    c = check(queues=["orders"])
    rule = c.rule("queue_missing")
    assert RabbitmqCheck.signals["queue_missing"].metric == "QueuesMissing"
    assert (rule.threshold, rule.comparison.value, rule.datapoints_to_alarm, rule.evaluation_periods) == (0, ">", 3, 3)
    assert rule.missing_data is MissingData.ignore
    assert rule.period == c.cadence
    with pytest.raises(KeyError):
        RabbitmqCheck.signals["queue_missing@orders"]


def test_queue_missing_is_held_back_by_unreachable() -> None:
    # While the broker is down, no queue is found: that must not page on top of `unreachable`.
    from infra.catalog import load_catalog

    catalog = load_catalog(FIXTURE_CATALOG)
    sample = catalog.by_id("campaign-events-broker")
    assert "queue_missing" in sample.active_signals()
    assert catalog.suppressor(sample, "queue_missing") == (sample.id, "unreachable")


def test_per_queue_rule_layers_queue_over_check_over_default() -> None:
    c = check(
        alarms={"backlog": {"threshold": 200, "evaluation_periods": 4, "datapoints_to_alarm": 4}},
        queues=[{"name": "orders", "alarms": {"backlog": {"threshold": 50}}}, "emails"],
    )
    assert c.rule("backlog@orders").threshold == 50
    assert c.rule("backlog@orders").evaluation_periods == 4  # from the check's override
    assert c.rule("backlog@emails").threshold == 200
    assert c.rule("backlog").threshold == 200
    assert c.rule("no_consumers@orders") == c.rule("no_consumers")


def test_queue_signals_hold_state_on_missing_data_and_unreachable_does_not() -> None:
    c = check(queues=["orders"])
    assert c.rule("backlog@orders").missing_data is MissingData.ignore
    assert c.rule("unreachable").missing_data is MissingData.not_breaching
    assert c.rule("unreachable").period == c.cadence


def test_per_queue_signal_names_resolve_to_their_kind_signal() -> None:
    assert RabbitmqCheck.signals["growth@orders.created"].metric == "GrowthRate"
    assert split_signal("unacked@a:b") == ("unacked", "a:b")
    assert split_signal("unreachable") == ("unreachable", None)
    with pytest.raises(KeyError):
        RabbitmqCheck.signals["unreachable@orders"]


def test_unreachable_is_the_inhibitor() -> None:
    assert RabbitmqCheck.inhibitor_signal == "unreachable"


def test_plain_names_and_entries_round_trip_through_the_event() -> None:
    c = check(queues=["orders", {"name": "emails", "alarms": {"unacked": {"threshold": 50}}}], pattern="x")
    assert RabbitmqCheck.model_validate(c.model_dump(mode="json")) == c


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"pattern": "(unclosed"}, "pattern\n  Value error, not a valid regular expression: missing )"),
        ({"queues": ["a b"]}, "queues.0.name"),
        ({"queues": ["orders", "orders"]}, "queues: orders is listed twice"),
        (
            {"queues": [{"name": "orders", "alarms": {"unreachable": {"threshold": 1}}}]},
            "queues: orders: alarms: unknown signal unreachable; per-queue signals: backlog, no_consumers, growth, unacked",
        ),
        (
            {"queues": [{"name": "orders", "alarms": {"backlog": {"datapoints_to_alarm": 5}}}]},
            "queues: orders: alarms.backlog: datapoints_to_alarm (5) must not exceed evaluation_periods (3)",
        ),
        ({"alarms": {"backlog@orders": {"threshold": 1}}}, "alarms: unknown signal backlog@orders"),
        ({"timeout": 60}, "timeout 60s must be shorter than the cadence"),
        ({"url": "rabbit:15672"}, "url"),
        ({"credentials_secret": None}, "credentials_secret"),
    ],
)
def test_invalid_entries_say_what_is_wrong(fields: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**fields)
