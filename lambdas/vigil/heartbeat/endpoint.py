"""The ping endpoint: a Lambda behind a function URL (auth NONE), one per stack, for every heartbeat check.

    GET or POST /ping/<check id>            success
                /ping/<check id>/start      the job started
                /ping/<check id>/fail       the job failed
                /ping/<check id>/<0-255>    the job's exit code: 0 is a success, anything else a failure
    Authorization: Bearer <the check's token>
    body (optional): the job's output; its last lines are kept, cleaned, for the page

Events are the function URL's (API Gateway HTTP API payload format 2.0, which a function URL
uses: "Invoking Lambda function URLs", Request payload), so an HTTP API in front works as well.

Answers: 200 stored; 403 no token or the wrong one; 404 no such path, or a check this stack does not
watch; 405 another method. 403 and 404 write nothing. The token is compared in constant time
(hashes compared with hmac.compare_digest), never logged, and never echoed. What is logged: check,
kind, answer. A trouble on vigil's side (table or secret unreadable, a token secret without a
usable token) raises: the caller gets a 5xx to retry (curl --retry does), and the function's
errors page vigil's own route.

Ids are not secret (they are in the catalog's repository), so telling "unknown check" (404) from
"wrong token" (403) gives nothing away that matters, and tells a job's owner which one to fix.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vigil.heartbeat import store
from vigil.heartbeat.state import Ping
from vigil.result import MAX_SAMPLES, SAMPLE_LIMIT, SLUG_PATTERN
from vigil.secrets import get_json_secret
from vigil.text import clip, one_line

logger = logging.getLogger(__name__)

TOKEN_KEY = "token"  # the key of the token in the check's JSON secret
MIN_TOKEN_LENGTH = 16
# Only the tail of a body is read: the page quotes the last MAX_SAMPLES lines of SAMPLE_LIMIT characters.
BODY_TAIL_BYTES = MAX_SAMPLES * SAMPLE_LIMIT * 4
_PATH = re.compile(r"^/ping/([^/]+)(?:/([^/]+))?/?$")
_SLUG = re.compile(SLUG_PATTERN)
# Terminal escapes (colours, cursor moves, titles) and the other control characters, and the
# bidirectional overrides that can make a line read differently from what it says.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

SecretReader = Callable[[str], Mapping[str, Any]]


class EndpointError(RuntimeError):
    """vigil's side cannot take the ping (its token secret is unusable): a 5xx, and an error alarm."""


@dataclass(frozen=True)
class Answer:
    status: int
    text: str

    def response(self) -> dict[str, Any]:
        """The function URL response shape (payload format 2.0)."""
        return {"statusCode": self.status, "headers": {"content-type": "text/plain"}, "body": self.text + "\n"}


OK = Answer(200, "OK")
FORBIDDEN = Answer(403, "forbidden: send the check's token as 'Authorization: Bearer <token>'")
NOT_FOUND = Answer(404, "not found: use /ping/<check id>[/start|/fail|/<exit code 0-255>] for a watched check")
NOT_ALLOWED = Answer(405, "method not allowed: use GET or POST")


@dataclass(frozen=True)
class Request:
    check_id: str
    kind: str  # start, success or fail
    exit_code: int | None


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    answer = handle(event, datetime.now(UTC), store.client(), store.table_name(), get_json_secret)
    return answer.response()


def handle(event: Mapping[str, Any], now: datetime, db: Any, table: str, read_secret: SecretReader) -> Answer:
    http = (event.get("requestContext") or {}).get("http") or {}
    if http.get("method") not in ("GET", "POST"):
        return NOT_ALLOWED
    request = parse_path(str(event.get("rawPath") or http.get("path") or ""))
    if request is None:
        return NOT_FOUND
    given = bearer_token(event.get("headers") or {})
    if given is None:
        _log(request, FORBIDDEN)
        return FORBIDDEN
    secret_name = store.token_secret(db, table, request.check_id, now)
    if secret_name is None:
        _log(request, NOT_FOUND)
        return NOT_FOUND
    if not same_token(given, expected_token(read_secret(secret_name), secret_name)):
        _log(request, FORBIDDEN)
        return FORBIDDEN
    ping = Ping(at=now, exit_code=request.exit_code, lines=log_lines(body_bytes(event)))
    store.record(db, table, request.check_id, request.kind, ping, now)
    _log(request, OK)
    return OK


def parse_path(path: str) -> Request | None:
    match = _PATH.match(path)
    if not match or not _SLUG.match(match.group(1)):
        return None
    check_id, action = match.groups()
    if action is None:
        return Request(check_id, "success", None)
    if action in ("start", "fail"):
        return Request(check_id, action, None)
    if action.isdigit() and len(action) <= 3 and int(action) <= 255:
        code = int(action)
        return Request(check_id, "success" if code == 0 else "fail", code)
    return None


def bearer_token(headers: Mapping[str, Any]) -> str | None:
    # Function URLs and HTTP APIs deliver header names in lower case.
    value = headers.get("authorization")
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def expected_token(secret: Mapping[str, Any], secret_name: str) -> str:
    token = secret.get(TOKEN_KEY)
    if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
        raise EndpointError(
            f"secret {secret_name}: needs a '{TOKEN_KEY}' string of at least {MIN_TOKEN_LENGTH} characters"
        )
    return token


def same_token(given: str, expected: str) -> bool:
    """Constant time whatever the lengths: the digests, not the tokens, are compared."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode("utf-8")).digest(), hashlib.sha256(expected.encode("utf-8")).digest()
    )


def body_bytes(event: Mapping[str, Any]) -> bytes:
    """The body's tail; function URLs base64-encode any body that is not text or JSON."""
    body = event.get("body")
    if not isinstance(body, str) or not body:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=False)[-BODY_TAIL_BYTES:]
        except ValueError:
            return b""
    return body.encode("utf-8", errors="replace")[-BODY_TAIL_BYTES:]


def log_lines(raw: bytes) -> tuple[str, ...]:
    """The last MAX_SAMPLES non-blank lines, without escapes or control characters, each bounded."""
    text = _CONTROLS.sub("", _ESCAPES.sub("", raw.decode("utf-8", errors="replace")))
    lines = [one_line(line) for line in text.splitlines()]
    return tuple(clip(line, SAMPLE_LIMIT) for line in lines if line)[-MAX_SAMPLES:]


def _log(request: Request, answer: Answer) -> None:
    logger.info("ping %s %s: %s", request.check_id, request.kind, answer.status)
