"""Checker for kind `http`: call a health endpoint, judge the answer, time it.

Down versus cannot measure
--------------------------
For a health endpoint, an unreachable target IS the measurement. So status ok ("measured") covers
every case where the checker got an answer or a definite network verdict about the target, and
the verdict goes into Healthy (1/0) with a reason_code:

  dns      the name does not resolve
  connect  connection refused, host or network unreachable, connection closed or reset
  tls      certificate or handshake failure
  timeout  no complete answer within spec.timeout
  protocol the target answered, but not in HTTP
  status   got a status code not in expect_status
  body     invalid JSON, or the json_assert path is missing or holds another value
  slow     answered correctly, but later than max_latency_ms

Status failed ("cannot measure", MeasureFailed=1) is kept for the checker's own problems: the
header secret cannot be read, the spec is invalid, the target is refused (`refused`: see below),
an unexpected exception. Were an outage also
reported as "cannot measure", one outage would page twice, once through the down alarm and once
through the measure alarm, and the measure alarm would no longer mean "vigil itself is broken".

Other choices:
- Redirects are not followed: a health endpoint should answer itself, and a redirect to a login
  page is the classic false "healthy". List 3xx in expect_status if a redirect is the answer.
- spec.timeout is one hard budget for the whole call: the TCP connect, the TLS handshake and
  every send and receive get only what is left of it (vigil.checkers.network), so a target that
  drips its answer a byte at a time is a `timeout` at spec.timeout. Name resolution uses the
  system resolver's own timeout, so the Lambda timeout allows spec.timeout plus a few seconds.
- Refused targets (vigil.private_targets): unless the check sets allow_private, the checker does
  not call loopback, link-local (instance metadata) or reserved addresses, nor private ones from
  outside a VPC. It resolves the name itself, judges every address it gets and the address it
  actually connected to (a name re-pointed after review, DNS rebinding), and connects only to
  addresses it judged. Nor does it send credentials (headers_secret, or a user:password@ in the
  URL) over plain http://. Either is `refused`, status failed: vigil will not measure it, which
  says nothing about the target.
- LatencyMs is from the start of the connection to the last byte read (at most 1 MiB), so it is
  only sent with a complete answer; StatusCode is sent whenever a status line arrived.
- Only the standard library, and no pydantic: the module stays cheap to import on a cold start
  (budget 100 ms, docs/performance.md). The event's spec is checked against the JSON Schema
  generated from HttpCheck (vigil.check_schema) and read into `Target`, the few fields measuring
  needs. http.client itself imports ssl, so there is nothing to gain from importing ssl lazily.
- Header values from the secret are sent, never logged, and never copied into a reason.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from vigil import check_schema
from vigil.checkers import runner
from vigil.checkers.network import Admit, Deadline, Verdict, connection, network_verdict
from vigil.checkers.runner import CannotMeasure
from vigil.private_targets import refusal
from vigil.result import CheckResult
from vigil.secrets import SecretError
from vigil.text import clip

KIND = "http"
SCHEMA = check_schema.load(KIND)
MAX_BODY_BYTES = 1024 * 1024
_CHUNK = 64 * 1024
USER_AGENT = "vigil-checker/1"

HEALTHY = "Healthy"
LATENCY = "LatencyMs"
STATUS_CODE = "StatusCode"
UNITS = {HEALTHY: "None", LATENCY: "Milliseconds", STATUS_CODE: "None"}
REFUSED = "refused"


@dataclass(frozen=True)
class BodyAssertion:
    path: str
    equals: str | int | float | bool | None


@dataclass(frozen=True)
class Target:
    """The fields of an HttpCheck (vigil.spec.http) that measuring reads; a test keeps the names in step."""

    id: str
    url: str
    method: str
    expect_status: tuple[int, ...]
    max_latency_ms: int
    timeout: float
    json_assert: BodyAssertion | None
    headers_secret: str | None
    allow_private: bool
    vpc: bool  # placed in a VPC (the placement itself is the stack's business)


def parse(check: Mapping[str, Any]) -> Target:
    """The event's spec, checked against HttpCheck's schema; raises check_schema.SchemaError."""
    check_schema.validate(check, SCHEMA)
    fields = check_schema.with_defaults(check, SCHEMA)
    assertion = fields["json_assert"]
    return Target(
        id=fields["id"],
        url=fields["url"],
        method=fields["method"],
        expect_status=tuple(fields["expect_status"]),
        max_latency_ms=fields["max_latency_ms"],
        timeout=float(fields["timeout"]),
        json_assert=BodyAssertion(assertion["path"], assertion["equals"]) if assertion else None,
        headers_secret=fields["headers_secret"],
        allow_private=fields["allow_private"],
        vpc=fields["vpc"] is not None,
    )


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return runner.run(event, KIND, parse, measure_with_secrets, context)


def measure_with_secrets(spec: Target, resolve: runner.SecretsResolver) -> CheckResult:
    refuse_plain_credentials(spec)  # before the secret is even read
    headers = header_secret(spec.headers_secret, resolve(spec.headers_secret)) if spec.headers_secret else None
    return measure(spec, headers)


def header_secret(name: str, value: dict[str, Any]) -> dict[str, str]:
    """Check the secret is a flat object of header name → text value; errors name the header only."""
    headers: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str):
            raise SecretError(f"secret {name}: header {key!r} must be a string")
        if not _header_ok(key, item):
            raise SecretError(f"secret {name}: header {key!r} has an invalid name or value")
        headers[key] = item
    return headers


def _header_ok(key: str, value: str) -> bool:
    # http.client would reject these too, but its error messages quote the value.
    if not key or not key.isascii() or any(c in key for c in ":\r\n\0 \t"):
        return False
    try:
        value.encode("latin-1")  # what http.client sends header values as
    except UnicodeEncodeError:
        return False
    return not any(c in value for c in "\r\n\0")


def refuse_plain_credentials(spec: Target) -> None:
    """CannotMeasure when credentials would travel over plain http:// (the catalog refuses it too)."""
    url = urlsplit(spec.url)
    if url.username is not None or url.password is not None:
        raise CannotMeasure(REFUSED, "refused: url holds a user name or password; use headers_secret")
    if url.scheme == "http" and spec.headers_secret is not None and not spec.allow_private:
        raise CannotMeasure(REFUSED, "refused: headers_secret over plain http://; use https://")


def admit(spec: Target) -> Admit:
    """The address check for this spec's connection: raises CannotMeasure for a refused address."""
    host = urlsplit(spec.url).hostname

    def check(address: str) -> None:
        refused = refusal(address, spec.allow_private, spec.vpc)
        if refused:
            raise CannotMeasure(REFUSED, f"refused: {host}: {refused}; vigil calls it only with allow_private: true")

    return check


def measure(spec: Target, headers: dict[str, str] | None = None) -> CheckResult:
    """Call spec.url once and judge the answer. Raises only for checker-side problems
    (CannotMeasure for a refused target)."""
    refuse_plain_credentials(spec)
    started = time.perf_counter()
    deadline = Deadline(spec.timeout)
    status_code: int | None = None
    latency_ms: float | None = None
    details: dict[str, int | bool] = {}
    try:
        status_code, body, truncated = _fetch(spec, headers or {}, deadline)
        latency_ms = (time.perf_counter() - started) * 1000
        details = {"body_bytes": len(body), "body_truncated": truncated}
        judge(spec, status_code, body, truncated, latency_ms)
    except Verdict as verdict:
        values = {HEALTHY: 0.0}
        status_code = status_code if status_code is not None else verdict.status_code
        if status_code is not None:
            values[STATUS_CODE] = float(status_code)
        if latency_ms is not None:  # only a complete answer has a latency
            values[LATENCY] = round(latency_ms, 1)
        return runner.measured(
            spec.id,
            KIND,
            values,
            UNITS,
            reason_code=verdict.code,
            reason=runner.one_line(verdict.reason),
            details=details,
        )
    values = {HEALTHY: 1.0, STATUS_CODE: float(status_code), LATENCY: round(latency_ms, 1)}
    # duration_ms is the runner's: it times the whole run, secret fetch included.
    return runner.measured(spec.id, KIND, values, UNITS, details=details)


def judge(spec: Target, status_code: int, body: bytes, truncated: bool, latency_ms: float) -> None:
    """Raise the first Verdict that applies to a complete answer; return when it is healthy."""
    if status_code not in spec.expect_status:
        expected = spec.expect_status[0] if len(spec.expect_status) == 1 else f"one of {list(spec.expect_status)}"
        raise Verdict("status", f"status {status_code}, expected {expected}")
    if spec.json_assert is not None:
        check_json(spec.json_assert, body, truncated)
    if latency_ms > spec.max_latency_ms:
        raise Verdict("slow", f"slow: {latency_ms:.0f} ms, allowed {spec.max_latency_ms} ms")


def check_json(assertion: BodyAssertion, body: bytes, truncated: bool) -> None:
    try:
        document = json.loads(body)
    except ValueError:
        note = f" (only the first {MAX_BODY_BYTES // 1024} KiB were read)" if truncated else ""
        raise Verdict("body", f"body is not valid JSON{note}") from None
    found = lookup(document, assertion.path)
    if found is _MISSING:
        raise Verdict("body", f"body: {assertion.path} missing, expected {_show(assertion.equals)}")
    if not same_json(found, assertion.equals):
        raise Verdict("body", f"body: {assertion.path} is {_show(found)}, expected {_show(assertion.equals)}")


_MISSING = object()


def lookup(document: Any, path: str) -> Any:
    """Follow a dotted path (list indexes as numbers) through parsed JSON; _MISSING if it breaks."""
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def same_json(found: Any, expected: Any) -> bool:
    # Python says True == 1; JSON does not: a health flag of 1 is not `true`.
    if isinstance(found, bool) or isinstance(expected, bool):
        return type(found) is type(expected) and found == expected
    return bool(found == expected)


def _show(value: Any) -> str:
    return clip(json.dumps(value, ensure_ascii=False), 80)


def _fetch(spec: Target, headers: dict[str, str], deadline: Deadline) -> tuple[int, bytes, bool]:
    """(status, body up to 1 MiB, truncated); network verdicts raise Verdict, checker trouble raises."""
    url = urlsplit(spec.url)
    host = url.hostname or ""
    conn = connection(url.scheme, host, url.port, deadline, admit(spec))
    status_code: int | None = None
    try:
        conn.putrequest(spec.method, _target(url), skip_accept_encoding=True)
        for name, value in _request_headers(spec, headers).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        status_code = response.status
        body, truncated = _read_body(response)
        return status_code, body, truncated
    except (Verdict, CannotMeasure):
        raise
    except Exception as exc:
        verdict = network_verdict(exc, host, spec.timeout)
        if verdict is None:
            raise
        verdict.status_code = status_code
        raise verdict from None
    finally:
        conn.close()


def _target(url: SplitResult) -> str:
    return (url.path or "/") + (f"?{url.query}" if url.query else "")


def _request_headers(spec: Target, secret_headers: dict[str, str]) -> dict[str, str]:
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/json" if spec.json_assert else "*/*",
        "Connection": "close",
    }
    # Secret headers win (an Accept or User-Agent the endpoint insists on), matched case-insensitively.
    for name, value in secret_headers.items():
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    return headers


def _read_body(response: http.client.HTTPResponse) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BODY_BYTES:
        chunk = response.read1(min(_CHUNK, MAX_BODY_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    truncated = size > MAX_BODY_BYTES
    if not truncated and response.length:
        # read1 reports a close before Content-Length bytes as a plain end of body.
        raise http.client.IncompleteRead(b"", response.length)
    return b"".join(chunks)[:MAX_BODY_BYTES], truncated
