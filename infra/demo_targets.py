"""Local stand-ins for the monitored platform during `make demo`: HTTP services on loopback, a SQL
Server error log, and the machine's RabbitMQ when it has one."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote


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


class SqlServerErrorLog:
    """A SQL Server error log, one batch of lines per simulated minute, as RDS publishes it.

    Every minute: a successful login and a log backup (benign). Until `fix()`: a password-guessing
    burst of failed logins (each an `Error: 18456` line and its message line). At `io_error_minute`:
    one 823 I/O error (its `Error:` line, severity 24, and its message line).
    """

    def __init__(self, failed_logins_per_minute: int, io_error_minute: int) -> None:
        self.attacked = True
        self.failed_logins_per_minute = failed_logins_per_minute
        self.io_error_minute = io_error_minute

    def fix(self) -> None:
        self.attacked = False

    def lines(self, minute: int, at: datetime) -> list[str]:
        def line(source: str, message: str) -> str:
            return f"{at:%Y-%m-%d %H:%M:%S}.{at.microsecond // 10000:02d} {source:<11} {message}"

        lines = [
            line(
                "Logon",
                "Login succeeded for user 'app'. Connection made using SQL Server authentication. [CLIENT: 10.0.1.23]",
            ),
            line(
                "Backup",
                "Log was backed up. Database: campaign, creation date(time): 2023/11/02(09:14:27), "
                f"first LSN: 1843:{2200 + minute}:1, last LSN: 1843:{2201 + minute}:1, number of dump devices: 1, "
                "device information: (FILE=1, TYPE=DISK: {'D:\\rdsdbdata\\BACKUP\\campaign_log.trn'}). "
                "This is an informational message only. No user action is required.",
            ),
        ]
        if self.attacked and minute > 0:
            for _ in range(self.failed_logins_per_minute):
                lines.append(line("Logon", "Error: 18456, Severity: 14, State: 8."))
                lines.append(
                    line(
                        "Logon",
                        "Login failed for user 'sa'. Reason: Password did not match that for the login provided. "
                        "[CLIENT: 203.0.113.50]",
                    )
                )
        if minute == self.io_error_minute:
            lines.append(line("spid58", "Error: 823, Severity: 24, State: 2."))
            lines.append(
                line(
                    "spid58",
                    "The operating system returned error 1117(The request could not be performed because of an "
                    "I/O device error.) to SQL Server during a read at offset 0x0000002d460000 in file "
                    "'D:\\rdsdbdata\\DATA\\campaign.mdf'. Additional messages in the SQL Server error log and "
                    "system event log may provide more detail. This is a severe system-level error condition "
                    "that threatens database integrity and must be corrected immediately. Complete a full "
                    "database consistency check (DBCC CHECKDB).",
                )
            )
        return lines


class LocalBroker:
    """The machine's own RabbitMQ (127.0.0.1, guest/guest, management API on 15672), when there is one.

    The demo declares one queue, publishes to it with nobody consuming (the classic sign that a
    microservice has stopped), and attaches a consumer when the service "comes back".
    """

    HOST = "127.0.0.1"
    API_PORT = 15672
    USER = PASSWORD = "guest"

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self._consumer: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.HOST}:{self.API_PORT}"

    def available(self) -> bool:
        try:
            return self._api("GET", "/api/overview", timeout=2)[0] == 200
        except OSError:
            return False

    def declare(self) -> None:
        self._api("PUT", f"/api/queues/%2F/{quote(self.queue, safe='')}", {"durable": False, "auto_delete": False})
        self._api("DELETE", f"/api/queues/%2F/{quote(self.queue, safe='')}/contents")

    def publish(self, count: int) -> None:
        for i in range(count):
            body = {
                "properties": {},
                "routing_key": self.queue,
                "payload": f"campaign event {i}",
                "payload_encoding": "string",
            }
            self._api("POST", "/api/exchanges/%2F/amq.default/publish", body)

    def attach_consumer(self) -> None:
        """A consumer that takes (and acknowledges) everything; the management API shows it within seconds."""
        import pika  # the AMQP client of the dev requirements, which `make demo` installs

        connection = pika.BlockingConnection(
            pika.ConnectionParameters(
                self.HOST, 5672, credentials=pika.PlainCredentials(self.USER, self.PASSWORD), heartbeat=0
            )
        )
        channel = connection.channel()
        channel.basic_consume(self.queue, lambda ch, method, props, body: None, auto_ack=True)
        connection.process_data_events(time_limit=0.5)
        self._consumer = connection
        self.wait_until(lambda queue: queue.get("consumers", 0) >= 1 and queue.get("messages", 1) == 0)

    def wait_until(self, condition: Any, seconds: float = 20) -> None:
        """The management API's statistics lag by up to 5 s: wait until they show the change."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._consumer is not None:
                self._consumer.process_data_events(time_limit=0)
            status, body = self._api("GET", f"/api/queues/%2F/{quote(self.queue, safe='')}")
            if status == 200 and condition(json.loads(body)):
                return
            time.sleep(0.5)

    def close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                self._consumer.close()
        with contextlib.suppress(OSError):
            self._api("DELETE", f"/api/queues/%2F/{quote(self.queue, safe='')}")

    def _api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.HOST, self.API_PORT, timeout=timeout)
        token = base64.b64encode(f"{self.USER}:{self.PASSWORD}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()
