"""The rabbitmq checker's pure parts: selection, per-queue figures, rollups, broker health, answers, EMF."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from vigil.checkers import rabbitmq as checker
from vigil.checkers.rabbitmq import CannotMeasure, Unreachable
from vigil.secrets import SecretError
from vigil.spec.rabbitmq import RabbitmqCheck

NOW = 1_700_000_000.0
BASE: dict[str, Any] = {
    "id": "events-broker",
    "kind": "rabbitmq",
    "service": "campaign-events",
    "severity": "critical",
    "url": "http://rabbit.internal:15672",
    "credentials_secret": "rabbit-monitoring",
}
NODE_OK = {"name": "rabbit@a", "running": True, "mem_alarm": False, "disk_free_alarm": False}


def spec(**fields: Any) -> RabbitmqCheck:
    return RabbitmqCheck.model_validate({**BASE, **fields})


def item(name: str, vhost: str = "/", ready: int = 0, unacked: int = 0, consumers: int = 0, **rates: float) -> dict:
    stats = {f"{k}_details": {"rate": v} for k, v in rates.items()}
    found = {
        "name": name,
        "vhost": vhost,
        "messages": ready + unacked,
        "messages_ready": ready,
        "messages_unacknowledged": unacked,
        "consumers": consumers,
    }
    return found | ({"message_stats": stats} if stats else {})


def test_queue_figures_from_a_listing_item() -> None:
    figures = checker.queue_figures(
        item("q", ready=30, unacked=10, consumers=2, publish=5.0, ack=2.0, deliver_get=4.0)
        | {"head_message_timestamp": int(NOW) - 90}
    )
    values = checker.queue_values(figures, NOW)
    assert values == {
        "Backlog": 30,
        "MessagesUnacked": 10,
        "Messages": 40,
        "Consumers": 2,
        "NoConsumers": 0,
        "PublishRate": 5.0,
        "DeliverRate": 4.0,
        "AckRate": 2.0,
        "GrowthRate": 1.0,  # publish - deliver_get: the ready backlog's growth
        "UnackedPercent": 25.0,
        "OldestMessageAgeSeconds": 90.0,
    }


def test_an_idle_queue_without_stats_or_timestamp() -> None:
    values = checker.queue_values(checker.queue_figures({"name": "q", "vhost": "/"}), NOW)
    assert values["Backlog"] == values["GrowthRate"] == values["UnackedPercent"] == values["NoConsumers"] == 0
    assert "OldestMessageAgeSeconds" not in values


@pytest.mark.parametrize(
    ("ready", "unacked", "consumers", "no_consumers"),
    [(5, 0, 0, 1), (0, 0, 0, 0), (5, 0, 1, 0), (0, 3, 0, 0)],
)
def test_no_consumers_means_messages_wait_and_nobody_reads(
    ready: int, unacked: int, consumers: int, no_consumers: int
) -> None:
    figures = checker.queue_figures(item("q", ready=ready, unacked=unacked, consumers=consumers))
    assert checker.queue_values(figures, NOW)["NoConsumers"] == no_consumers


def test_listed_queues_never_roll_up_and_missing_ones_are_named() -> None:
    s = spec(queues=["orders", "gone"], pattern="^events\\.")
    queues = [checker.queue_figures(i) for i in (item("orders"), item("events.a"), item("events.b"), item("other"))]
    selection = checker.select(s, queues)
    assert list(selection.listed) == ["orders"]
    assert [q.name for q in selection.rolled] == ["events.a", "events.b"]
    assert selection.missing == ["gone"]


def test_listed_queues_are_matched_in_their_vhost_only() -> None:
    s = spec(vhost="campaigns", queues=["orders"])
    selection = checker.select(s, [checker.queue_figures(item("orders", vhost="/"))])
    assert selection.missing == ["orders"] and not selection.rolled


def test_whole_broker_rolls_everything_up_across_vhosts() -> None:
    queues = [checker.queue_figures(item("a", vhost="/")), checker.queue_figures(item("b", vhost="x"))]
    assert len(checker.select(spec(), queues).rolled) == 2


def test_rollup_is_the_worst_queue_for_alarmed_figures_and_sums_for_the_rest() -> None:
    queues = [
        checker.queue_figures(item("a", ready=100, unacked=0, consumers=0, publish=1.0)),
        checker.queue_figures(item("b", ready=10, unacked=90, consumers=1, publish=3.0, deliver_get=1.0)),
        checker.queue_figures(item("c", ready=0, consumers=0)),
    ]
    values = checker.rollup_values(queues, NOW)
    assert values["Queues"] == 3
    assert values["Backlog"] == 100  # max
    assert values["NoConsumers"] == 1  # only a waits without consumer
    assert values["GrowthRate"] == 2.0  # b: 3 - 1
    assert values["UnackedPercent"] == 90.0  # b
    assert values["MessagesReady"] == 110 and values["MessagesUnacked"] == 90 and values["Consumers"] == 1
    assert values["PublishRate"] == 4.0


def test_an_empty_rollup_is_all_zero() -> None:
    values = checker.rollup_values([], NOW)
    assert values["Queues"] == 0 and values["Backlog"] == 0 and values["NoConsumers"] == 0


@pytest.mark.parametrize(
    ("nodes", "alarm", "words"),
    [
        ([NODE_OK], 0, []),
        ([NODE_OK, NODE_OK | {"name": "rabbit@b", "mem_alarm": True}], 1, ["memory alarm on rabbit@b"]),
        ([NODE_OK | {"disk_free_alarm": True}], 1, ["disk alarm on rabbit@a"]),
        ([NODE_OK | {"running": False}], 1, ["node rabbit@a not running"]),
        ([], 1, ["the broker lists no nodes"]),
    ],
)
def test_broker_health(nodes: list[dict], alarm: int, words: list[str]) -> None:
    values, problems = checker.broker_values(nodes)
    assert values["ResourceAlarm"] == alarm
    assert problems == words


def test_evaluate_puts_broker_rollup_and_missing_queues_together() -> None:
    s = spec(queues=[{"name": "orders", "alarms": {"backlog": {"threshold": 5}}}, "gone"], pattern="^events\\.")
    items = [item("orders", ready=7), item("events.a", ready=3)]
    evaluation = checker.evaluate(s, [NODE_OK], items, NOW)
    assert evaluation.values["Unreachable"] == 0
    assert evaluation.values["Backlog"] == 3  # rollup of events.* only: orders has its own backlog alarm
    assert evaluation.values["QueuesMissing"] == 1
    assert evaluation.per_queue["orders"]["Backlog"] == 7
    assert evaluation.reason_code == "queue_missing"
    assert evaluation.reason == "listed queue(s) not found in vhost /: gone"


def test_a_pattern_matching_nothing_counts_as_one_missing() -> None:
    evaluation = checker.evaluate(spec(pattern="^events\\.", vhost="campaigns"), [NODE_OK], [item("other")], NOW)
    assert evaluation.values["QueuesMissing"] == 1
    assert evaluation.values["Queues"] == 0  # the all-zero rollup that looked healthy
    assert evaluation.reason_code == "queue_missing"
    assert evaluation.reason == "pattern ^events\\. matches no queue in vhost campaigns"


def test_listed_queues_gone_and_an_empty_pattern_add_up() -> None:
    s = spec(queues=["orders", "emails", "gone"], pattern="^events\\.")
    evaluation = checker.evaluate(s, [NODE_OK], [item("emails"), item("other")], NOW)
    assert evaluation.values["QueuesMissing"] == 3  # orders, gone, and the pattern
    assert evaluation.reason == (
        "listed queue(s) not found in vhost /: orders, gone; pattern ^events\\. matches no queue beyond the "
        "listed ones in any vhost"
    )
    assert evaluation.per_queue == {}  # no listed queue has an alarm of its own
    assert evaluation.values["Backlog"] == 0  # emails, the one listed queue found; queue_missing pages


def test_listed_queues_without_own_alarms_pool_into_the_worst_of_series() -> None:
    s = spec(queues=["orders", "emails", {"name": "vip", "alarms": {"backlog": {"threshold": 5}}}])
    items = [
        item("orders", ready=40, unacked=60, consumers=1, publish=9.0, deliver_get=1.0),
        item("emails", ready=900, consumers=0),
        item("vip", ready=5000, unacked=100, consumers=1),
    ]
    evaluation = checker.evaluate(s, [NODE_OK], items, NOW)
    # vip's backlog has its own alarm, so the worst backlog is emails'; its other signals pool.
    assert evaluation.values["Backlog"] == 900
    assert evaluation.values["NoConsumers"] == 1  # emails waits without a consumer
    assert evaluation.values["GrowthRate"] == 8.0  # orders
    assert evaluation.values["UnackedPercent"] == 60.0  # orders
    assert list(evaluation.per_queue) == ["vip"]  # the only own alarm: vip's backlog
    # The ALARM e-mail's evidence names each signal's worst queue.
    assert evaluation.samples[0] == (
        "worst queue per signal: backlog emails (900 ready); no_consumers emails (900 ready, no consumer); "
        "growth orders (growing +8.0/s); unacked orders (60% unacked)"
    )


def test_a_pattern_matching_only_listed_queues_selects_none() -> None:
    evaluation = checker.evaluate(spec(queues=["events.a"], pattern="^events\\."), [NODE_OK], [item("events.a")], NOW)
    assert evaluation.values["QueuesMissing"] == 1
    assert "matches no queue beyond the listed ones" in (evaluation.reason or "")


def test_every_queue_found_reports_zero_missing_and_no_reason() -> None:
    s = spec(queues=["orders"], pattern="^events\\.")
    evaluation = checker.evaluate(s, [NODE_OK], [item("orders"), item("events.a")], NOW)
    assert evaluation.values["QueuesMissing"] == 0
    assert evaluation.reason_code is None and evaluation.reason is None


def test_a_whole_broker_check_has_no_missing_count() -> None:
    for fields in ({}, {"vhost": "campaigns"}):
        evaluation = checker.evaluate(spec(**fields), [NODE_OK], [], NOW)
        assert "QueuesMissing" not in evaluation.values and evaluation.reason is None


def test_a_resource_problem_wins_the_code_but_missing_queues_are_still_counted_and_named() -> None:
    down = NODE_OK | {"mem_alarm": True}
    evaluation = checker.evaluate(spec(queues=["gone"]), [down], [], NOW)
    assert evaluation.reason_code == "resource"
    assert evaluation.values["QueuesMissing"] == 1 and evaluation.values["ResourceAlarm"] == 1
    assert evaluation.reason == "memory alarm on rabbit@a; listed queue(s) not found in vhost /: gone"


def test_evaluate_without_rollup_emits_no_queue_rollup() -> None:
    every_signal_own = {s: {"threshold": 5} for s in ("backlog", "no_consumers", "growth", "unacked")}
    s = spec(queues=[{"name": "orders", "alarms": every_signal_own}])
    evaluation = checker.evaluate(s, [NODE_OK], [item("orders")], NOW)
    assert "Backlog" not in evaluation.values and "Queues" not in evaluation.values
    assert evaluation.reason_code is None and evaluation.reason is None


def test_every_value_has_a_unit() -> None:
    evaluation = checker.evaluate(
        spec(queues=[{"name": "orders", "alarms": {"growth": {"threshold": 1}}}], pattern="."),
        [NODE_OK],
        [item("orders") | {"head_message_timestamp": 1}],
        NOW,
    )
    assert set(evaluation.values) | set(evaluation.per_queue["orders"]) <= set(checker.UNITS)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, None),  # the whole broker: one unpaged request
        ({"pattern": "^events\\."}, None),  # a pattern: one unpaged request, matched here
        ({"queues": ["orders.created", "b"]}, "^(?:orders\\.created|b)$"),
        ({"queues": ["b"], "pattern": "x"}, None),
    ],
)
def test_the_server_side_name_filter(fields: dict[str, Any], expected: str | None) -> None:
    assert checker.name_filter(spec(**fields)) == expected


def test_the_name_filter_selects_exactly_the_listed_queues() -> None:
    s = spec(queues=["orders.created"])
    regex = re.compile(checker.name_filter(s) or "")
    assert [n for n in ["orders.created", "ordersXcreated", "orders.created.dlq"] if regex.search(n)] == [
        "orders.created"
    ]


def test_a_pattern_is_applied_here_and_listed_queues_never_roll_up() -> None:
    s = spec(queues=["orders.created"], pattern="^ev")
    names = ["orders.created", "ordersXcreated", "events", "xev"]
    selection = checker.select(s, [checker.queue_figures(item(n)) for n in names])
    assert [q.name for q in selection.rolled] == ["events"]
    assert list(selection.listed) == ["orders.created"]


@pytest.mark.parametrize(
    ("fields", "extra"),
    [
        ({"pattern": "x"}, ("name", "vhost")),
        ({"pattern": "x", "vhost": "v"}, ("name",)),
        ({}, ()),
        ({"queues": ["a"], "vhost": "v"}, ("name",)),
        ({"queues": ["a"]}, ("name", "vhost")),
    ],
)
def test_only_needed_columns_travel(fields: dict[str, Any], extra: tuple[str, ...]) -> None:
    assert checker.queue_columns(spec(**fields)) == (*extra, *checker.FIGURE_COLUMNS)


def test_a_whole_broker_check_takes_the_broker_answer_as_it_is() -> None:
    nameless = [checker.queue_figures(item("") | {"name": None}) for _ in range(3)]
    assert len(checker.select(spec(), nameless).rolled) == 3


def test_a_pattern_selects_by_name() -> None:
    queues = [checker.queue_figures(item(n)) for n in ("events.a", "orders", "x.events")]
    assert [q.name for q in checker.select(spec(pattern="^events"), queues).rolled] == ["events.a"]


def test_vhost_is_quoted_in_the_path() -> None:
    assert checker.queues_path(spec()) == "/api/queues"
    assert checker.queues_path(spec(vhost="/")) == "/api/queues/%2F"
    assert checker.queues_path(spec(vhost="a b")) == "/api/queues/a%20b"


@pytest.mark.parametrize(
    ("status", "body", "raised", "code"),
    [
        (503, b"", Unreachable, "status"),
        (200, b"<html>", Unreachable, "protocol"),
        (401, b'{"error":"not_authorized"}', CannotMeasure, "auth"),
        (403, b"", CannotMeasure, "auth"),
        (404, b"", CannotMeasure, "not_found"),
        (400, b'{"error":"bad_request","reason":"Pagination parameters are invalid"}', CannotMeasure, "request"),
        (301, b"", CannotMeasure, "status"),
    ],
)
def test_what_an_answer_means(status: int, body: bytes, raised: type[Exception], code: str) -> None:
    with pytest.raises(raised) as caught:
        checker.judge_answer("/api/queues", status, body)
    assert caught.value.code == code  # type: ignore[attr-defined]


def test_a_page_past_the_end_ends_paging_and_json_is_decoded() -> None:
    assert checker.judge_answer("/api/queues", 400, b'{"error":"page_out_of_range","reason":"x"}') is None
    assert checker.judge_answer("/api/nodes", 200, b"[1]") == [1]


def test_rejected_request_reason_is_quoted_bounded() -> None:
    with pytest.raises(CannotMeasure) as caught:
        checker.judge_answer("/api/queues", 400, json.dumps({"reason": "x" * 500}).encode())
    assert len(caught.value.reason) < 200


def test_per_queue_documents_have_check_and_queue_dimensions() -> None:
    own = {"backlog": {"threshold": 5}, "growth": {"threshold": 1}}
    s = spec(queues=[{"name": "orders", "alarms": own}])
    values = {"Backlog": 3.0, "GrowthRate": 0.5, "UnackedPercent": 10.0}
    documents = checker.queue_documents(s, {"orders": values}, 123)
    (document,) = documents
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Vigil"
    assert directive["Dimensions"] == [["Check", "Queue"]]
    # Only what the queue's own alarms read is a metric; unacked is pooled, a plain field here.
    assert directive["Metrics"] == [
        {"Name": "Backlog", "Unit": "Count"},
        {"Name": "GrowthRate", "Unit": "Count/Second"},
    ]
    assert document["UnackedPercent"] == 10.0
    assert (document["Check"], document["Queue"], document["Backlog"], document["GrowthRate"]) == (
        "events-broker",
        "orders",
        3.0,
        0.5,
    )
    assert document["_aws"]["Timestamp"] == 123


def test_documents_leave_in_one_write_one_line_each() -> None:
    writes: list[str] = []
    s = spec(queues=[{"name": f"q{i}", "alarms": {"backlog": {"threshold": 5}}} for i in range(3)])
    per_queue = {f"q{i}": {"Backlog": float(i)} for i in range(3)}
    checker.write_documents(checker.queue_documents(s, per_queue, 1), writes.append)
    (text,) = writes
    assert [json.loads(line)["Queue"] for line in text.splitlines()] == ["q0", "q1", "q2"]
    checker.write_documents([], writes.append)
    assert len(writes) == 1


@pytest.mark.parametrize(
    "secret", [{}, {"username": "u"}, {"username": "", "password": "p"}, {"username": 1, "password": "p"}]
)
def test_a_secret_without_username_and_password_is_a_secret_error(secret: dict) -> None:
    with pytest.raises(SecretError) as caught:
        checker.credentials("rabbit-monitoring", secret)
    assert "rabbit-monitoring" in str(caught.value)


def test_credentials_from_the_secret() -> None:
    assert checker.credentials("s", {"username": "u", "password": "p"}) == ("u", "p")


def test_items_without_the_asked_columns_come_as_empty_lists_and_count_as_empty() -> None:
    # Seen on 3.10: a just-declared queue listed before its stats exist is [] instead of {}.
    evaluation = checker.evaluate(spec(), [NODE_OK, []], [[], item("q", ready=2) | {"message_stats": []}], NOW)
    assert evaluation.values["Queues"] == 2 and evaluation.values["Backlog"] == 2
    assert evaluation.values["ResourceAlarm"] == 1  # the nameless node is not known to run


def test_samples_name_the_queues_to_look_at_first() -> None:
    queues = [
        checker.queue_figures(item("deep", ready=900, consumers=3)),
        checker.queue_figures(item("idle", consumers=1)),
        checker.queue_figures(item("orphan", vhost="campaigns", ready=5)),
    ]

    samples = checker.queue_samples(queues)

    # No consumer first; queues with nothing waiting are left out.
    assert [s.split(" ")[0].rstrip(":") for s in samples] == ["orphan", "deep"]
    assert samples[0] == "orphan (vhost campaigns): 5 ready, 0 unacked, 0 consumers, growing +0.0/s"
    assert samples[1].startswith("deep: 900 ready")
    nameless = {k: v for k, v in item("", ready=5).items() if k not in ("name", "vhost")}  # a whole-broker read
    assert checker.queue_samples([checker.queue_figures(nameless)]) == ()
