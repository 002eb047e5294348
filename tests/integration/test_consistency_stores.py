"""Kind `consistency` between PostgreSQL and the stores read row by row: DynamoDB and S3 (moto),
Elasticsearch/OpenSearch (recorded answer shapes served on loopback). The same data and the same
injected differences as the SQL pair (tests/fixtures/consistency/data.py); the source is PostgreSQL
hashing MD5 in SQL, the target is hashed in Python: one canonical form on both sides."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import Engine

from tests.fixtures.consistency.data import EXPECTED, EXPECTED_COUNTS, FIELDS, LAG, TYPES, source_rows, target_rows
from tests.fixtures.consistency.parquet import put_parquet
from tests.integration.test_consistency_sql import SCHEMA, endpoint, now, pg, run  # noqa: F401 (fixtures)
from vigil.consistency.model import KeyType
from vigil.consistency.stores import SearchClient, SearchIndexEndpoint, dynamodb_scan, s3_scan, search_scan
from vigil.consistency.stream import ScanEndpoint, Shape

pytestmark = pytest.mark.service


def document(row: dict[str, Any]) -> dict[str, Any]:
    """A row as a JSON store holds it: ISO timestamps with their zone, decimals as JSON numbers."""
    return {k: v.isoformat() if isinstance(v, datetime) else float(v) if k == "budget" else v for k, v in row.items()}


def python_side(scan: Any, at: datetime) -> ScanEndpoint:
    return ScanEndpoint("target", Shape((KeyType.int,), TYPES, at - LAG), scan)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_postgresql_to_dynamodb(pg: Engine, now: datetime, aws: None) -> None:  # noqa: F811
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="campaigns",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("campaigns")
    with table.batch_writer() as batch:
        for n, row in enumerate(target_rows(now, key_as_text=True)):
            item = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items() if v is not None}
            batch.put_item(Item={"pk": f"CAMPAIGN#{n}", **item})  # ids as strings, one without an id
    target = python_side(dynamodb_scan(client, "campaigns", "id", FIELDS, "updated_at", segments=3), now)
    tally, found = run(endpoint(pg, f"{SCHEMA}.campaigns", now), target)
    assert set(found) == EXPECTED and tally.counts == EXPECTED_COUNTS


def put_objects(client: Any, prefix: str, lines: list[str], gz_last: bool = True) -> None:
    client.create_bucket(Bucket="exports")
    third = len(lines) // 3
    parts = [lines[:third], lines[third : 2 * third], lines[2 * third :]]
    for n, part in enumerate(parts):
        body = "".join(part).encode()
        name = f"{prefix}part-{n}.jsonl"
        if gz_last and n == 2:
            body, name = gzip.compress(body), name + ".gz"
        client.put_object(Bucket="exports", Key=name, Body=body)


def test_postgresql_to_s3_json_lines(pg: Engine, now: datetime, aws: None) -> None:  # noqa: F811
    client = boto3.client("s3", region_name="us-east-1")
    rows = target_rows(now, key_as_text=True)
    put_objects(client, "campaigns/2024-03-01/", [json.dumps(document(r)) + "\n" for r in rows])
    target = python_side(s3_scan(client, "exports", "campaigns/2024-03-01/", "jsonl", "id", FIELDS, "updated_at"), now)
    tally, found = run(endpoint(pg, f"{SCHEMA}.campaigns", now), target)
    assert set(found) == EXPECTED and tally.counts == EXPECTED_COUNTS


def test_postgresql_to_s3_csv_identical_is_clean(pg: Engine, now: datetime, aws: None) -> None:  # noqa: F811
    client = boto3.client("s3", region_name="us-east-1")
    header = ",".join(["id", *FIELDS, "updated_at"]) + "\n"
    lines = [
        ",".join(
            str(v.isoformat() if isinstance(v, datetime) else v)
            for v in (r["id"], *(r[f] for f in FIELDS), r["updated_at"])
        )
        .replace("True", "true")
        .replace("False", "false")
        + "\n"
        for r in source_rows(now)
    ]
    client.create_bucket(Bucket="exports")
    client.put_object(Bucket="exports", Key="csv/all.csv", Body=(header + "".join(lines)).encode())
    target = python_side(s3_scan(client, "exports", "csv/", "csv", "id", FIELDS, "updated_at"), now)
    tally, found = run(endpoint(pg, f"{SCHEMA}.campaigns", now), target)
    assert found == [] and tally.target_rows == 2000


@pytest.mark.parametrize("in_memory", [64 * 2**20, 0], ids=["in-memory", "via-tmp"])
def test_postgresql_to_s3_parquet(
    pg: Engine,  # noqa: F811
    now: datetime,  # noqa: F811
    aws: None,
    in_memory: int,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ids as a string column (one not a number), starts_at in a named zone, budget decimal(12,2),
    updated_at in nanoseconds, several row groups per file: the same differences as JSON Lines."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    client = boto3.client("s3", region_name="us-east-1")
    put_parquet(client, "campaigns/parquet/", target_rows(now, key_as_text=True))
    scan = s3_scan(client, "exports", "campaigns/parquet/", "parquet", "id", FIELDS, "updated_at", in_memory=in_memory)
    tally, found = run(endpoint(pg, f"{SCHEMA}.campaigns", now), python_side(scan, now))
    assert set(found) == EXPECTED and tally.counts == EXPECTED_COUNTS
    assert list(tmp_path.iterdir()) == []  # downloaded objects are removed


# What vigil's _count and filtered scans need: the key as a number (text ids coerced, "abc"
# kept out of the index and listed in _ignored), updated_at as a date (milliseconds, as ES keeps).
RANGED = {"id": {"type": "long", "ignore_malformed": True}, "updated_at": {"type": "date"}}
KEYWORD_IDS = {"id": {"type": "keyword"}, "updated_at": {"type": "date"}}  # ranges of text: not used


class FakeSearch(ThreadingHTTPServer):
    """Answers as Elasticsearch 8 does (shapes recorded from its docs): _pit, _search with pit,
    sort, search_after and a query, DELETE _pit, _count, GET _mapping/field. OpenSearch's
    point_in_time paths too. Queries (bool, range, exists, term on _ignored) are evaluated on
    the values as the mapping indexes them."""

    def __init__(self, docs: list[dict[str, Any]], mapping: dict[str, Any] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _SearchHandler)
        self.docs = docs
        self.mapping = mapping or {}
        self.calls: list[str] = []
        self.open_pits: set[str] = set()
        self.count_bodies: list[Any] = []
        self.served = 0  # documents returned by _search

    def indexed(self, doc: dict[str, Any], name: str) -> Any:
        """The field's value as the index holds it; None when absent; MALFORMED when not indexed."""
        value, kind = doc.get(name), self.mapping.get(name, {}).get("type")
        if value is None:
            return None
        if kind == "long":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            text = str(value).strip()
            return int(text) if text.lstrip("+-").isdigit() else MALFORMED
        if kind == "date":
            return _ms(datetime.fromisoformat(str(value)))
        return str(value)

    def matches(self, query: dict[str, Any], doc: dict[str, Any]) -> bool:
        ((kind, arg),) = query.items()
        if kind == "match_all":
            return True
        if kind == "bool":
            should = arg.get("should", [])
            return (
                all(self.matches(q, doc) for q in arg.get("filter", []))
                and not any(self.matches(q, doc) for q in arg.get("must_not", []))
                and sum(self.matches(q, doc) for q in should) >= arg.get("minimum_should_match", 1 if should else 0)
            )
        if kind == "exists":
            return self.indexed(doc, arg["field"]) not in (None, MALFORMED)
        if kind == "term":
            ((name, value),) = arg.items()
            assert name == "_ignored"
            return self.indexed(doc, value) is MALFORMED
        assert kind == "range", query
        ((name, bounds),) = arg.items()
        value = self.indexed(doc, name)
        if value in (None, MALFORMED):
            return False
        if "format" in bounds:
            assert bounds["format"] == "strict_date_optional_time_nanos"
            bounds = {op: _ms(datetime.fromisoformat(v)) for op, v in bounds.items() if op != "format"}
        ops = {"gte": value.__ge__, "gt": value.__gt__, "lt": value.__lt__}
        return all(ops[op](bound) for op, bound in bounds.items())


MALFORMED = object()


def _ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


class _SearchHandler(BaseHTTPRequestHandler):
    server: FakeSearch

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else {}

    def do_POST(self) -> None:
        body = self._body()
        path = self.path.split("?")[0]
        self.server.calls.append(f"POST {path}")
        if path.endswith(("/_pit", "/_search/point_in_time")):
            pit = f"pit-{len(self.server.calls)}"
            self.server.open_pits.add(pit)
            return self._send(200, {"id": pit} if path.endswith("/_pit") else {"pit_id": pit, "_shards": {"total": 1}})
        if path == "/_search":
            assert body["pit"]["id"] in self.server.open_pits and body["sort"] == [{"_shard_doc": "asc"}]
            after = body.get("search_after", [-1])[0]
            query = body.get("query", {"match_all": {}})
            found = [(n, d) for n, d in enumerate(self.server.docs) if n > after and self.server.matches(query, d)]
            hits = [
                {
                    "_index": "campaigns",
                    "_id": f"doc-{n}",
                    "_score": None,
                    "_source": {k: d.get(k) for k in body["_source"] if k in d},
                    "sort": [n],
                }
                for n, d in found[: body["size"]]
            ]
            self.server.served += len(hits)
            shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
            answer = {"pit_id": body["pit"]["id"], "took": 1, "timed_out": False, "_shards": shards}
            return self._send(200, answer | {"hits": {"hits": hits}})
        if path == "/campaigns/_count":
            self.server.count_bodies.append(body)
            count = sum(self.server.matches(body["query"], d) for d in self.server.docs)
            return self._send(
                200, {"count": count, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}
            )
        return self._send(404, {"error": path})

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.server.calls.append(f"GET {path}")
        prefix = "/campaigns/_mapping/field/"
        if not path.startswith(prefix):
            return self._send(404, {"error": path})
        names = [n for n in path[len(prefix) :].split(",") if n in self.server.mapping]
        fields = {n: {"full_name": n, "mapping": {n: self.server.mapping[n]}} for n in names}
        return self._send(200, {"campaigns": {"mappings": fields}})

    def do_DELETE(self) -> None:
        body = self._body()
        self.server.calls.append(f"DELETE {self.path}")
        pits = body.get("pit_id") or [body.get("id")]
        self.server.open_pits.difference_update(pits)
        self._send(200, {"succeeded": True, "num_freed": 1})


@pytest.mark.parametrize("flavor", ["elasticsearch", "opensearch"])
@pytest.mark.parametrize("mapping", [RANGED, KEYWORD_IDS, None], ids=["counted", "keyword-ids", "scan-only"])
def test_postgresql_to_search_index(pg: Engine, now: datetime, flavor: str, mapping: Any) -> None:  # noqa: F811
    docs = [document(r) for r in target_rows(now, key_as_text=True)]
    server = FakeSearch(docs, mapping)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = SearchClient(
            f"http://127.0.0.1:{server.server_port}", timeout=5, username="u", password="p", flavor=flavor
        )
        if mapping is None:  # the scan alone, as DynamoDB and S3 are read
            target: ScanEndpoint = python_side(search_scan(client, "campaigns", "id", FIELDS, "updated_at"), now)
        else:
            shape = Shape((KeyType.int,), TYPES, now - LAG)
            target = SearchIndexEndpoint("target", shape, client, "campaigns", "id", FIELDS, "updated_at")
        tally, found = run(endpoint(pg, f"{SCHEMA}.campaigns", now), target)
    finally:
        server.shutdown()
    assert set(found) == EXPECTED and tally.counts == EXPECTED_COUNTS
    assert not server.open_pits  # every point in time closed
    assert server.calls.count("POST /_search") > 2  # paged with search_after
    if mapping is RANGED:
        # Counts per bucket from _count (range on the key, lag left out); checksums and rows from
        # scans of the buckets whose counts agree: well under the four full passes of a scan.
        assert len(server.count_bodies) >= 8 and server.served < 3 * len(docs), server.served
        cutoff = (now - LAG).astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
        late = {"range": {"updated_at": {"gt": cutoff, "format": "strict_date_optional_time_nanos"}}}
        for body in server.count_bodies:
            (key_filter,) = body["query"]["bool"]["filter"]
            assert set(key_filter["range"]["id"]) <= {"gte", "lt"}
            assert body["query"]["bool"]["must_not"] == [late]
    else:  # counts come from the scan: four passes over every document
        assert not server.count_bodies and server.served >= 4 * len(docs)


def test_search_client_refuses_a_redirect_and_keeps_the_credentials() -> None:
    from tests.support.http_server import running_server
    from vigil.checkers.runner import CannotMeasure

    with running_server() as server:
        client = SearchClient(server.base_url, timeout=5, username="vigil", password="s3cret")
        with pytest.raises(CannotMeasure) as refused:
            client.call("POST", "/redirect", {"query": {"match_all": {}}})
        # One request, to the configured url: urllib would have resent Authorization to /health.
        assert [r.path for r in server.requests] == ["/redirect"]
        assert server.requests[0].headers["authorization"].startswith("Basic ")
    assert refused.value.code == "redirect"
    assert "answered 302" in refused.value.reason and f"{server.base_url}/health" in refused.value.reason
    assert "does not follow redirects" in refused.value.reason
