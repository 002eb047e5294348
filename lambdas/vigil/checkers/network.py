"""HTTP for the checkers that speak it (http, elasticsearch, rabbitmq): connections held to one
hard deadline, and a network failure as a verdict about the target (down, for a named reason) or
as the checker's own trouble.

Why a deadline and not a socket timeout: a socket timeout bounds each read, not the answer. A
target that sends one byte every half second never trips a 2 s timeout and holds the checker for
as long as it likes (60 s was seen). `DeadlineSocket` sets the socket's timeout to what is left of
the run's budget before every send and every receive, and fails with TimeoutError once nothing is
left; `open_socket` connects within the same budget, address by address. Name resolution is the
one step outside it (the system resolver has its own timeout).
"""

from __future__ import annotations

import errno
import http.client
import io
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

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


class Deadline:
    """A point in monotonic time by which a run must be done."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left, negative once passed."""
        return self.end - time.monotonic()

    def remaining(self) -> float:
        """Seconds left; raises TimeoutError when none are (socket.timeout is TimeoutError)."""
        left = self.left()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left


# Called with each address before connecting to it and with the address connected to: raises
# to refuse it (the http checker's private-target rule).
Admit = Callable[[str], None]


def open_socket(host: str, port: int, deadline: Deadline, admit: Admit | None = None) -> socket.socket:
    """A TCP connection to host:port within the deadline, trying each resolved address in turn."""
    addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if admit is not None:
        for *_, address in addresses:
            admit(address[0])  # every address the name has: one bad answer refuses the name
    error: OSError | None = None
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect(address)
            if admit is not None:
                admit(sock.getpeername()[0])  # what was actually reached, not what was asked
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:  # TimeoutError included: the next address gets what is left
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise error if error is not None else OSError(errno.EHOSTUNREACH, "no address to connect to")


class DeadlineSocket:
    """A connected socket whose every send and receive gets only what is left of the deadline.

    Closing follows socket.socket's own rule: while a file made by makefile is open (an answer
    being read after http.client closed its connection, as it does for `Connection: close`), the
    socket stays open, and it closes with the last of them.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline
        self._files = 0
        self._closing = False

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        self._sock.settimeout(self._deadline.remaining())
        return self._sock.recv_into(buffer, nbytes)

    def sendall(self, data: Any) -> None:
        self._sock.settimeout(self._deadline.remaining())
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        # http.client reads the status line, headers and body through this file: its raw reads
        # come back to recv_into above, one deadline check per read.
        self._files += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        """Called by SocketIO.close."""
        self._files -= 1
        if self._closing and self._files <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closing = True
        if self._files <= 0:
            self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class DeadlineHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP whose connect, request and answer all end by `deadline`."""

    def __init__(self, host: str, port: int | None, deadline: Deadline, admit: Admit | None = None) -> None:
        super().__init__(host, port, timeout=deadline.seconds)
        self.deadline = deadline
        self.admit = admit

    def connect(self) -> None:
        self.sock = DeadlineSocket(open_socket(self.host, self.port, self.deadline, self.admit), self.deadline)  # type: ignore[assignment]


class DeadlineHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS whose connect, TLS handshake, request and answer all end by `deadline`."""

    def __init__(
        self, host: str, port: int | None, deadline: Deadline, context: ssl.SSLContext, admit: Admit | None = None
    ) -> None:
        super().__init__(host, port, timeout=deadline.seconds, context=context)
        self.deadline = deadline
        self.admit = admit
        self.tls = context

    def connect(self) -> None:
        raw = open_socket(self.host, self.port, self.deadline, self.admit)
        try:
            # CPython bounds the whole handshake by the socket's timeout at its start.
            raw.settimeout(self.deadline.remaining())
            tls = self.tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        self.sock = DeadlineSocket(tls, self.deadline)  # type: ignore[assignment]


_default_tls: ssl.SSLContext | None = None


def default_tls() -> ssl.SSLContext:
    """The system's CA bundle; loading it costs tens of ms, so once per container and only for https."""
    global _default_tls
    if _default_tls is None:
        _default_tls = ssl.create_default_context()
    return _default_tls


def connection(
    scheme: str, host: str, port: int | None, deadline: Deadline, admit: Admit | None = None
) -> http.client.HTTPConnection:
    """An HTTP(S) connection (not yet open) held to `deadline` from connect to the last byte."""
    if scheme == "https":
        return DeadlineHTTPSConnection(host, port, deadline, default_tls(), admit)
    return DeadlineHTTPConnection(host, port, deadline, admit)
