"""The rabbitmq checker's network edge against loopback servers: one deadline for the whole run, and
answers capped as sent and decoded (a gzip bomb stops at the cap, in bounded memory)."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.drip_server import dripping_server
from tests.support.http_server import LoopbackServer, Reply, running_server
from vigil.checkers import rabbitmq as checker
from vigil.result import CheckResult, Status
from vigil.spec.rabbitmq import RabbitmqCheck

NODES = [{"name": "rabbit@a", "running": True, "mem_alarm": False, "disk_free_alarm": False}]
QUEUES = [{"messages_ready": 3, "messages_unacknowledged": 0, "consumers": 1}]
CREDENTIALS = {"username": "monitor", "password": "n0t-sh0wn"}
MIB = 1024 * 1024
BOMB_SIZE = 256 * MIB  # 16 times the cap


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """256 MiB of zeros as a gzip body of about 1 MiB."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    return b"".join([*(compressor.compress(block) for _ in range(BOMB_SIZE // MIB)), compressor.flush()])


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        srv.replies["/api/nodes"] = [Reply(200, json.dumps(NODES).encode())]
        yield srv


def measure(url: str, timeout: float = 5) -> CheckResult:
    check = RabbitmqCheck.model_validate(
        {
            "id": "events-broker",
            "kind": "rabbitmq",
            "service": "campaign-events",
            "severity": "critical",
            "url": url,
            "credentials_secret": "rabbit",
            "timeout": timeout,
        }
    )
    return checker.measure(check, lambda name: CREDENTIALS, write=lambda text: None)


def measure_with_peak(url: str) -> tuple[CheckResult, int]:
    """The run's result and the peak of memory Python allocated during it."""
    tracemalloc.start()
    try:
        result = measure(url)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


GZIP = (("Content-Encoding", "gzip"),)


def test_a_gzip_listing_is_decoded(server: LoopbackServer) -> None:
    server.replies["/api/queues"] = [Reply(200, gzip.compress(json.dumps(QUEUES).encode()), headers=GZIP)]

    result = measure(server.base_url)

    assert (result.status, result.reason_code) == (Status.ok, None), result.reason
    assert result.values["Backlog"] == 3
    assert result.details["bytes_decoded"] == len(json.dumps(NODES)) + len(json.dumps(QUEUES))


def test_a_gzip_bomb_stops_at_the_cap_in_bounded_memory(server: LoopbackServer, bomb: bytes) -> None:
    server.replies["/api/queues"] = [Reply(200, bomb, headers=GZIP)]

    result, peak = measure_with_peak(server.base_url)

    assert (result.status, result.reason_code) == (Status.failed, "too_large")
    assert "larger than 16 MiB decoded" in (result.reason or "")
    # The cap (16 MiB) plus the pieces it is joined from; the whole bomb would be 256 MiB.
    assert peak < 3 * checker.MAX_ANSWER_BYTES, f"peak {peak / MIB:.0f} MiB"


def test_an_error_answer_that_is_a_bomb_is_cut_and_its_status_still_judged(server: LoopbackServer, bomb: bytes) -> None:
    server.replies["/api/nodes"] = [Reply(401, bomb, headers=GZIP)]

    result, peak = measure_with_peak(server.base_url)

    assert (result.status, result.reason_code) == (Status.failed, "auth")
    assert peak < 8 * MIB, f"peak {peak / MIB:.0f} MiB for an error body read to {checker.MAX_ERROR_BODY} bytes"


def test_an_answer_larger_than_the_cap_as_sent_is_not_read(server: LoopbackServer) -> None:
    server.replies["/api/queues"] = [Reply(200, b"[" + b" " * (checker.MAX_ANSWER_BYTES + 1) + b"]")]

    result = measure(server.base_url)

    assert (result.status, result.reason_code) == (Status.failed, "too_large")
    assert "larger than 16 MiB as sent" in (result.reason or "")
    assert result.details["bytes_read"] < MIB, "refused on its Content-Length, before reading"


@pytest.mark.parametrize("burst", [0, 40], ids=["headers", "body"])
def test_an_answer_dripping_in_is_unreachable_at_the_budget(burst: int) -> None:
    body = json.dumps(NODES).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with dripping_server(answer, interval=0.5, burst=burst) as url:
        started = time.monotonic()
        result = measure(url, timeout=1.5)
        elapsed = time.monotonic() - started

    assert (result.status, result.reason_code) == (Status.ok, "timeout")
    assert result.values == {"Unreachable": 1.0}
    assert elapsed < 1.5 + 0.5, f"took {elapsed:.1f}s against a 1.5s budget"


def test_the_deadline_covers_every_request_of_the_run(server: LoopbackServer) -> None:
    # Each answer alone is within the timeout; together they are not.
    server.replies["/api/nodes"] = [Reply(200, json.dumps(NODES).encode(), delay=0.8)]
    server.replies["/api/queues"] = [Reply(200, json.dumps(QUEUES).encode(), delay=0.8)]

    started = time.monotonic()
    result: Any = measure(server.base_url, timeout=1.2)
    elapsed = time.monotonic() - started

    assert (result.status, result.reason_code) == (Status.ok, "timeout")
    assert elapsed < 1.2 + 0.5
