"""Kind `consistency` between PostgreSQL and the stores read row by row: DynamoDB and S3 (moto),
Elasticsearch/OpenSearch (recorded answer shapes served on loopback). The same data and the same
injected differences as the SQL pair (tests/fixtures/consistency/data.py); the source is PostgreSQL
hashing MD5 in SQL, the target is hashed in Python: one canonical form on both sides."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import Engine

from tests.fixtures.consistency.data import EXPECTED, EXPECTED_COUNTS, FIELDS, LAG, TYPES, source_rows, target_rows
from tests.integration.test_consistency_sql import SCHEMA, endpoint, now, pg, run  # noqa: F401 (fixtures)
from vigil.consistency.model import KeyType
from vigil.consistency.stores import SearchClient, dynamodb_scan, s3_scan, search_scan
from vigil.consistency.stream import ScanEndpoint, Shape

pytestmark = pytest.mark.service


def document(row: dict[str, Any]) -> dict[str, Any]:
    """A row as a JSON store holds it: ISO timestamps with their zone, decimals as JSON numbers."""
    return {k: v.isoformat() if isinstance(v, datetime) else float(v) if k == "budget" else v for k, v in row.items()}


def python_side(scan: Any, at: datetime) -> ScanEndpoint:
    return ScanEndpoint("target", Shape(KeyType.int, TYPES, at - LAG), scan)


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


class FakeSearch(ThreadingHTTPServer):
    """Answers as Elasticsearch 8 does (shapes recorded from its docs): _pit, _search with pit,
    sort and search_after, DELETE _pit. OpenSearch's point_in_time paths too."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), _SearchHandler)
        self.docs = docs
        self.calls: list[str] = []
        self.open_pits: set[str] = set()


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
            start = body.get("search_after", [-1])[0] + 1
            page = self.server.docs[start : start + body["size"]]
            hits = [
                {
                    "_index": "campaigns",
                    "_id": f"doc-{start + i}",
                    "_score": None,
                    "_source": {k: d.get(k) for k in body["_source"] if k in d},
                    "sort": [start + i],
                }
                for i, d in enumerate(page)
            ]
            return self._send(200, {"pit_id": body["pit"]["id"], "took": 1, "timed_out": False, "hits": {"hits": hits}})
        return self._send(404, {"error": path})

    def do_DELETE(self) -> None:
        body = self._body()
        self.server.calls.append(f"DELETE {self.path}")
        pits = body.get("pit_id") or [body.get("id")]
        self.server.open_pits.difference_update(pits)
        self._send(200, {"succeeded": True, "num_freed": 1})


@pytest.mark.parametrize("flavor", ["elasticsearch", "opensearch"])
def test_postgresql_to_search_index(pg: Engine, now: datetime, flavor: str) -> None:  # noqa: F811
    server = FakeSearch([document(r) for r in target_rows(now, key_as_text=True)])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = SearchClient(
            f"http://127.0.0.1:{server.server_port}", timeout=5, username="u", password="p", flavor=flavor
        )
        target = python_side(search_scan(client, "campaigns", "id", FIELDS, "updated_at"), now)
        tally, found = run(endpoint(pg, f"{SCHEMA}.campaigns", now), target)
    finally:
        server.shutdown()
    assert set(found) == EXPECTED and tally.counts == EXPECTED_COUNTS
    assert not server.open_pits  # every point in time closed
    assert server.calls.count("POST /_search") > 2  # paged with search_after


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
