"""Kind `amazonmq` catalog entries: broker signals, listed queues, and the errors the catalog prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from infra.plan import alarm_metrics
from vigil.spec.amazonmq import AmazonMqCheck

SETTINGS = {
    "contacts": {"oncall": {"email": "oncall@example.com"}},
    "routes": {"all": {"email": ["oncall"]}},
    "self_monitoring_route": "all",
}
BASE = {"id": "broker", "kind": "amazonmq", "severity": "critical", "broker": "campaign-notifications"}


def check(**fields: object) -> AmazonMqCheck:
    return AmazonMqCheck.model_validate({**BASE, "service": "notifications", **fields})


def catalog_problems(tmp_path: Path, entry: dict) -> list[str]:
    (tmp_path / "_settings.yaml").write_text(yaml.safe_dump(SETTINGS))
    (tmp_path / "n.yaml").write_text(yaml.safe_dump({"service": "notifications", "checks": [{**BASE, **entry}]}))
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    return [str(p) for p in caught.value.problems]


def test_broker_signals_and_their_defaults():
    spec = check()
    # memory has no default threshold (RabbitMQMemLimit depends on the instance type): off until set.
    assert spec.active_signals() == ["backlog", "no_consumers", "disk"]
    assert {s: spec.rule(s).describe(spec.signals[s].unit) for s in spec.active_signals()} == {
        "backlog": "> 10000 messages for 3 of 3 minutes",
        "no_consumers": ">= 1 for 3 of 3 minutes",
        "disk": "< 5 GiB for 3 of 3 minutes",
    }
    # A broker that stops reporting node metrics is down or being replaced.
    assert spec.rule("disk").missing_data.value == "breaching"


def test_memory_is_active_with_a_threshold_in_gib():
    spec = check(alarms={"memory": {"threshold": 6}})
    assert spec.active_signals() == ["backlog", "no_consumers", "memory", "disk"]
    assert spec.rule("memory").describe(spec.signals["memory"].unit) == "> 6 GiB for 3 of 3 minutes"
    assert spec.rule("memory").missing_data.value == "breaching"
    # Other overrides alone do not switch it on; the catalog refuses them (see the bad entries below).
    assert "memory" not in check(alarms={"disk": {"threshold": 2}}).active_signals()


def test_listed_queues_add_queue_signals_and_default_vhost():
    spec = check(queues=[{"name": "email-sends"}, {"name": "sms", "vhost": "campaigns"}])
    assert spec.active_signals()[-2:] == ["queue_backlog", "queue_no_consumers"]
    assert [(q.vhost, q.name) for q in spec.queues] == [("/", "email-sends"), ("campaigns", "sms")]
    # memory and disk: one Metrics Insights query each, priced per node of a 3-node cluster.
    assert [alarm_metrics(spec, s) for s in ("backlog", "memory", "disk", "queue_backlog", "queue_no_consumers")] == [
        1,
        3,
        3,
        2,
        4,
    ]


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ({"broker": None}, ["check broker: broker:"]),
        (
            {"broker": "b-1234abcd-56ef-78ab-90cd-1234567890ab.mq"},
            ["check broker: broker:", "allowed: a broker name: 1 to 50 letters"],
        ),
        ({"alarms": {"queue_backlog": {}}}, ["alarms.queue_backlog: the check lists no queues"]),
        ({"alarms": {"disk": {"statistic": "Average"}}}, ["alarms.disk: statistic is fixed"]),
        ({"alarms": {"memory": {"threshold": 5, "statistic": "Average"}}}, ["alarms.memory: statistic is fixed"]),
        ({"alarms": {"memory": {}}}, ["alarms.memory: give a threshold in GiB", "RabbitMQMemLimit"]),
        ({"alarms": {"memory": {"evaluation_periods": 5}}}, ["alarms.memory: give a threshold in GiB"]),
        ({"queues": [{"name": "a"}, {"name": "a", "vhost": "/"}]}, ["queues: a queue is listed twice"]),
        ({"queues": [{"name": f"q{i}"} for i in range(6)]}, ["check broker: queues:", "at most 5"]),
        ({"queues": [{"name": "a", "durable": True}]}, ["queues.0.durable"]),
    ],
)
def test_bad_entries_say_what_is_allowed(tmp_path, entry, fragments):
    found = catalog_problems(tmp_path, entry)
    assert any(all(f in line for f in fragments) for line in found), found
