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
    assert spec.active_signals() == ["backlog", "no_consumers", "memory", "disk"]
    assert {s: spec.rule(s).describe(spec.signals[s].unit) for s in spec.active_signals()} == {
        "backlog": "> 10000 messages for 3 of 3 minutes",
        "no_consumers": ">= 1 for 3 of 3 minutes",
        "memory": "> 80 % for 3 of 3 minutes",
        "disk": "< 2 x limit for 3 of 3 minutes",
    }
    # A broker that stops reporting node metrics is down or being replaced.
    assert spec.rule("memory").missing_data.value == "breaching"


def test_listed_queues_add_queue_signals_and_default_vhost():
    spec = check(queues=[{"name": "email-sends"}, {"name": "sms", "vhost": "campaigns"}])
    assert spec.active_signals()[-2:] == ["queue_backlog", "queue_no_consumers"]
    assert [(q.vhost, q.name) for q in spec.queues] == [("/", "email-sends"), ("campaigns", "sms")]
    assert [alarm_metrics(spec, s) for s in ("backlog", "memory", "queue_backlog", "queue_no_consumers")] == [
        1,
        2,
        2,
        4,
    ]


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ({"broker": None}, ["check broker: broker:"]),
        ({"broker": "b-1234abcd-56ef-78ab-90cd-1234567890ab.mq"}, ["check broker: broker:", "allowed: text matching"]),
        ({"alarms": {"queue_backlog": {}}}, ["alarms.queue_backlog: the check lists no queues"]),
        ({"alarms": {"memory": {"statistic": "Average"}}}, ["alarms.memory: statistic is fixed"]),
        ({"queues": [{"name": "a"}, {"name": "a", "vhost": "/"}]}, ["queues: a queue is listed twice"]),
        ({"queues": [{"name": f"q{i}"} for i in range(6)]}, ["check broker: queues:", "at most 5"]),
        ({"queues": [{"name": "a", "durable": True}]}, ["queues.0.durable"]),
    ],
)
def test_bad_entries_say_what_is_allowed(tmp_path, entry, fragments):
    found = catalog_problems(tmp_path, entry)
    assert any(all(f in line for f in fragments) for line in found), found
