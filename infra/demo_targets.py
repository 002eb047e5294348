"""Local stand-ins for the monitored platform during `make demo`: HTTP services on loopback."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class DemoServices:
    """/healthy answers 200 ok; /failing answers 503 until `fix()`; /slow sleeps past its check's timeout."""

    def __init__(self, slow_seconds: float) -> None:
        self.failing = True
        self.slow_seconds = slow_seconds
        self.port = 0

    def fix(self) -> None:
        self.failing = False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        services = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/slow":
                    time.sleep(services.slow_seconds)
                if self.path == "/failing" and services.failing:
                    self._reply(503, {"status": "error", "error": "database connection pool exhausted"})
                else:
                    self._reply(200, {"status": "ok"})

            def _reply(self, status: int, body: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # The checker gave up waiting for /slow: exactly what the demo shows.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[DemoServices]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
