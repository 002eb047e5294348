"""The outputs' HTTP client: the standard library, one deadline, verified TLS, no redirects, bounded reads.

- One deadline for the whole exchange: after connecting, every socket operation gets only what is
  left of it, so a server that drips its answer cannot hold a delivery past its budget. (The TCP
  connect and TLS handshake get what is left at their start; name resolution uses the system
  resolver's own timeout, which `deliver_all`'s overall budget bounds.)
- TLS: the default context (certificate and host name verified); plain http only to loopback,
  where the tests' fake servers listen.
- Redirects are never followed: a redirect would carry the Authorization header, or a webhook's
  secret path, to wherever the Location points. A 3xx is a failure that says so.
- At most MAX_BODY_BYTES of an answer are read: the outputs need a status and a small JSON body.
- Errors name what went wrong (refused, timeout, certificate) and never the URL, which for a
  webhook is the secret itself.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from vigil.checkers.network import network_verdict
from vigil.outputs.config import LOOPBACK_HOSTS
from vigil.outputs.retry import Deadline, DeliveryError
from vigil.text import clip, one_line

MAX_BODY_BYTES = 64 * 1024
USER_AGENT = "vigil-notifier"
# Network verdicts worth another attempt; "tls" (a certificate problem) will not fix itself.
_RETRYABLE_VERDICTS = frozenset({"dns", "connect", "timeout", "protocol"})
_tls_context: ssl.SSLContext | None = None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    def json(self, what: str) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise DeliveryError(f"{what}: HTTP {self.status} but the answer is not JSON", retryable=False) from None


def default_tls() -> ssl.SSLContext:
    # Loading the CA bundle costs tens of ms: once per container.
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


def request(
    method: str,
    url: str,
    *,
    deadline: Deadline,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    tls: ssl.SSLContext | None = None,
) -> Response:
    """Send one request; network trouble raises DeliveryError (retryable when it may pass)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.username is not None or parts.password is not None:
        raise DeliveryError("the URL carries credentials (user:password@); refusing to send", retryable=False)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, parts.port, timeout=_left(deadline), context=tls or default_tls()
        )
    elif parts.scheme == "http" and host in LOOPBACK_HOSTS:
        conn = http.client.HTTPConnection(host, parts.port, timeout=_left(deadline))
    else:
        raise DeliveryError("the URL is not https:// (plain http is allowed on loopback only)", retryable=False)
    sent = {"User-Agent": USER_AGENT, "Accept": "application/json", "Connection": "close", **(headers or {})}
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        conn.connect()
        _arm(conn, deadline)
        conn.request(method, target, body=body, headers=sent)
        _arm(conn, deadline)
        response = conn.getresponse()
        return Response(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=_read_bounded(conn, response, deadline),
        )
    except DeliveryError:
        raise
    except Exception as exc:
        verdict = network_verdict(exc, "the host", round(time.monotonic() - started, 1))
        if verdict is None:
            raise DeliveryError(f"{type(exc).__name__} while sending", retryable=False) from None
        raise DeliveryError(verdict.reason, retryable=verdict.code in _RETRYABLE_VERDICTS) from None
    finally:
        conn.close()


def raise_for_status(response: Response, what: str) -> None:
    """2xx passes; 408, 429 and 5xx are worth retrying; a redirect or any other 4xx is final."""
    status = response.status
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise DeliveryError(f"{what}: HTTP {status}, a redirect, which is never followed", retryable=False)
    retryable = status in (408, 429) or status >= 500
    raise DeliveryError(
        f"{what}: HTTP {status}{_excerpt(response.body)}",
        retryable=retryable,
        retry_after=retry_after(response.headers.get("retry-after")) if retryable else None,
    )


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110, 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - (time.time() if now is None else now), 0.0)


def _excerpt(body: bytes) -> str:
    text = one_line(body[:1024].decode("utf-8", errors="replace"))
    return f": {clip(text, 200)}" if text else ""


def _left(deadline: Deadline) -> float:
    remaining = deadline.remaining()
    if remaining <= 0:
        raise DeliveryError("timeout: no time left in the delivery budget", retryable=False)
    return remaining


def _arm(conn: http.client.HTTPConnection, deadline: Deadline) -> None:
    """Give the next socket operation only what is left of the deadline."""
    remaining = deadline.remaining()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    if conn.sock is not None:
        conn.sock.settimeout(remaining)


def _read_bounded(conn: http.client.HTTPConnection, response: http.client.HTTPResponse, deadline: Deadline) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_BODY_BYTES:
        _arm(conn, deadline)
        chunk = response.read1(MAX_BODY_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
