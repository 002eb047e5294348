"""A network failure as a verdict about the target (down, for a named reason) or as the checker's
own trouble: shared by the checkers that speak HTTP (http, elasticsearch, rabbitmq)."""

from __future__ import annotations

import errno
import http.client
import socket
import ssl

# OSErrors that say something about the network path to the target. Anything else (out of file
# descriptors, buffers) is the checker's own trouble and must surface as "cannot measure".
_NETWORK_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.ECONNABORTED, errno.EPIPE}
)


class Verdict(Exception):
    """The target is down for a known reason: a measurement, not an error of the checker."""

    def __init__(self, code: str, reason: str, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.status_code = status_code  # when the status line arrived before things went wrong


def network_verdict(exc: BaseException, host: str, timeout: float) -> Verdict | None:
    """What a network exception says about the target; None when it says nothing (checker trouble)."""
    # Order matters: SSLError and the timeout are OSErrors too, RemoteDisconnected is a ConnectionError.
    if isinstance(exc, socket.gaierror):
        return Verdict("dns", f"dns: {host} does not resolve ({exc.strerror or exc})")
    if isinstance(exc, TimeoutError):
        return Verdict("timeout", f"timeout: no complete answer within {timeout:g}s")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Verdict("tls", f"tls: certificate rejected: {exc.verify_message or exc.reason}")
    if isinstance(exc, ssl.SSLError):
        return Verdict("tls", f"tls: handshake failed: {exc.reason or exc}")
    if isinstance(exc, http.client.RemoteDisconnected):
        return Verdict("connect", "connect: connection closed without an answer")
    if isinstance(exc, ConnectionRefusedError):
        return Verdict("connect", "connect: connection refused")
    if isinstance(exc, ConnectionResetError):
        return Verdict("connect", "connect: connection reset by the target")
    if isinstance(exc, http.client.IncompleteRead):
        return Verdict("connect", "connect: connection closed in the middle of the answer")
    if isinstance(exc, http.client.HTTPException):
        return Verdict("protocol", f"protocol: not an HTTP answer ({type(exc).__name__})")
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return Verdict("connect", f"connect: {exc.strerror}")
    return None
