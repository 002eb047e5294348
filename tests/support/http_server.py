"""A real HTTP server on 127.0.0.1 (ephemeral port) with the endpoints the http checker tests need.

Endpoints:
  /health            200 {"status": "up", "checks": [{"state": "ok"}]}
  /down              503
  /degraded          200 {"status": "degraded", ...}
  /not-json          200 with an HTML body
  /sleep?ms=N        sleeps N ms, then answers like /health
  /big               200 with 2 MiB of JSON-looking bytes (more than the checker reads)
  /short             promises 1000 bytes, sends 10, closes
  /hangup            closes the connection without answering
  /redirect          302 to /health
Every request's path, headers and body are recorded in `requests`.

A test can also script answers per path: `server.replies["/logs/_search"] = [Reply(429, ...),
Reply(200, ...)]` answers the first request with 429 and every later one with 200 (the last
reply repeats). Scripted paths win over the endpoints above; clear `replies` between tests.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from infra.fake_http import Reply, SeenRequest

HEALTHY_BODY = {"status": "up", "checks": [{"state": "ok"}], "ready": True}


@dataclass
class LoopbackServer:
    base_url: str
    requests: list[SeenRequest] = field(default_factory=list)
    replies: dict[str, list[Reply]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._route()

    def do_HEAD(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_DELETE(self) -> None:
        self._route()

    def _route(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.record(SeenRequest(self.command, url.path, {k.lower(): v for k, v in self.headers.items()}, body))
        scripted = self.server.replies.get(url.path)
        if scripted:
            reply = scripted.pop(0) if len(scripted) > 1 else scripted[0]
            time.sleep(reply.delay)
            self._send(reply.status, reply.body, reply.content_type, reply.headers)
            return
        match url.path:
            case "/health":
                self._json(200, HEALTHY_BODY)
            case "/down":
                self._json(503, {"status": "down"})
            case "/degraded":
                self._json(200, {**HEALTHY_BODY, "status": "degraded"})
            case "/not-json":
                self._send(200, b"<html>it works</html>", "text/html")
            case "/sleep":
                time.sleep(int(parse_qs(url.query)["ms"][0]) / 1000)
                self._json(200, HEALTHY_BODY)
            case "/big":
                self._send(200, b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', "application/json")
            case "/short":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"0123456789")
                self.close_connection = True
            case "/hangup":
                self.close_connection = True
            case "/redirect":
                self.send_response(302)
                self.send_header("Location", "/health")
                self.send_header("Content-Length", "0")
                self.end_headers()
            case _:
                self._json(404, {"error": "no such endpoint"})

    def _json(self, status: int, body: object) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output to the checker's own lines


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping past the client's timeout must not block shutdown

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[SeenRequest] = []
        self.replies: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()

    def record(self, request: SeenRequest) -> None:
        with self._lock:
            self.seen.append(request)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that gave up (timeouts, TLS probes) are expected here


@contextmanager
def running_server(tls: ssl.SSLContext | None = None) -> Iterator[LoopbackServer]:
    """The server on an ephemeral loopback port; with `tls` (a server context), over https."""
    server = _Server()
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    # A short poll interval: shutdown() waits up to one interval, at every teardown.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-http-server", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        view = LoopbackServer(base_url=f"{'https' if tls else 'http'}://{host}:{port}")
        view.requests = server.seen
        view.replies = server.replies
        yield view
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released: connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
