"""The rabbitmq checker at scale, against the local broker: wall time, requests and bytes per run.

For 100, 1,000 and 5,000 queues (one message each, created here and deleted afterwards) it prints
the checker's measure (fetch, evaluate, emit to a null sink; median of several runs) next to a
naive reader making one unfiltered GET /api/queues/<vhost>/<name> per queue, and the bytes of
the unfiltered paged listing, plain and gzip-compressed, to show what `columns=` and compression
save. "bytes" are as they came over the wire; "decoded" after decompression. Target: at most 1 s
per run at 5,000 queues, reading at least 10x fewer bytes than the unfiltered listing.

    .venv/bin/python bench/rabbitmq.py                 # needs RabbitMQ + management on 127.0.0.1
    .venv/bin/python bench/rabbitmq.py --sizes 100 --runs 3

Not a test: the figures depend on the machine (and on whatever else the broker is doing).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import sys
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambdas"))

import pika

from vigil.checkers import rabbitmq as checker
from vigil.spec.rabbitmq import RabbitmqCheck

HOST, AMQP_PORT, HTTP_PORT = "127.0.0.1", 5672, 15672
AUTH = {"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()}
LISTED_SECONDS = 120


@dataclass
class Figures:
    seconds: float
    requests: int
    bytes_read: int
    bytes_decoded: int


def create_queues(prefix: str, count: int) -> list[str]:
    names = [f"{prefix}{i:05d}" for i in range(count)]
    connection = pika.BlockingConnection(pika.ConnectionParameters(HOST, AMQP_PORT))
    channel = connection.channel()
    for name in names:
        channel.queue_declare(name)
        channel.basic_publish("", name, b"bench")
    connection.close()
    return names


def delete_queues(names: list[str]) -> None:
    connection = pika.BlockingConnection(pika.ConnectionParameters(HOST, AMQP_PORT))
    channel = connection.channel()
    for name in names:
        channel.queue_delete(name)
    connection.close()


class Http:
    """Plain GETs on one kept-alive connection, counting requests and body bytes."""

    def __init__(self, gzip: bool = False) -> None:
        self.conn = http.client.HTTPConnection(HOST, HTTP_PORT, timeout=60)
        self.headers = AUTH | ({"Accept-Encoding": "gzip"} if gzip else {})
        self.requests = 0
        self.bytes_read = 0
        self.bytes_decoded = 0

    def get(self, path: str) -> bytes:
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        self.requests += 1
        self.bytes_read += len(body)
        if response.getheader("Content-Encoding") == "gzip":
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        self.bytes_decoded += len(body)
        return body

    def figures(self, started: float) -> Figures:
        return Figures(time.perf_counter() - started, self.requests, self.bytes_read, self.bytes_decoded)


def wait_listed(prefix: str, count: int) -> None:
    """Until the management API shows every queue's message and publish (statistics lag a few seconds)."""
    deadline = time.monotonic() + LISTED_SECONDS
    while time.monotonic() < deadline:
        client, ready, page, pages = Http(), 0, 1, 1
        while page <= pages:
            query = {"name": f"^{prefix}", "use_regex": "true", "page": page, "page_size": 500}
            columns = "messages_ready,message_stats.publish_details.rate"
            listing = json.loads(client.get(f"/api/queues?{urlencode(query | {'columns': columns})}"))
            # Counted only once its publish is in the statistics too: listings are then full size.
            ready += sum(
                q.get("messages_ready", 0) for q in listing["items"] if isinstance(q, dict) and "message_stats" in q
            )
            pages, page = listing["page_count"], page + 1
        if ready == count:
            return
        time.sleep(1)
    raise SystemExit(f"the management API did not list {count} queues with {prefix} within {LISTED_SECONDS}s")


def checker_run(spec: RabbitmqCheck) -> Figures:
    started = time.perf_counter()
    result = checker.measure(spec, lambda _: {"username": "guest", "password": "guest"}, write=lambda _: None)
    seconds = time.perf_counter() - started
    assert result.values.get("Queues") is not None, result
    details = result.details
    return Figures(
        seconds, int(details["requests"] or 0), int(details["bytes_read"] or 0), int(details["bytes_decoded"] or 0)
    )


def naive_run(names: list[str]) -> Figures:
    client = Http()
    started = time.perf_counter()
    for name in names:
        client.get(f"/api/queues/%2F/{quote(name, safe='')}")
    return client.figures(started)


def unfiltered_listing(prefix: str, count: int, gzip: bool) -> Figures:
    """Every selected queue's full record, paged: what the checker would read without columns=."""
    client = Http(gzip)
    started = time.perf_counter()
    for page in range(1, (count + 499) // 500 + 1):
        client.get(
            f"/api/queues?{urlencode({'name': f'^{prefix}', 'use_regex': 'true', 'page': page, 'page_size': 500})}"
        )
    return client.figures(started)


def _spec(selection: dict[str, str]) -> RabbitmqCheck:
    return RabbitmqCheck.model_validate(
        {
            "id": "bench",
            "kind": "rabbitmq",
            "service": "bench",
            "severity": "warning",
            "url": f"http://{HOST}:{HTTP_PORT}",
            "credentials_secret": "bench",
            "timeout": 30,
            **selection,
        }
    )


def _median(spec: RabbitmqCheck, runs: int) -> Figures:
    samples = [checker_run(spec) for _ in range(runs)]
    first = samples[0]
    return Figures(statistics.median(s.seconds for s in samples), first.requests, first.bytes_read, first.bytes_decoded)


def measure_size(count: int, runs: int) -> dict[str, Figures]:
    prefix = f"vigil-bench-{uuid.uuid4().hex[:6]}-"
    names = create_queues(prefix, count)
    try:
        wait_listed(prefix, count)
        # The whole vhost and a pattern selecting exactly these queues: each one unpaged request
        # (other queues on the broker count too; the pattern is applied by the checker).
        whole = _spec({"vhost": "/"})
        pattern = _spec({"pattern": f"^{prefix}"})
        return {
            "checker, whole vhost": _median(whole, runs),
            "checker, pattern": _median(pattern, runs),
            "naive": naive_run(names),
            "unfiltered listing": unfiltered_listing(prefix, count, gzip=False),
            "unfiltered listing gz": unfiltered_listing(prefix, count, gzip=True),
        }
    finally:
        delete_queues(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--runs", type=int, default=5, help="checker runs per size (the median is shown)")
    args = parser.parse_args()
    print(
        f"{'queues':>6}  {'reader':<22} {'wall s':>8} {'requests':>9} {'bytes':>11} {'decoded':>11}"
        "  bytes / pattern checker's"
    )
    for count in args.sizes:
        figures = measure_size(count, args.runs)
        base = figures["checker, pattern"].bytes_read
        for reader, f in figures.items():
            ratio = f"{f.bytes_read / base:.1f}x" if base else "-"
            print(
                f"{count:>6}  {reader:<22} {f.seconds:>8.3f} {f.requests:>9} {f.bytes_read:>11,} "
                f"{f.bytes_decoded:>11,}  {ratio}"
            )
    sizes = " ".join(str(s) for s in args.sizes)
    print(f"\nreproduce: .venv/bin/python bench/rabbitmq.py --sizes {sizes} --runs {args.runs}")


if __name__ == "__main__":
    main()
