"""Alarms and checker cannot drift apart: every metric (name, namespace, dimensions) an alarm of
infra/checks/rabbitmq.py watches (infra.signal_alarms) is in the EMF the checker writes in a full run.

The run is the Lambda's handler (runner, `measure`, the per-queue documents and the check's own
line) against a canned management API: the HTTP exchange is replaced, everything from the decoded
answer on (fetch, paging, evaluate, emit) is the checker's own code.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.catalog import load_catalog
from infra.plan import custom_metrics
from infra.signal_alarms import checker_alarms
from tests.support.catalogs import FIXTURE_CATALOG
from tests.support.emf import emf_lines
from tests.unit.test_rabbitmq_checker import BASE
from vigil import secrets
from vigil.checkers import rabbitmq as checker
from vigil.checkers.runner import make_event
from vigil.notifier.evidence import newest
from vigil.spec.rabbitmq import RabbitmqCheck

SAMPLE = load_catalog(FIXTURE_CATALOG)
NOW = 1_700_000_000
NODES = [{"name": "rabbit@a", "running": True, "mem_alarm": False, "disk_free_alarm": False}]

Series = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, metric, dimensions


def queue(name: str, vhost: str) -> dict[str, Any]:
    return {
        "name": name,
        "vhost": vhost,
        "messages_ready": 5,
        "messages_unacknowledged": 1,
        "consumers": 1,
        "head_message_timestamp": NOW,
        "message_stats": {
            "publish_details": {"rate": 2.0},
            "deliver_get_details": {"rate": 1.0},
            "ack_details": {"rate": 1.0},
        },
    }


def listing(spec: RabbitmqCheck) -> list[dict[str, Any]]:
    """Every listed queue, and one more the pattern (or the whole broker) selects."""
    vhost = spec.queue_vhost
    extra = "events.x" if spec.pattern is None else _matching(spec.pattern)
    return [queue(q.name, vhost) for q in spec.queues] + [queue(extra, vhost)]


def _matching(pattern: str) -> str:
    candidates = ["campaign-events.orders", "events.a", "a"]
    return next(n for n in candidates if re.search(pattern, n))


def canned_api(
    spec: RabbitmqCheck, monkeypatch: pytest.MonkeyPatch, queues: list[dict[str, Any]] | None = None
) -> list[str]:
    asked: list[str] = []
    queues = listing(spec) if queues is None else queues

    def request(self: checker.ManagementApi, path: str, target: str) -> tuple[int, bytes]:
        asked.append(target)
        if target.startswith("/api/nodes"):
            return 200, json.dumps(NODES).encode()
        assert target.startswith(checker.queues_path(spec)), target
        if "page=" in target:  # the paged form: listed queues only
            return 200, json.dumps({"items": queues, "page": 1, "page_count": 1}).encode()
        return 200, json.dumps(queues).encode()

    monkeypatch.setattr(checker.ManagementApi, "_request", request)
    monkeypatch.setattr(secrets, "get_json_secret", lambda secret_id: {"username": "u", "password": "p"})
    return asked


def emitted(stdout: str) -> set[Series]:
    found = set()
    for document in emf_lines(stdout):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                dims = frozenset((d, document[d]) for d in dimensions)
                found |= {(directive["Namespace"], m["Name"], dims) for m in directive["Metrics"]}
    return found


def alarmed(spec: RabbitmqCheck) -> dict[str, Series]:
    return {alarm.signal: (alarm.namespace, *alarm.series) for alarm in checker_alarms(spec)}


def _spec(**fields: Any) -> RabbitmqCheck:
    return RabbitmqCheck.model_validate({**BASE, **fields})


SPECS = {
    "sample": SAMPLE.by_id("campaign-events-broker"),
    "whole broker": _spec(),
    "whole vhost": _spec(vhost="campaigns"),
    "listed only": _spec(queues=["orders", {"name": "emails", "alarms": {"backlog": {"threshold": 5}}}]),
    "pattern only": _spec(pattern="^events\\."),
    "listed and pattern, every vhost": _spec(queues=["orders"], pattern="^events\\."),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_the_checker_writes_exactly_the_alarmed_metrics(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = SPECS[name]
    assert isinstance(spec, RabbitmqCheck)
    asked = canned_api(spec, monkeypatch)
    capsys.readouterr()

    result = checker.handler(make_event(spec, {spec.credentials_secret: "vigil/test/rabbit"}))

    assert result["status"] == "ok", result
    assert result["reason"] is None, result  # every queue found: the run every alarm must see
    assert asked, "the canned API was not used"
    series = emitted(capsys.readouterr().out)
    unseen = {signal: s for signal, s in alarmed(spec).items() if s not in series}
    assert not unseen, f"alarms on metrics the checker never writes: {unseen}; it writes {sorted(series, key=str)}"
    # ... and nothing else (vigil.result.METRIC_BUDGETS): each series is a custom metric, and plan counts them.
    assert series == set(alarmed(spec).values())
    assert len(series) == custom_metrics(spec)


def test_the_check_under_test_alarms_on_per_queue_and_check_level_series() -> None:
    # Guards the test itself: the sample covers both dimension sets and the queue_missing signal.
    dimension_sets = {frozenset(d for d, _ in s[2]) for s in alarmed(SPECS["sample"]).values()}  # type: ignore[arg-type]
    assert dimension_sets == {frozenset({"Check"}), frozenset({"Check", "Queue"})}
    assert "queue_missing" in SPECS["sample"].active_signals()


def test_the_alarm_e_mails_evidence_names_the_worst_listed_queue(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # campaign-emails has no backlog override: its backlog is in the check-level worst-of series,
    # and the run's line (what the notifier reads for the ALARM e-mail) says it is the worst.
    spec = SPECS["sample"]
    assert isinstance(spec, RabbitmqCheck)
    vhost = spec.queue_vhost
    deep = queue("campaign-emails", vhost) | {"messages_ready": 4000}
    canned_api(spec, monkeypatch, [queue("campaign-orders", vhost), deep, queue("campaign-events.a", vhost)])
    capsys.readouterr()

    checker.handler(make_event(spec, {spec.credentials_secret: "vigil/test/rabbit"}))

    out = capsys.readouterr().out
    run_line = next(line for line in out.splitlines() if '"status"' in line)
    evidence = newest([(NOW * 1000, run_line)], spec.id)
    assert evidence is not None
    assert evidence.samples[0].startswith("worst queue per signal: backlog campaign-emails (4000 ready)")
    own = {document["Queue"] for document in emf_lines(out) if "Queue" in document}
    assert own == {"campaign-orders"}  # campaign-emails has no alarm of its own: no series of its own
