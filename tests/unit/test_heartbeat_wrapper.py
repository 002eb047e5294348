"""The ECS wrapper script as docs/catalog.md prints it, run with sh and real curl against the endpoint
(served on 127.0.0.1 in function URL event form, moto behind it): start, exit code and output tail arrive."""

from __future__ import annotations

import base64
import re
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.heartbeat import TABLE, TOKEN, aws, check, item  # noqa: F401 (fixture)
from vigil import secrets
from vigil.heartbeat import endpoint, store

ROOT = Path(__file__).resolve().parents[2]


def documented_wrapper() -> str:
    text = (ROOT / "docs" / "catalog.md").read_text()
    section = text[text.index("### Example: an ECS scheduled task") :]
    return re.search(r"```sh\n(.*?)```", section, flags=re.DOTALL).group(1)


@pytest.fixture
def url(aws) -> Iterator[str]:  # noqa: F811
    """An HTTP front that hands each request to the endpoint as a function URL would (body base64)."""
    db = aws

    class Front(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            event = {
                "version": "2.0",
                "rawPath": self.path,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "requestContext": {"http": {"method": self.command, "path": self.path}},
                "body": base64.b64encode(body).decode("ascii"),
                "isBase64Encoded": True,
            }
            answer = endpoint.handle(event, datetime.now(UTC), db, TABLE, secrets.get_json_secret)
            self.send_response(answer.status)
            self.end_headers()
            self.wfile.write(answer.text.encode())

        do_GET = do_POST = _serve

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    c = check()
    store.register(db, TABLE, c.id, c.token_secret_name, datetime.now(UTC))
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_the_documented_wrapper_pings_start_then_the_exit_code_with_the_output_tail(aws, url, tmp_path):  # noqa: F811
    script = tmp_path / "vigil-run"
    script.write_text(documented_wrapper())
    job = 'for i in $(seq 1 25); do echo "exporting part $i"; done; echo "ERROR: disk full" >&2; exit 3'

    run = subprocess.run(
        ["sh", str(script), "sh", "-c", job],
        env={"PATH": "/usr/bin:/bin", "VIGIL_PING_URL": url, "VIGIL_CHECK": "nightly-export", "VIGIL_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 3, run.stderr
    assert "exporting part 25" in run.stdout  # the job's output still reaches the task's log
    stored = store.pings(store._plain(item(aws, "nightly-export")))
    assert stored.start is not None and stored.fail is not None and stored.success is None
    assert stored.fail.exit_code == 3
    assert stored.fail.lines == (*(f"exporting part {i}" for i in range(17, 26)), "ERROR: disk full")


def test_the_wrapper_with_a_wrong_token_still_runs_the_job_and_stores_nothing(aws, url, tmp_path):  # noqa: F811
    script = tmp_path / "vigil-run"
    script.write_text(documented_wrapper())

    run = subprocess.run(
        ["sh", str(script), "sh", "-c", "echo done"],
        env={"PATH": "/usr/bin:/bin", "VIGIL_PING_URL": url, "VIGIL_CHECK": "nightly-export", "VIGIL_TOKEN": "wrong"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 0 and "done" in run.stdout
    assert "vigil-run: ping failed" in run.stderr
    assert set(item(aws, "nightly-export")) == {"check", "token_secret", "watched_since", "expires"}
