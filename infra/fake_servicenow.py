"""A fake ServiceNow instance: the Table API's incident table, served on 127.0.0.1 over real HTTP.

It keeps incidents in memory and answers as the Table API does (ServiceNow REST API reference,
*Table API*, v2): GET /api/now/v2/table/incident with sysparm_query, sysparm_fields and
sysparm_limit; POST creates (201); PATCH /api/now/v2/table/incident/<sys_id> updates (200), and a
work_notes value is appended to the incident's journal. It also enforces what an instance would:
the Authorization header (401 with ServiceNow's error body otherwise), JSON bodies, and the base
system's data policy that resolving (state 6) needs close_code and close_notes (403 otherwise).

Whatever a request got wrong is also recorded in `problems`, so a test can assert that vigil sent
nothing the instance would frown on. `script` answers the next requests with canned statuses
(503, 429 with Retry-After, a delay) before normal service resumes; `ignore_queries` behaves
like an instance that drops a query it cannot apply and lists every incident.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.fake_http import Reply, SeenRequest

TABLE = "/api/now/v2/table/incident"
NOT_OPEN = {"6", "7", "8"}
# The only query shape vigil sends: correlation id, open states, newest first.
QUERY_PREFIX = "correlation_id="
QUERY_SUFFIX = "^stateNOT IN6,7,8^ORDERBYDESCsys_created_on"
NOT_AUTHENTICATED = {
    "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
    "status": "failure",
}


@dataclass
class FakeServiceNow:
    base_url: str
    authorization: str  # the exact Authorization header the instance accepts
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)  # sys_id → record
    requests: list[SeenRequest] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)  # answered first, in order, one per request
    ignore_queries: bool = False
    lose_create_answers: int = 0  # creates that happen, but whose answer is a 504
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(10001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def by_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        return [i for i in self.incidents.values() if i["correlation_id"] == correlation_id]

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            self.requests.append(SeenRequest(method, path, headers, body))
            scripted = self.script.pop(0) if self.script else None
        if scripted is not None:
            time.sleep(scripted.delay)
            return scripted
        with self._lock:
            status, answer = self._table(method, path, query, headers, body)
        return Reply(status, json.dumps(answer, default=str).encode())

    def _table(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if headers.get("authorization") != self.authorization:
            self.problems.append(f"{method} {path}: wrong or missing Authorization")
            return 401, NOT_AUTHENTICATED
        if headers.get("accept") != "application/json":
            self.problems.append(f"{method} {path}: Accept is {headers.get('accept')!r}")
        if method == "GET" and path == TABLE:
            return self._list(parse_qs(query))
        if method == "POST" and path == TABLE:
            return self._create(self._json(method, path, headers, body))
        if method == "PATCH" and path.startswith(TABLE + "/"):
            return self._update(path.rsplit("/", 1)[1], self._json(method, path, headers, body))
        self.problems.append(f"{method} {path}: not a Table API incident call")
        return 400, {"error": {"message": "Invalid request"}, "status": "failure"}

    def _json(self, method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        if headers.get("content-type") != "application/json":
            self.problems.append(f"{method} {path}: Content-Type is {headers.get('content-type')!r}")
        data = json.loads(body)
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            self.problems.append(f"{method} {path}: body is not an object of strings: {data!r}")
        return data

    def _list(self, params: dict[str, list[str]]) -> tuple[int, Any]:
        query = params.get("sysparm_query", [""])[0]
        fields = params.get("sysparm_fields", [""])[0].split(",")
        limit = int(params.get("sysparm_limit", ["10000"])[0])
        rows = sorted(self.incidents.values(), key=lambda i: i["sys_created_on"], reverse=True)
        if not self.ignore_queries:
            if not (query.startswith(QUERY_PREFIX) and query.endswith(QUERY_SUFFIX)):
                self.problems.append(f"GET: unexpected sysparm_query {query!r}")
                return 200, {"result": []}
            wanted = query[len(QUERY_PREFIX) : -len(QUERY_SUFFIX)]
            rows = [r for r in rows if r["correlation_id"] == wanted and r["state"] not in NOT_OPEN]
        return 200, {"result": [{k: r.get(k, "") for k in fields} for r in rows[:limit]]}

    def _create(self, data: dict[str, str]) -> tuple[int, Any]:
        for required in ("short_description", "correlation_id"):
            if not data.get(required):
                self.problems.append(f"POST: no {required}")
        record = {
            **data,
            "sys_id": uuid.uuid4().hex,
            "number": f"INC{next(self._numbers):07d}",
            "state": "1",
            "sys_created_on": time.monotonic_ns(),
            "journal": [],
        }
        self.incidents[record["sys_id"]] = record
        if self.lose_create_answers:
            self.lose_create_answers -= 1
            return 504, {"error": {"message": "Gateway Timeout"}}
        return 201, {"result": record}

    def _update(self, sys_id: str, data: dict[str, str]) -> tuple[int, Any]:
        record = self.incidents.get(sys_id)
        if record is None:
            self.problems.append(f"PATCH: no incident {sys_id}")
            return 404, {"error": {"message": "No Record found"}, "status": "failure"}
        if data.get("state") == "6" and not (data.get("close_code") and data.get("close_notes")):
            self.problems.append("PATCH: resolving without close_code and close_notes")
            return 403, {
                "error": {"message": "Operation Failed", "detail": "Data Policy Exception: close_code, close_notes"},
                "status": "failure",
            }
        note = data.pop("work_notes", None)
        if note:
            record["journal"].append(note)
        record.update(data)
        return 200, {"result": record}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.fake.handle(self.command, url.path, url.query, headers, body)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeServiceNow) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a delayed answer is expected here


@contextmanager
def fake_servicenow(authorization: str) -> Iterator[FakeServiceNow]:
    fake = FakeServiceNow(base_url="", authorization=authorization)
    server = _Server(fake)
    # A short poll interval: shutdown() waits up to one interval, at every test's teardown.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-servicenow", daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
