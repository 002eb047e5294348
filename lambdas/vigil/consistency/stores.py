"""Record streams of the stores that are read row by row, for vigil.consistency.stream.ScanEndpoint.

DynamoDB: a parallel scan (Segment/TotalSegments), pages handed over through a bounded queue.
S3: every object under a prefix, JSON Lines or CSV (gzip when the name ends in .gz), streamed, or
Parquet, read a row batch at a time.
Elasticsearch/OpenSearch: a point in time and search_after paging, sorted by _shard_doc; exact
counts per bucket from _count, and scans restricted to the buckets asked for (SearchIndexEndpoint).

Each scan holds one page (or one line, or one Parquet row batch) at a time, never the collection.
pyarrow ships only in the consistency checker's own asset (infra/packaging.py), imported only when
a Parquet side is read.
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from vigil.checkers.runner import CannotMeasure
from vigil.consistency.model import Range
from vigil.consistency.stream import Record, ScanEndpoint, Shape, range_start

logger = logging.getLogger(__name__)
PAGE = 1000
# Parquet: rows decoded into Python at a time; objects up to IN_MEMORY bytes are read from memory,
# larger ones downloaded to /tmp first (the function's ephemeral storage must hold the largest).
PARQUET_BATCH = 10_000
IN_MEMORY = 64 * 2**20
# A column chunk is read through a buffer this size, not whole: memory follows the batch.
PARQUET_BUFFER = 2**20


# A key's name, or the names of a composite key's parts (the record's key is then their values' tuple).
KeyNames = str | tuple[str, ...]


def key_names(key: KeyNames) -> tuple[str, ...]:
    return (key,) if isinstance(key, str) else key


def _record(item: dict[str, Any], key: KeyNames, fields: Sequence[str], updated_at: str | None) -> Record:
    value = item.get(key) if isinstance(key, str) else tuple(item.get(k) for k in key)
    return Record(value, [item.get(f) for f in fields], item.get(updated_at) if updated_at else None)


# -- DynamoDB -------------------------------------------------------------------------------------


def dynamodb_scan(
    client: Any, table: str, key: KeyNames, fields: Sequence[str], updated_at: str | None = None, segments: int = 4
) -> Callable[[], Iterator[Record]]:
    """A parallel scan: `segments` workers, at most two pages per worker waiting in memory."""
    from boto3.dynamodb.types import TypeDeserializer

    names = [*key_names(key), *fields, *([updated_at] if updated_at else [])]
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
    client: Any,
    bucket: str,
    prefix: str,
    fmt: str,
    key: KeyNames,
    fields: Sequence[str],
    updated_at: str | None = None,
    in_memory: int = IN_MEMORY,
) -> Callable[[], Iterator[Record]]:
    """Every object under the prefix, line by line (in CSV an empty cell is NULL), or for Parquet
    a row batch at a time; a Parquet file's values become the same Python values a JSON Lines
    reader sees after parsing (datetime, Decimal, int, str), then the same `_record`."""
    if fmt not in ("jsonl", "csv", "parquet"):
        raise ValueError(f"format {fmt!r}: use jsonl, csv or parquet")

    def objects() -> Iterator[tuple[str, int]]:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):
                    yield obj["Key"], int(obj.get("Size", 0))

    def lines(name: str) -> io.TextIOBase:
        body = client.get_object(Bucket=bucket, Key=name)["Body"]
        raw: Any = gzip.GzipFile(fileobj=body) if name.endswith(".gz") else body
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")

    def scan() -> Iterator[Record]:
        for name, size in objects():
            if fmt == "parquet":
                if _parquet_data(name, size):
                    with _seekable(client, bucket, name, size, in_memory) as source:
                        yield from _parquet_records(source, f"s3://{bucket}/{name}", key, fields, updated_at)
                continue
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


def _parquet_data(name: str, size: int) -> bool:
    """Data files only: writers' markers (_SUCCESS, _metadata, .crc) start with _ or ., as
    pyarrow.dataset skips them; an empty object is no Parquet file."""
    base = name.rsplit("/", 1)[-1]
    return size > 0 and not base.startswith(("_", "."))


@contextmanager
def _seekable(client: Any, bucket: str, name: str, size: int, in_memory: int) -> Iterator[Any]:
    """The object as something Parquet can seek in: bytes in memory up to `in_memory`, else a file
    in /tmp (one GET streamed by download_fileobj, removed afterwards). Not ranged GETs: the reader
    seeks to the footer, then to every column chunk of every row group, one request each."""
    if size <= in_memory:
        yield io.BytesIO(client.get_object(Bucket=bucket, Key=name)["Body"].read())
        return
    directory = tempfile.gettempdir()
    free = shutil.disk_usage(directory).free
    if size > free:
        raise CannotMeasure(
            "export",
            f"s3://{bucket}/{name} is {size // 2**20} MiB and {directory} has {free // 2**20} MiB free: "
            "write the export in smaller files",
        )
    handle, path = tempfile.mkstemp(suffix=".parquet", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            client.download_fileobj(bucket, name, out)
        yield path
    finally:
        os.unlink(path)


def _parquet_records(
    source: Any, where: str, key: KeyNames, fields: Sequence[str], updated_at: str | None
) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source, buffer_size=PARQUET_BUFFER)
    except pa.ArrowException as exc:
        raise CannotMeasure("export", f"{where}: not a readable Parquet file ({exc})") from None
    present = set(parquet.schema_arrow.names)
    # A column the file lacks reads as NULL, as a missing JSON member does.
    names = [*key_names(key), *fields, *([updated_at] if updated_at else [])]
    wanted = [c for c in dict.fromkeys(names) if c in present]
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH, columns=wanted, use_threads=False):
        if any(pa.types.is_timestamp(c.type) for c in batch.columns):
            # Timestamps become naive UTC microseconds in Arrow, which canonical_timestamp reads as
            # the same instant an aware datetime is: Arrow holds UTC whatever the column's zone,
            # and to_pylist would try to import pytz once per zoned value (6x slower). Python's
            # datetime stops at microseconds, the canonical form at 6 digits (truncated): ns are
            # floored, which is what truncating the text of a pre-1970 instant does too.
            batch = pa.RecordBatch.from_arrays(
                [_utc_micros(c, pc) if pa.types.is_timestamp(c.type) else c for c in batch.columns],
                names=batch.schema.names,
            )
        for item in batch.to_pylist():
            yield _record(item, key, fields, updated_at)


def _utc_micros(column: Any, pc: Any) -> Any:
    import pyarrow as pa

    if column.type.unit == "ns":
        column = pc.floor_temporal(column, unit="microsecond")
    return column.cast(pa.timestamp("us"))


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
        """The answer's JSON; an error status raises CannotMeasure (refused) with the cluster's reason."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=self.headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise refused(method, path, exc.code, exc.read(64 * 1024)) from None

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
        """Exact: _count counts every matching document (no total-hits cap), or raises when a shard
        failed (a partial count is never returned)."""
        answer = self.call("POST", f"/{index}/_count", {"query": query})
        count = answer.get("count") if isinstance(answer, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise CannotMeasure("protocol", f"POST /{index}/_count: the answer has no count: is url the cluster?")
        whole(answer, f"POST /{index}/_count")
        return count

    def field_mappings(self, index: str, names: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Each field's mapping in every index the name matches ([] where an index lacks it)."""
        answer = self.call("GET", f"/{index}/_mapping/field/{','.join(names)}")
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for per_index in (answer or {}).values():
            mappings = per_index.get("mappings") or {}
            for name in names:
                entry = mappings.get(name) or {}
                leaf = str(entry.get("full_name", name)).rsplit(".", 1)[-1]
                mapping = (entry.get("mapping") or {}).get(leaf)
                found[name].append(mapping if isinstance(mapping, dict) else {})
        return found


class SearchRefused(CannotMeasure):
    """The search endpoint answered an error status (kept in `status`)."""

    def __init__(self, code: str, reason: str, status: int) -> None:
        super().__init__(code, reason)
        self.status = status


def refused(method: str, path: str, status: int, body: bytes) -> SearchRefused:
    """An error status as a failed run's reason: the cluster's error type and reason, one line."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    kind = reason = ""
    if isinstance(error, dict):
        causes = error.get("root_cause")
        cause = causes[0] if isinstance(causes, list) and causes and isinstance(causes[0], dict) else error
        kind, reason = str(cause.get("type") or error.get("type") or ""), str(cause.get("reason") or "")
    elif isinstance(error, str):
        reason = error
    said = f"{status} {kind}: {reason}".strip().rstrip(":")[:300]
    where = f"{method} {path.split('?', 1)[0]}"
    if status == 404 and kind == "index_not_found_exception":
        return SearchRefused("index_missing", f"{where}: the index does not exist ({said})", status)
    if status == 429:
        return SearchRefused(
            "throttled", f"{where}: throttled by the cluster ({said}); the next run tries again", status
        )
    if status in (401, 403):
        return SearchRefused("auth", f"{where}: the cluster refused the credentials or the privilege ({said})", status)
    return SearchRefused("status", f"{where}: the cluster answered {said}", status)


def whole(answer: Any, where: str) -> None:
    """Raise unless every shard answered: a count or page from some shards only is not the index."""
    shards = answer.get("_shards") if isinstance(answer, dict) else None
    if not isinstance(shards, dict):
        return
    failed, total = int(shards.get("failed") or 0), int(shards.get("total") or 0)
    if failed:
        failures = shards.get("failures") or [{}]
        cause = failures[0].get("reason") if isinstance(failures[0], dict) else None
        why = f": {cause.get('type')}: {cause.get('reason')}" if isinstance(cause, dict) else ""
        raise CannotMeasure("partial", f"{where}: {failed} of {total} shards failed{why}"[:400])
    if total == 0:
        raise CannotMeasure("index_missing", f"{where}: the index name matches no index")


def search_scan(
    client: SearchClient,
    index: str,
    key: KeyNames,
    fields: Sequence[str],
    updated_at: str | None = None,
    keep_alive: str = "2m",
) -> Callable[..., Iterator[Record]]:
    """Every document of the index through one point in time (a consistent view), PAGE at a time;
    scan(query) only the documents the query matches. The key may be `_id` or a field of _source."""
    source_fields = [f for f in (*key_names(key), *fields, *([updated_at] if updated_at else [])) if f != "_id"]

    def scan(query: dict[str, Any] | None = None) -> Iterator[Record]:
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
                if query is not None:
                    body["query"] = query
                if after is not None:
                    body["search_after"] = after
                found = client.call("POST", "/_search", body)
                whole(found, "POST /_search")
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


# Mapping types whose range queries order keys as vigil's normalized keys do (ES coerces "42" into
# a numeric field; keyword ranges compare UTF-8 bytes, which is code point order, as Python does).
RANGED_TYPES = {"int": {"long", "integer", "short", "byte"}, "str": {"keyword"}}
LAG_TYPES = {"date", "date_nanos"}
MAX_CLAUSES = 500  # range clauses in one filtered scan; more and the scan reads every document
COUNT_WORKERS = 4  # _count requests at once


class SearchIndexEndpoint(ScanEndpoint):
    """A search index as a comparison side. When the index's mapping lets range queries on the key
    agree with vigil's key normalization (see RANGED_TYPES, and a date updated_at for the lag), the
    counts come first from `_count` per bucket, exact and cheap (count_many), and the checksums and
    rows from scans restricted to the buckets asked for. Otherwise, or when the mapping may not be
    read, every count comes from the scan, as for DynamoDB and S3."""

    def __init__(
        self,
        name: str,
        shape: Shape,
        client: SearchClient,
        index: str,
        key: KeyNames,
        fields: Sequence[str],
        updated_at: str | None = None,
        keep_alive: str = "2m",
    ) -> None:
        self._search = search_scan(client, index, key, fields, updated_at, keep_alive)
        super().__init__(name, shape, self._search)
        self.client, self.index, self.key, self.updated_at = client, index, key, updated_at
        self._ranged: bool | None = None
        self._lock = threading.Lock()

    def ranged(self) -> bool:
        """Whether range queries on this index select exactly the keys vigil puts in a bucket."""
        with self._lock:
            if self._ranged is None:
                self._ranged = self._check_mapping()
            return self._ranged

    def _check_mapping(self) -> bool:
        if not isinstance(self.key, str):
            return self._not_ranged("a composite key: one range query cannot select a range of tuples")
        if self.key == "_id":
            return self._not_ranged("the key is _id")
        key_types = RANGED_TYPES.get(self.shape.key_types[0].value)
        if key_types is None:
            # A keyword orders uuids by their text, which the index may hold in either case.
            return self._not_ranged(f"a {self.shape.key_types[0].value} key")
        lagged = self.shape.cutoff is not None and self.updated_at is not None
        names = [self.key, *([self.updated_at] if lagged and self.updated_at else [])]
        try:
            mappings = self.client.field_mappings(self.index, names)
        except SearchRefused as exc:
            if exc.status != 403:
                raise
            # Reading mappings takes view_index_metadata, which a read-only role may lack.
            return self._not_ranged("the mapping may not be read (403)")
        found = mappings[self.key]
        if not found or any(m.get("type") not in key_types or m.get("normalizer") for m in found):
            return self._not_ranged(f"{self.key} is mapped as {sorted({str(m.get('type')) for m in found})}")
        if lagged and self.updated_at:
            stamps = mappings[self.updated_at]
            if not stamps or any(m.get("type") not in LAG_TYPES for m in stamps):
                return self._not_ranged(f"{self.updated_at} is not mapped as a date")
        return True

    def _not_ranged(self, why: str) -> bool:
        logger.info("%s %s: counts come from the scan, not _count: %s", self.name, self.index, why)
        return False

    # -- queries -----------------------------------------------------------------------------------

    def _range(self, rng: Range) -> dict[str, Any]:
        if rng.lo is None and rng.hi is None:
            return {"exists": {"field": self.key}}
        bounds = {op: end for op, end in (("gte", rng.lo), ("lt", rng.hi)) if end is not None}
        return {"range": {self.key: bounds}}

    def count_query(self, rng: Range) -> dict[str, Any]:
        """Documents whose key is in rng, outside the lag window (a document without updated_at is
        compared, as in the scan)."""
        query: dict[str, Any] = {"bool": {"filter": [self._range(rng)]}}
        cutoff = self.shape.cutoff_text()
        if cutoff is not None and self.updated_at is not None:
            late = {"gt": cutoff + "Z", "format": "strict_date_optional_time_nanos"}
            query["bool"]["must_not"] = [{"range": {self.updated_at: late}}]
        return query

    def scan_query(self, ranges: Sequence[Range]) -> dict[str, Any] | None:
        """Documents with a key in any of the ranges (adjacent ones merged), plus those whose key the
        index could not index (`_ignored`: malformed, or over ignore_above), which only the scan
        can place. None: every document (an unbounded range, or too many clauses)."""
        merged: list[Range] = []
        for rng in sorted(ranges, key=range_start):
            if merged and merged[-1].hi is not None and merged[-1].hi == rng.lo:
                merged[-1] = Range(merged[-1].lo, rng.hi)
            else:
                merged.append(rng)
        if len(merged) > MAX_CLAUSES or any(r.lo is None and r.hi is None for r in merged):
            return None
        clauses = [self._range(r) for r in merged] + [{"term": {"_ignored": self.key}}]
        return {"bool": {"should": clauses, "minimum_should_match": 1}}

    # -- the Endpoint methods that use them ---------------------------------------------------------

    def count_many(self, groups: Sequence[Sequence[Range]]) -> list[list[int]] | None:
        """Exact counts per range (lag excluded), one _count each; None when the index cannot be
        counted by range (then summarize_many counts in the scan)."""
        if not self.ranged():
            return None
        ranges = [rng for group in groups for rng in group]
        with ThreadPoolExecutor(max_workers=COUNT_WORKERS) as pool:
            counts = iter(list(pool.map(lambda r: self.client.count(self.index, self.count_query(r)), ranges)))
        return [[next(counts) for _ in group] for group in groups]

    def _scan_in(self, ranges: Sequence[Range]) -> Iterable[Record]:
        query = self.scan_query(ranges) if self.ranged() else None
        return self._search(query)
