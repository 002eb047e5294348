"""Integration tests' local services (PostgreSQL, MariaDB, RabbitMQ): skip when one is down, unless CI.

On a laptop a missing service skips its tests with the command that starts it; in CI
(CI=true) a missing service fails them, so a broken service start never passes as "skipped".
"""

from __future__ import annotations

import os
import socket

import pytest

PROBE_TIMEOUT = 2.0


def require_service(name: str, host: str, port: int, start_hint: str) -> None:
    """Return when something accepts TCP connections on host:port; otherwise skip (or fail in CI)."""
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT).close()
        return
    except OSError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    message = f"{name} is not answering on {host}:{port} ({problem}); {start_hint}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
