"""Record streams of the stores that are read row by row, for vigil.consistency.stream.ScanEndpoint.

DynamoDB: a parallel scan (Segment/TotalSegments), pages handed over through a bounded queue.
S3: every object under a prefix, JSON Lines or CSV (gzip when the name ends in .gz), streamed.
Elasticsearch/OpenSearch: a point in time and search_after paging, sorted by _shard_doc.

Each scan holds one page (or one line) at a time, never the collection. Parquet is not read: the
only reader, pyarrow, is larger unpacked than a Lambda deployment package may be; export JSON
Lines or CSV instead.
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import queue
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from vigil.checkers.runner import CannotMeasure
from vigil.consistency.stream import Record

PAGE = 1000


def _record(item: dict[str, Any], key: str, fields: Sequence[str], updated_at: str | None) -> Record:
    return Record(item.get(key), [item.get(f) for f in fields], item.get(updated_at) if updated_at else None)


# -- DynamoDB -------------------------------------------------------------------------------------


def dynamodb_scan(
    client: Any, table: str, key: str, fields: Sequence[str], updated_at: str | None = None, segments: int = 4
) -> Callable[[], Iterator[Record]]:
    """A parallel scan: `segments` workers, at most two pages per worker waiting in memory."""
    from boto3.dynamodb.types import TypeDeserializer

    names = [key, *fields, *([updated_at] if updated_at else [])]
    aliases = {f"#a{i}": name for i, name in enumerate(names)}
    deserialize = TypeDeserializer().deserialize

    def segment(number: int, out: queue.Queue[Any], stop: threading.Event) -> None:
        try:
            args: dict[str, Any] = {
                "TableName": table,
                "Segment": number,
                "TotalSegments": segments,
                "ProjectionExpression": ", ".join(aliases),
                "ExpressionAttributeNames": aliases,
                "Limit": PAGE,
            }
            while not stop.is_set():
                page = client.scan(**args)
                items = [{k: deserialize(v) for k, v in item.items()} for item in page.get("Items", [])]
                out.put([_record(item, key, fields, updated_at) for item in items])
                if "LastEvaluatedKey" not in page:
                    break
                args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            out.put(None)
        except Exception as exc:  # handed to the reader, which raises it
            out.put(exc)

    def scan() -> Iterator[Record]:
        out: queue.Queue[Any] = queue.Queue(maxsize=2 * segments)
        stop = threading.Event()
        workers = [threading.Thread(target=segment, args=(n, out, stop), daemon=True) for n in range(segments)]
        for worker in workers:
            worker.start()
        done = 0
        try:
            while done < segments:
                page = out.get()
                if page is None:
                    done += 1
                elif isinstance(page, Exception):
                    raise page
                else:
                    yield from page
        finally:
            stop.set()
            while any(w.is_alive() for w in workers):  # unblock workers waiting on a full queue
                try:
                    out.get_nowait()
                except queue.Empty:
                    for worker in workers:
                        worker.join(timeout=0.05)

    return scan


# -- S3 -------------------------------------------------------------------------------------------


def s3_scan(
    client: Any, bucket: str, prefix: str, fmt: str, key: str, fields: Sequence[str], updated_at: str | None = None
) -> Callable[[], Iterator[Record]]:
    """Every object under the prefix, line by line; in CSV an empty cell is NULL."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"format {fmt!r}: use jsonl or csv")

    def objects() -> Iterator[str]:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):
                    yield obj["Key"]

    def lines(name: str) -> io.TextIOBase:
        body = client.get_object(Bucket=bucket, Key=name)["Body"]
        raw: Any = gzip.GzipFile(fileobj=body) if name.endswith(".gz") else body
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")

    def scan() -> Iterator[Record]:
        for name in objects():
            with lines(name) as text:
                if fmt == "jsonl":
                    for number, line in enumerate(text, start=1):
                        if line.strip():
                            item = json.loads(line)
                            if not isinstance(item, dict):
                                raise ValueError(f"s3://{bucket}/{name} line {number}: not a JSON object")
                            yield _record(item, key, fields, updated_at)
                else:
                    for row in csv.DictReader(text):
                        yield _record({k: (v if v != "" else None) for k, v in row.items()}, key, fields, updated_at)

    return scan


# -- Elasticsearch / OpenSearch -------------------------------------------------------------------


class RedirectRefused(CannotMeasure):
    """The search endpoint answered with a redirect, which the client does not follow."""


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a 30x and send the Authorization header along to wherever it points
    (another host included): refuse instead, so the credentials go only to the configured url."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        where = urllib.parse.urlsplit(newurl)
        raise RedirectRefused(
            "redirect",
            f"{req.get_method()} {urllib.parse.urlsplit(req.full_url).path}: the search endpoint answered {code} "
            f"redirecting to {where.scheme}://{where.netloc}{where.path}; vigil does not follow redirects "
            "(the credentials would go along): set the source or target url to the final address",
        )


class SearchClient:
    """The few calls a scan needs, over plain HTTP(S) with basic auth or an API key. Redirects
    are refused (RedirectRefused), never followed."""

    def __init__(
        self,
        url: str,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
        api_key: str | None = None,
        flavor: str = "elasticsearch",
    ) -> None:
        self.url, self.timeout, self.flavor = url.rstrip("/"), timeout, flavor
        self._opener = urllib.request.build_opener(_RefuseRedirects)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"ApiKey {api_key}"
        elif username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=self.headers)
        with self._opener.open(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"null")

    def open_pit(self, index: str, keep_alive: str) -> str:
        if self.flavor == "opensearch":
            return str(self.call("POST", f"/{index}/_search/point_in_time?keep_alive={keep_alive}")["pit_id"])
        return str(self.call("POST", f"/{index}/_pit?keep_alive={keep_alive}")["id"])

    def close_pit(self, pit: str) -> None:
        if self.flavor == "opensearch":
            self.call("DELETE", "/_search/point_in_time", {"pit_id": [pit]})
        else:
            self.call("DELETE", "/_pit", {"id": pit})

    def count(self, index: str, query: dict[str, Any]) -> int:
        return int(self.call("POST", f"/{index}/_count", {"query": query})["count"])


def search_scan(
    client: SearchClient,
    index: str,
    key: str,
    fields: Sequence[str],
    updated_at: str | None = None,
    keep_alive: str = "2m",
) -> Callable[[], Iterator[Record]]:
    """Every document of the index through one point in time (a consistent view), PAGE at a time.
    The key may be `_id` or a field of _source."""
    source_fields = [f for f in (key, *fields, *([updated_at] if updated_at else [])) if f != "_id"]

    def scan() -> Iterator[Record]:
        pit = client.open_pit(index, keep_alive)
        try:
            after: list[Any] | None = None
            while True:
                body: dict[str, Any] = {
                    "size": PAGE,
                    "pit": {"id": pit, "keep_alive": keep_alive},
                    "sort": [{"_shard_doc": "asc"}],
                    "_source": source_fields,
                    "track_total_hits": False,
                }
                if after is not None:
                    body["search_after"] = after
                found = client.call("POST", "/_search", body)
                pit = found.get("pit_id", pit)
                hits = found["hits"]["hits"]
                for hit in hits:
                    item = dict(hit.get("_source") or {}) | {"_id": hit.get("_id")}
                    yield _record(item, key, fields, updated_at)
                if len(hits) < PAGE:
                    return
                after = hits[-1]["sort"]
        finally:
            client.close_pit(pit)

    return scan
