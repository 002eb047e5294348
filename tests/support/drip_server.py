"""A server on 127.0.0.1 that reads one request and drips its answer, one byte every `interval` seconds.

Per-read socket timeouts never fire against it: every read gets its byte in time. Only a deadline
on the whole exchange ends the wait.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            return
        body += chunk


@contextmanager
def dripping_server(answer: bytes, interval: float = 0.5, burst: int = 0) -> Iterator[str]:
    """Yields the base URL. Sends `burst` bytes at once, then the rest one byte per `interval`."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                _read_request(conn)
                conn.sendall(answer[:burst])
                for i in range(burst, len(answer)):
                    if stop.wait(interval):
                        return
                    conn.sendall(answer[i : i + 1])

    thread = threading.Thread(target=serve, name="drip-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
