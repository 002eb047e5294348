"""What vigil's loopback HTTP fakes share: the request they saw, and a scripted answer to give.

Used by the fake ServiceNow (infra/fake_servicenow.py, which `make demo` runs) and by the tests'
loopback server (tests/support/http_server.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case: HTTP header names are case-insensitive
    body: bytes = b""


@dataclass(frozen=True)
class Reply:
    """A scripted answer: status, body, extra headers and, to test timeouts, a delay before the status line."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
