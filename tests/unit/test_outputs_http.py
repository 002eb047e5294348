"""The outputs' HTTP client and retry rules: TLS verified, no redirects, bounded reads, backoff within the deadline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http_server import LoopbackServer, running_server
from tests.support.tls import LoopbackCertificate, loopback_certificate
from vigil.outputs.httpclient import MAX_BODY_BYTES, Response, raise_for_status, request, retry_after
from vigil.outputs.retry import Deadline, DeliveryError, RetryPolicy, with_retries


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCertificate:
    return loopback_certificate(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def tls_server(certificate: LoopbackCertificate) -> Iterator[LoopbackServer]:
    with running_server(tls=certificate.server_context()) as srv:
        yield srv


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        yield srv


def test_untrusted_certificate_is_refused_and_not_retried(tls_server: LoopbackServer) -> None:
    with pytest.raises(DeliveryError) as caught:
        request("GET", tls_server.url("/health"), deadline=Deadline.after(5))
    assert caught.value.reason.startswith("tls: certificate rejected")
    assert not caught.value.retryable


def test_trusted_certificate_is_accepted(tls_server: LoopbackServer, certificate: LoopbackCertificate) -> None:
    response = request("GET", tls_server.url("/health"), deadline=Deadline.after(5), tls=certificate.client_context())
    assert response.status == 200
    assert response.json("health")["status"] == "up"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/hook", "the URL is not https://"),
        ("ftp://127.0.0.1/hook", "the URL is not https://"),
        ("https://user:pw@example.com/hook", "the URL carries credentials"),
    ],
)
def test_unsafe_urls_are_refused_before_connecting(url: str, reason: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        request("POST", url, deadline=Deadline.after(1), body=b"{}")
    assert caught.value.reason.startswith(reason)
    assert "pw" not in caught.value.reason and "example.com" not in caught.value.reason


def test_redirect_is_not_followed(server: LoopbackServer) -> None:
    response = request("GET", server.url("/redirect"), deadline=Deadline.after(5))
    assert response.status == 302
    with pytest.raises(DeliveryError, match="a redirect, which is never followed") as caught:
        raise_for_status(response, "post")
    assert not caught.value.retryable


def test_answer_is_read_up_to_the_bound(server: LoopbackServer) -> None:
    response = request("GET", server.url("/big"), deadline=Deadline.after(5))
    assert len(response.body) == MAX_BODY_BYTES


def test_slow_answer_stops_at_the_deadline(server: LoopbackServer) -> None:
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        request("GET", server.url("/sleep?ms=3000"), deadline=Deadline.after(0.5))
    assert time.monotonic() - started < 1.0
    assert caught.value.reason.startswith("timeout")
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(408, True), (429, True), (500, True), (503, True), (400, False), (401, False), (403, False), (404, False)],
)
def test_which_statuses_are_retried(status: int, retryable: bool) -> None:
    with pytest.raises(DeliveryError) as caught:
        raise_for_status(Response(status, {"retry-after": "7"}, b"nope"), "post")
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == (7.0 if retryable else None)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_700_000_000.0
    assert retry_after("12") == 12.0
    assert retry_after("Tue, 14 Nov 2023 22:13:40 GMT", now=now) == 20.0
    assert retry_after("soon") is None and retry_after(None) is None


def test_backoff_doubles_up_to_the_cap_and_stops_after_max_attempts() -> None:
    waits: list[float] = []

    def always_busy(deadline: Deadline) -> None:
        raise DeliveryError("busy", retryable=True)

    policy = RetryPolicy(max_attempts=6, base_delay=1, max_delay=5)
    with pytest.raises(DeliveryError) as caught:
        with_retries(always_busy, policy, Deadline.after(100), sleep=waits.append, jitter=lambda: 1.0)
    assert waits == [1, 2, 4, 5, 5]
    assert caught.value.attempts == 6


def test_no_wait_past_the_deadline() -> None:
    waits: list[float] = []

    def busy_for_a_while(deadline: Deadline) -> None:
        raise DeliveryError("busy", retryable=True, retry_after=30)

    with pytest.raises(DeliveryError) as caught:
        with_retries(busy_for_a_while, RetryPolicy(), Deadline.after(2), sleep=waits.append, jitter=lambda: 1.0)
    assert waits == []
    assert caught.value.reason == "busy; out of time after 1 attempt(s)"
    assert caught.value.attempts == 1


def test_final_errors_are_not_retried() -> None:
    calls: list[Deadline] = []

    def refused(deadline: Deadline) -> None:
        calls.append(deadline)
        raise DeliveryError("HTTP 401", retryable=False)

    with pytest.raises(DeliveryError):
        with_retries(refused, RetryPolicy(), Deadline.after(10), sleep=lambda s: None)
    assert len(calls) == 1


def test_each_attempt_gets_at_most_its_request_timeout() -> None:
    shares: list[float] = []

    def note(deadline: Deadline) -> str:
        shares.append(deadline.remaining())
        return "done"

    assert with_retries(note, RetryPolicy(request_timeout=2), Deadline.after(60)) == ("done", 1)
    assert shares[0] <= 2
