"""Kind `consistency` against Elasticsearch/OpenSearch: exact counts per bucket from `_count` (the
documented answer shape, served by the loopback server), the request body per bucket, the errors
that must fail the run rather than give a count, and the comparison streaming checksums only for
buckets whose counts agree."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.http_server import LoopbackServer, Reply, running_server
from vigil.checkers import consistency as checker
from vigil.checkers.runner import CannotMeasure, make_event
from vigil.consistency import stores
from vigil.consistency.compare import Comparison, Options
from vigil.consistency.model import FieldType, KeyType, Range
from vigil.consistency.stores import SearchClient, SearchIndexEndpoint
from vigil.consistency.stream import Record, ScanEndpoint, Shape

CUTOFF = datetime(2024, 3, 1, 9, 15, 0, 123456, tzinfo=UTC)
SHAPE = Shape((KeyType.int,), (FieldType.parse("text"),), CUTOFF)
MAPPING_PATH = "/campaigns/_mapping/field/id,updated_at"
SHARDS = {"total": 5, "successful": 5, "skipped": 0, "failed": 0}


def answer(body: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(body).encode())


def mapping(key_type: str = "long", stamp_type: str = "date") -> Reply:
    fields = {"id": {"type": key_type}, "updated_at": {"type": stamp_type}}
    return answer({"campaigns": {"mappings": {n: {"full_name": n, "mapping": {n: m}} for n, m in fields.items()}}})


def search_endpoint(server: LoopbackServer) -> SearchIndexEndpoint:
    client = SearchClient(server.base_url, timeout=5, username="vigil", password="s3cret")
    return SearchIndexEndpoint("target", SHAPE, client, "campaigns", "id", ["name"], "updated_at")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with running_server() as loopback:
        yield loopback


def test_counts_per_bucket_come_from_count_one_range_each_lag_left_out(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stores, "COUNT_WORKERS", 1)  # replies are scripted in request order
    server.replies[MAPPING_PATH] = [mapping()]
    server.replies["/campaigns/_count"] = [answer({"count": n, "_shards": SHARDS}) for n in (7, 0, 123456)]
    counts = search_endpoint(server).count_many([[Range(None, 10), Range(10, 20)], [Range(20, None)]])
    assert counts == [[7, 0], [123456]]
    bodies = [json.loads(r.body) for r in server.requests if r.path == "/campaigns/_count"]
    late = {"range": {"updated_at": {"gt": "2024-03-01T09:15:00.123456Z", "format": "strict_date_optional_time_nanos"}}}
    assert bodies == [
        {"query": {"bool": {"filter": [{"range": {"id": {"lt": 10}}}], "must_not": [late]}}},
        {"query": {"bool": {"filter": [{"range": {"id": {"gte": 10, "lt": 20}}}], "must_not": [late]}}},
        {"query": {"bool": {"filter": [{"range": {"id": {"gte": 20}}}], "must_not": [late]}}},
    ]
    assert all(r.headers["authorization"].startswith("Basic ") for r in server.requests)
    assert [r.method for r in server.requests] == ["GET", "POST", "POST", "POST"]  # the mapping read once


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (mapping(key_type="keyword"), "a keyword key orders '10' before '9'"),
        (mapping(stamp_type="keyword"), "updated_at as text: the lag cannot be a date range"),
        (answer({"error": {"type": "security_exception", "reason": "no view_index_metadata"}}, 403), "403"),
    ],
)
def test_an_index_that_cannot_be_counted_by_range_is_counted_in_the_scan(
    server: LoopbackServer, reply: Reply, why: str
) -> None:
    server.replies[MAPPING_PATH] = [reply]
    endpoint = search_endpoint(server)
    assert endpoint.count_many([[Range(None, None)]]) is None, why
    assert endpoint.scan_query([Range(1, 5)]) is not None  # built, but not used:
    assert endpoint.ranged() is False
    assert not [r for r in server.requests if r.path.endswith("_count")]


def test_scans_are_restricted_to_the_ranges_asked_for_and_keys_the_index_could_not_index(
    server: LoopbackServer,
) -> None:
    endpoint = search_endpoint(server)
    query = endpoint.scan_query([Range(20, 30), Range(1, 10), Range(10, 20), Range(40, None)])
    assert query == {
        "bool": {
            "should": [
                {"range": {"id": {"gte": 1, "lt": 30}}},  # adjacent ranges merged
                {"range": {"id": {"gte": 40}}},
                {"term": {"_ignored": "id"}},
            ],
            "minimum_should_match": 1,
        }
    }
    assert endpoint.scan_query([Range(None, 5), Range(5, None)]) is None  # everything: no filter


COUNT_ERRORS = [
    pytest.param(
        answer(
            {
                "count": 40,
                "_shards": {
                    "total": 5,
                    "successful": 3,
                    "skipped": 0,
                    "failed": 2,
                    "failures": [
                        {"shard": 1, "index": "campaigns", "reason": {"type": "node_disconnected", "reason": "gone"}}
                    ],
                },
            }
        ),
        "partial",
        "2 of 5 shards failed: node_disconnected: gone",
        id="shards-failed",
    ),
    pytest.param(
        answer(
            {
                "error": {
                    "root_cause": [{"type": "es_rejected_execution_exception", "reason": "rejected execution"}],
                    "type": "es_rejected_execution_exception",
                    "reason": "rejected execution",
                },
                "status": 429,
            },
            429,
        ),
        "throttled",
        "429 es_rejected_execution_exception: rejected execution",
        id="429",
    ),
    pytest.param(
        answer(
            {
                "error": {
                    "root_cause": [{"type": "index_not_found_exception", "reason": "no such index [campaigns]"}],
                    "type": "index_not_found_exception",
                    "reason": "no such index [campaigns]",
                    "index": "campaigns",
                },
                "status": 404,
            },
            404,
        ),
        "index_missing",
        "POST /campaigns/_count: the index does not exist (404 index_not_found_exception: no such index [campaigns])",
        id="index-missing",
    ),
    pytest.param(answer({"_shards": SHARDS}), "protocol", "the answer has no count", id="no-count"),
]


@pytest.mark.parametrize(("reply", "code", "reason"), COUNT_ERRORS)
def test_a_count_error_raises_never_a_count(server: LoopbackServer, reply: Reply, code: str, reason: str) -> None:
    server.replies[MAPPING_PATH] = [mapping()]
    server.replies["/campaigns/_count"] = [reply]
    with pytest.raises(CannotMeasure) as failed:
        search_endpoint(server).count_many([[Range(1, 5)]])
    assert failed.value.code == code and reason in failed.value.reason


@pytest.mark.parametrize(("reply", "code", "reason"), COUNT_ERRORS)
def test_a_count_error_fails_the_run_with_its_reason(
    server: LoopbackServer, reply: Reply, code: str, reason: str
) -> None:
    """End to end through the checker: both sides an index, the first pass fine, then _count fails."""
    side = {"type": "search", "url": server.base_url, "index": "campaigns"}
    check = {
        "id": "campaigns-index",
        "kind": "consistency",
        "service": "campaigns",
        "severity": "warning",
        "cadence": 3600,
        "source": side,
        "target": side,
        "key": {"column": "id", "type": "int"},
        "fields": {"name": "text"},
        "mode": "in_lambda",
        "timeout": 60,
    }
    hits = [{"_id": f"d{i}", "_source": {"id": i, "name": f"n{i}"}, "sort": [i]} for i in range(1, 6)]
    server.replies["/campaigns/_pit"] = [answer({"id": "pit-1"})]
    server.replies["/_search"] = [answer({"pit_id": "pit-1", "_shards": SHARDS, "hits": {"hits": hits}})]
    server.replies["/_pit"] = [answer({"succeeded": True, "num_freed": 1})]
    server.replies["/campaigns/_mapping/field/id"] = [mapping()]
    server.replies["/campaigns/_count"] = [reply]
    result = checker.handler(make_event(checker.parse(check), {}), None)
    assert result["status"] == "failed" and result["values"] == {}  # no Differences, no row counts
    assert result["reason_code"] == code and reason in result["reason"]
    assert any(r.path == "/campaigns/_count" for r in server.requests)


# -- the comparison: counts first, checksums only where counts agree ------------------------------


class CountedScan(ScanEndpoint):
    """An in-memory store that counts exactly (count_many) and records the ranges each scan is
    restricted to, as SearchIndexEndpoint does against an index."""

    def __init__(self, name: str, records: list[Record]) -> None:
        super().__init__(name, Shape((KeyType.int,), (FieldType.parse("text"),)), lambda: iter(records))
        self.records = records
        self.scanned: list[list[Range]] = []
        self.counted: list[list[Range]] = []

    def count_many(self, groups: Sequence[Sequence[Range]]) -> list[list[int]]:
        self.counted.append([r for g in groups for r in g])
        return [[sum(1 for rec in self.records if rec.key in r) for r in group] for group in groups]

    def _scan_in(self, ranges: Sequence[Range]) -> Iterable[Record]:
        self.scanned.append(list(ranges))
        return [rec for rec in self.records if any(rec.key in r for r in ranges)]


def test_a_bucket_whose_counts_differ_is_drilled_without_streaming_it_for_a_checksum() -> None:
    source_records = [Record(i, [f"row {i}"]) for i in range(1, 401)]
    target_records = [Record(i, ["edited" if i == 250 else f"row {i}"]) for i in range(1, 401) if i != 50]
    source = ScanEndpoint("source", Shape((KeyType.int,), (FieldType.parse("text"),)), lambda: iter(source_records))
    target = CountedScan("target", target_records)
    found: list[str] = []
    comparison = Comparison(
        source, target, Options(buckets=4, fanout=4, row_threshold=10), lambda d: found.append(d.line())
    )
    try:
        tally = comparison.run()
    finally:
        comparison.close()
    assert sorted(found) == ["changed: 250", "missing: 50"] and tally.target_rows == 399
    top = [Range(None, 101), Range(101, 201), Range(201, 301), Range(301, None)]
    assert target.counted[0] == top
    # Top level: [-inf, 101) holds 99 rows against 100, so only the other three are streamed for
    # checksums ([201, 301): same count, an edited row, found to differ there).
    assert target.scanned[0] == top[1:]
    # No later scan reads [-inf, 101) whole for a checksum: its children, then their rows.
    assert all(top[0] not in ranges for ranges in target.scanned[1:])
    assert all(Range(26, 51) not in ranges for ranges in target.scanned)  # its count differs too
    assert target.scanned[-1] == [Range(47, 51), Range(247, 251)]  # the two leaves' rows
