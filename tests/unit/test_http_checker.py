"""The http checker against a real loopback server: every verdict, its reason and the EMF line it prints."""

from __future__ import annotations

import ast
import dataclasses
import errno
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.drip_server import dripping_server
from tests.support.emf import assert_vigil_emf, emf_lines, metric_units, only_emf
from tests.support.http_server import LoopbackServer, closed_port, running_server
from tests.support.lambda_context import Context
from vigil import secrets
from vigil.checkers import http as checker
from vigil.checkers import network, runner
from vigil.result import CheckResult
from vigil.spec.http import HttpCheck, JsonAssertion

ROOT = Path(__file__).resolve().parents[2]
CHECK_ID = "api-health"


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    # The secrets cache and client live per container; each test is a new container.
    secrets.clear_cache()
    yield
    secrets.clear_cache()


def assert_http_emf(document: dict[str, Any], values: dict[str, float]) -> None:
    """http writes one metric, Healthy (vigil.result.METRIC_BUDGETS: a run that could not measure
    writes 0); every other value rides in the same line as a plain field, not a metric."""
    assert_vigil_emf(document, CHECK_ID, {"Healthy": values["Healthy"]})
    assert {name: document[name] for name in values if name != "Healthy"} == {
        name: value for name, value in values.items() if name != "Healthy"
    }


def spec(url: str, **fields: Any) -> dict[str, Any]:
    """A check as the stack puts it in the event: validated, then dumped as JSON.

    The test servers are on loopback, which a check may call only with allow_private.
    """
    raw = {"id": CHECK_ID, "kind": "http", "service": "api", "severity": "critical", "url": url, "timeout": 2}
    return HttpCheck.model_validate({**raw, "allow_private": True, **fields}).model_dump(mode="json")


def unvalidated(url: str, **fields: Any) -> dict[str, Any]:
    """A spec the catalog would refuse, as a stale or hand-made event could still carry it."""
    return {**spec("https://api.example.com/health", **{"allow_private": False, **fields}), "url": url}


def invoke(capsys: pytest.CaptureFixture[str], event: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the Lambda handler; (its returned result, the one EMF line it printed)."""
    result = checker.handler(event, None)
    json.dumps(result)  # the Lambda runtime must be able to serialise it
    return result, only_emf(capsys.readouterr().out)


def check(capsys: pytest.CaptureFixture[str], url: str, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return invoke(capsys, {"check": spec(url, **fields), "secrets": {}})


def assert_down(result: dict[str, Any], code: str, reason_part: str) -> None:
    assert result["status"] == "ok", "a down target is a measurement, not a checker failure"
    assert result["values"]["Healthy"] == 0
    assert result["reason_code"] == code
    assert reason_part in result["reason"]
    assert "\n" not in result["reason"]


# --- healthy -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "assertion",
    [
        None,
        {"path": "status", "equals": "up"},
        {"path": "checks.0.state", "equals": "ok"},
        {"path": "ready", "equals": True},
    ],
)
def test_healthy_endpoint(capsys, server, assertion):
    result, emf = check(capsys, server.url("/health"), json_assert=assertion)

    assert result["status"] == "ok"
    assert result["reason_code"] is None and result["reason"] is None
    latency = result["values"]["LatencyMs"]
    assert 0 < latency < 2000
    assert result["values"] == {"Healthy": 1, "StatusCode": 200, "LatencyMs": latency}
    assert result["duration_ms"] >= latency
    assert_http_emf(emf, {"Healthy": 1, "StatusCode": 200, "LatencyMs": latency})
    assert metric_units(emf) == {"Healthy": "None"}
    assert emf["status"] == "ok"


@pytest.mark.parametrize("method", ["HEAD", "POST"])
def test_method_is_sent(capsys, server, method):
    before = len(server.requests)
    result, emf = check(capsys, server.url("/health"), method=method)

    assert result["values"]["Healthy"] == 1
    assert [r.method for r in server.requests[before:]] == [method]
    assert_http_emf(emf, {**result["values"]})


def test_listed_status_is_healthy(capsys, server):
    result, _ = check(capsys, server.url("/down"), expect_status=[503])
    assert result["values"]["Healthy"] == 1


def test_body_larger_than_limit_is_read_only_to_one_mib(capsys, server):
    result, _ = check(capsys, server.url("/big"))

    assert result["values"]["Healthy"] == 1
    assert result["details"] == {"body_bytes": 1024 * 1024, "body_truncated": True}


# --- down: the target answered wrongly -----------------------------------------------------------


def test_unexpected_status(capsys, server):
    result, emf = check(capsys, server.url("/down"))

    assert_down(result, "status", "status 503, expected 200")
    latency = result["values"]["LatencyMs"]
    assert_http_emf(emf, {"Healthy": 0, "StatusCode": 503, "LatencyMs": latency})
    assert emf["reason_code"] == "status"


def test_redirect_is_not_followed(capsys, server):
    result, _ = check(capsys, server.url("/redirect"), expect_status=[200, 204])
    assert_down(result, "status", "status 302, expected one of [200, 204]")


def test_json_value_differs(capsys, server):
    result, emf = check(capsys, server.url("/degraded"), json_assert={"path": "status", "equals": "up"})

    assert_down(result, "body", 'body: status is "degraded", expected "up"')
    assert_http_emf(emf, {"Healthy": 0, "StatusCode": 200, "LatencyMs": result["values"]["LatencyMs"]})


def test_json_path_missing(capsys, server):
    result, _ = check(capsys, server.url("/health"), json_assert={"path": "checks.3.state", "equals": "ok"})
    assert_down(result, "body", 'body: checks.3.state missing, expected "ok"')


def test_json_true_is_not_one(capsys, server):
    # Python's True == 1 must not make a health flag pass a numeric assertion.
    result, _ = check(capsys, server.url("/health"), json_assert={"path": "ready", "equals": 1})
    assert_down(result, "body", "body: ready is true, expected 1")


def test_invalid_json(capsys, server):
    result, emf = check(capsys, server.url("/not-json"), json_assert={"path": "status", "equals": "up"})

    assert_down(result, "body", "body is not valid JSON")
    assert emf["Healthy"] == [0.0]


def test_truncated_json_says_so(capsys, server):
    result, _ = check(capsys, server.url("/big"), json_assert={"path": "pad", "equals": "x"})
    assert_down(result, "body", "only the first 1024 KiB were read")


def test_slow_but_within_timeout(capsys, server):
    result, emf = check(capsys, server.url("/sleep?ms=300"), max_latency_ms=100, timeout=3)

    assert_down(result, "slow", "allowed 100 ms")
    latency = result["values"]["LatencyMs"]
    assert latency >= 300
    assert_http_emf(emf, {"Healthy": 0, "StatusCode": 200, "LatencyMs": latency})


# --- down: no (complete) answer ------------------------------------------------------------------


def test_timeout(capsys, server):
    started = time.perf_counter()
    result, emf = check(capsys, server.url("/sleep?ms=3000"), timeout=0.3)
    elapsed = time.perf_counter() - started

    assert_down(result, "timeout", "no complete answer within 0.3s")
    assert elapsed < 2, "the checker must give up at spec.timeout"
    assert_http_emf(emf, {"Healthy": 0})


# A response a byte at a time, every byte well within any per-read timeout: ~20 s in all.
DRIPPED = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"status": "up"}'


@pytest.mark.parametrize("burst", [0, DRIPPED.index(b"\r\n\r\n") + 4], ids=["headers", "body"])
def test_an_answer_dripping_in_times_out_at_the_budget(capsys, burst):
    with dripping_server(DRIPPED, interval=0.5, burst=burst) as url:
        started = time.monotonic()
        result, emf = check(capsys, url + "/health", timeout=1.5)
        elapsed = time.monotonic() - started

    assert_down(result, "timeout", "no complete answer within 1.5s")
    assert elapsed < 1.5 + 0.5, f"took {elapsed:.1f}s against a 1.5s budget"
    assert_http_emf(emf, {"Healthy": 0, **({"StatusCode": 200} if burst else {})})


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/1.1"])
def test_a_closing_answer_whose_body_comes_after_its_headers_is_read(capsys, version):
    # http.client hands a closing connection over to the answer: its socket must stay open until
    # the body is read (HTTP/1.0, or Connection: close).
    answer = (
        f"{version} 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n".encode()
        + b'{"status": "up"}'
    )
    with dripping_server(answer, interval=0.02, burst=answer.index(b"\r\n\r\n") + 4) as url:
        result, _ = check(capsys, url + "/health", json_assert={"path": "status", "equals": "up"})

    assert (result["status"], result["reason_code"], result["values"]["Healthy"]) == ("ok", None, 1), result


def test_connection_refused(capsys):
    result, emf = check(capsys, f"http://127.0.0.1:{closed_port()}/health")

    assert_down(result, "connect", "connection refused")
    assert_http_emf(emf, {"Healthy": 0})


def test_name_does_not_resolve(capsys):
    result, emf = check(capsys, "http://vigil-nowhere.invalid/health")

    assert_down(result, "dns", "vigil-nowhere.invalid does not resolve")
    assert_http_emf(emf, {"Healthy": 0})


def test_tls_failure(capsys, server):
    result, emf = check(capsys, server.url("/health").replace("http://", "https://"))

    assert_down(result, "tls", "tls:")
    assert_http_emf(emf, {"Healthy": 0})


def test_closed_without_answer(capsys, server):
    result, emf = check(capsys, server.url("/hangup"))

    assert_down(result, "connect", "closed without an answer")
    assert_http_emf(emf, {"Healthy": 0})


def test_closed_mid_body_keeps_status_but_no_latency(capsys, server):
    result, emf = check(capsys, server.url("/short"))

    assert_down(result, "connect", "closed in the middle of the answer")
    assert_http_emf(emf, {"Healthy": 0, "StatusCode": 200})


# --- refused targets ------------------------------------------------------------------------------


def assert_refused(result: dict[str, Any], emf: dict[str, Any], *words: str) -> None:
    assert (result["status"], result["reason_code"]) == ("failed", "refused")
    for word in words:
        assert word in result["reason"]
    assert_http_emf(emf, {"Healthy": 0})


def test_loopback_is_refused_without_allow_private(capsys, server):
    before = len(server.requests)
    result, emf = invoke(capsys, {"check": unvalidated(server.url("/health")), "secrets": {}})

    assert_refused(result, emf, "127.0.0.1 is a loopback address", "allow_private")
    assert server.requests[before:] == [], "nothing was sent"


@pytest.mark.parametrize(
    "answer",
    [
        ["169.254.169.254"],
        ["93.184.216.34", "127.0.0.1"],  # one bad address refuses the name: the client may pick any
        ["::ffff:169.254.169.254"],
        ["10.1.2.3"],  # private, and this check has no vpc
    ],
)
def test_a_name_resolving_to_a_refused_address_is_refused(capsys, monkeypatch, answer):
    # What a DNS answer re-pointed after review (rebinding) looks like to the checker.
    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "status.example.com"
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answer]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    connects: list[Any] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: connects.append(address))

    result, emf = check(capsys, "https://status.example.com/health", allow_private=False)

    assert_refused(result, emf, "status.example.com:", answer[-1] if len(answer) > 1 else answer[0])
    assert connects == [], "no connection to any address of a refused name"


def test_the_address_connected_to_is_checked_too(monkeypatch, server):
    seen: list[str] = []

    def admit(address: str) -> None:
        seen.append(address)

    deadline = network.Deadline(2)
    port = int(server.base_url.rsplit(":", 1)[1])
    with network.open_socket("localhost", port, deadline, admit) as sock:
        peer = sock.getpeername()[0]
    resolved = {info[4][0] for info in socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)}
    assert set(seen[:-1]) == resolved, "every resolved address, before connecting"
    assert seen[-1] == peer, "then the address actually connected to"


def test_a_vpc_check_may_call_private_addresses(capsys):
    vpc = {
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": ["subnet-0123456789abcdef0"],
        "security_group_ids": ["sg-0123456789abcdef0"],
    }
    target = checker.parse(spec("http://10.0.0.5/health", allow_private=False, vpc=vpc))
    assert target.vpc and not target.allow_private
    checker.admit(target)("10.0.0.5")  # no refusal
    with pytest.raises(checker.CannotMeasure, match=r"169\.254\.169\.254 is a link-local"):
        checker.admit(target)("169.254.169.254")


def test_headers_secret_over_plain_http_is_refused_before_the_secret_is_read(capsys, server):
    before = len(server.requests)
    check_spec = unvalidated(server.url("/health").replace("127.0.0.1", "localhost"), headers_secret="api-headers")
    # No secret in the event: reading it would fail with reason_code "secret".
    result, emf = invoke(capsys, {"check": check_spec, "secrets": {}})

    assert_refused(result, emf, "headers_secret over plain http://")
    assert server.requests[before:] == []


def test_userinfo_in_the_url_is_refused_and_not_quoted(capsys, server):
    url = server.url("/health").replace("http://", "http://admin:hunter2@")
    result, emf = invoke(capsys, {"check": unvalidated(url, allow_private=True), "secrets": {}})

    assert_refused(result, emf, "user name or password")
    assert "hunter2" not in json.dumps(result) and "hunter2" not in json.dumps(emf)


# --- header secret -------------------------------------------------------------------------------

HEADERS = {"Authorization": "Bearer t0p-s3cret-token", "X-Api-Key": "k3y-value-42"}


@pytest.fixture
def secrets_manager() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_header_secret_is_sent_and_never_printed(capsys, caplog, server, secrets_manager):
    arn = secrets_manager.create_secret(Name="vigil/api/headers", SecretString=json.dumps(HEADERS))["ARN"]
    before = len(server.requests)
    caplog.clear()
    caplog.set_level(logging.DEBUG)  # botocore logs response bodies at DEBUG: must stay quiet anyway

    result = checker.handler(
        {"check": spec(server.url("/health"), headers_secret="api-headers"), "secrets": {"api-headers": arn}}, None
    )
    out, err = capsys.readouterr()

    assert result["values"]["Healthy"] == 1
    (seen,) = server.requests[before:]
    assert seen.headers["authorization"] == HEADERS["Authorization"]
    assert seen.headers["x-api-key"] == HEADERS["X-Api-Key"]
    for value in HEADERS.values():
        for text in (out, err, caplog.text, json.dumps(result)):
            assert value not in text
    assert_http_emf(only_emf(out), {**result["values"]})


def test_secret_header_overrides_default_case_insensitively(capsys, server, secrets_manager):
    secrets_manager.create_secret(Name="hdr", SecretString=json.dumps({"user-agent": "custom/2"}))
    before = len(server.requests)

    checker.handler(
        {"check": spec(server.url("/health"), headers_secret="api-headers"), "secrets": {"api-headers": "hdr"}}, None
    )

    (seen,) = server.requests[before:]
    assert seen.headers["user-agent"] == "custom/2"


def test_secret_missing_means_cannot_measure(capsys, server, secrets_manager):
    before = len(server.requests)

    result, emf = invoke(
        capsys,
        {
            "check": spec(server.url("/health"), headers_secret="api-headers"),
            "secrets": {"api-headers": "vigil/absent"},
        },
    )

    assert result["status"] == "failed"
    assert result["reason_code"] == "secret"
    assert "vigil/absent" in result["reason"] and "ResourceNotFoundException" in result["reason"]
    assert result["values"] == {}
    assert server.requests[before:] == [], "no request without its headers"
    assert_http_emf(emf, {"Healthy": 0})
    assert emf["status"] == "failed"


def test_secret_not_in_event_means_cannot_measure(capsys, server):
    result, emf = invoke(capsys, {"check": spec(server.url("/health"), headers_secret="api-headers"), "secrets": {}})

    assert (result["status"], result["reason_code"]) == ("failed", "secret")
    assert "api-headers" in result["reason"]
    assert_http_emf(emf, {"Healthy": 0})


@pytest.mark.parametrize("value", ["abc\r\nInjected: yes", "abc\u2603snow", 42])
def test_bad_header_value_is_rejected_without_quoting_it(capsys, server, secrets_manager, value):
    secrets_manager.create_secret(Name="hdr", SecretString=json.dumps({"X-Token": value}))

    result, emf = invoke(
        capsys, {"check": spec(server.url("/health"), headers_secret="api-headers"), "secrets": {"api-headers": "hdr"}}
    )

    assert (result["status"], result["reason_code"]) == ("failed", "secret")
    assert "X-Token" in result["reason"]
    assert not any(part in result["reason"] for part in ("abc", "snow", "42", "Injected"))
    assert_http_emf(emf, {"Healthy": 0})


# --- a group (infra.check_groups): one invocation, each check's own verdict and EMF line ---------


def test_a_group_reports_each_check_as_if_it_ran_alone(capsys, server):
    def member(check_id: str, url: str, **fields: Any) -> dict[str, Any]:
        return {"check": {**spec(url, group="edge", **fields), "id": check_id}, "secrets": {}}

    group = {
        "checks": [
            member("api-health", server.url("/health")),
            member("api-down", server.url("/down")),
            member("api-slow", server.url("/sleep?ms=1500"), timeout=0.3),
            member("api-late-a", server.url("/sleep?ms=1500"), timeout=5, max_latency_ms=5000),
            member("api-late-b", server.url("/sleep?ms=1500"), timeout=5, max_latency_ms=5000),
            {"check": {**spec(server.url("/health")), "id": "api-broken", "timeout": -1}, "secrets": {}},
        ]
    }
    started = time.perf_counter()
    result = checker.handler(group, None)
    elapsed = time.perf_counter() - started
    json.dumps(result)

    verdicts = [(r["check_id"], r["status"], r["reason_code"]) for r in result["checks"]]
    assert verdicts == [
        ("api-health", "ok", None),
        ("api-down", "ok", "status"),
        ("api-slow", "ok", "timeout"),
        ("api-late-a", "ok", None),
        ("api-late-b", "ok", None),
        ("api-broken", "failed", "spec"),
    ]
    # One line per check (in the order they finished: tests/unit/test_runner.py checks that).
    healthy = {line["Check"]: line["Healthy"] for line in emf_lines(capsys.readouterr().out)}
    assert healthy == {
        "api-health": [1.0],
        "api-down": [0.0],
        "api-slow": [0.0],
        "api-late-a": [1.0],
        "api-late-b": [1.0],
        "api-broken": [0.0],  # could not measure: never healthy
    }
    # Side by side: the two 1.5 s answers overlap (one after the other would take 3 s at least).
    assert elapsed < 2.7


def test_the_handler_gives_a_group_lambdas_deadline(capsys, server):
    # Without the context, a check hanging past its own timeout would hold the whole group until
    # Lambda's timeout ended the run, and every check of the group would lose its datapoint.
    group = {
        "checks": [
            {"check": {**spec(server.url("/sleep?ms=4000"), timeout=10), "id": "api-stuck"}, "secrets": {}},
            {"check": {**spec(server.url("/health")), "id": "api-health"}, "secrets": {}},
        ]
    }
    started = time.perf_counter()
    result = checker.handler(group, Context(runner.REPORT_MARGIN_S + 1.5))

    assert time.perf_counter() - started < 3.5
    assert [(r["check_id"], r["status"], r["reason_code"]) for r in result["checks"]] == [
        ("api-stuck", "failed", "deadline"),
        ("api-health", "ok", None),
    ]
    healthy = {line["Check"]: line["Healthy"] for line in emf_lines(capsys.readouterr().out)}
    assert healthy == {"api-stuck": [0.0], "api-health": [1.0]}


# --- the checker itself in trouble ---------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        None,
        "check",
        {},
        {"check": "api-health"},
        {"check": {"id": "Not A Slug!", "kind": "http"}},
        {"check": {"id": 7}},
    ],
)
def test_malformed_event_without_id_logs_and_emits_nothing(capsys, caplog, event):
    result = checker.handler(event, None)

    assert result["status"] == "failed"
    assert result["reason_code"] == "spec"
    assert result["values"] == {}
    assert capsys.readouterr().out.strip() == "", "no dimension to emit to"
    assert "without a readable check id" in caplog.text


def test_invalid_spec_with_readable_id_emits_healthy_zero(capsys):
    event = {"check": {**spec("http://127.0.0.1/"), "url": "ftp://example.com/"}, "secrets": {}}

    result, emf = invoke(capsys, event)

    assert (result["status"], result["reason_code"]) == ("failed", "spec")
    assert result["reason"].startswith("invalid check: url:")
    assert_http_emf(emf, {"Healthy": 0})


def test_malformed_secrets_map(capsys, server):
    result, emf = invoke(capsys, {"check": spec(server.url("/health")), "secrets": ["not", "a", "map"]})

    assert (result["status"], result["reason_code"]) == ("failed", "spec")
    assert_http_emf(emf, {"Healthy": 0})


def test_unexpected_exception_is_internal(capsys, monkeypatch, server):
    def boom(*_: Any) -> None:
        raise RuntimeError("bug\nwith two lines")

    monkeypatch.setattr(checker, "_fetch", boom)

    result, emf = invoke(capsys, {"check": spec(server.url("/health")), "secrets": {}})

    assert (result["status"], result["reason_code"]) == ("failed", "internal")
    assert result["reason"] == "RuntimeError: bug with two lines"
    assert_http_emf(emf, {"Healthy": 0})


def test_local_os_error_is_not_blamed_on_the_target(capsys, monkeypatch, server):
    def out_of_descriptors(*_: Any) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(checker, "_fetch", out_of_descriptors)

    result, emf = invoke(capsys, {"check": spec(server.url("/health")), "secrets": {}})

    assert (result["status"], result["reason_code"]) == ("failed", "internal")
    assert_http_emf(emf, {"Healthy": 0})


def test_measure_alone_returns_result_and_prints_nothing(capsys, server):
    result = checker.measure(checker.parse(spec(server.url("/health"))))

    assert isinstance(result, CheckResult)
    assert result.measured and result.values["Healthy"] == 1
    assert capsys.readouterr().out == ""


def test_target_reads_only_fields_the_model_has():
    # Target is a projection of HttpCheck: a renamed model field must break here, not at 3 a.m.
    projected = {f.name for f in dataclasses.fields(checker.Target)}
    assert projected <= set(HttpCheck.model_fields)
    assert {f.name for f in dataclasses.fields(checker.BodyAssertion)} == set(JsonAssertion.model_fields)


def test_parse_fills_the_model_defaults():
    minimal = {"id": CHECK_ID, "kind": "http", "service": "campaign-api", "severity": "critical", "url": "http://x/"}
    model = HttpCheck.model_validate(minimal)

    target = checker.parse(minimal)

    assert target == checker.parse(model.model_dump(mode="json"))
    assert (target.method, target.expect_status, target.max_latency_ms, target.timeout) == (
        model.method,
        tuple(model.expect_status),
        model.max_latency_ms,
        model.timeout,
    )


def loaded_after_import(*packages: str) -> list[str]:
    """Modules of these top-level packages that importing the checker loads, in a fresh interpreter."""
    code = f"import sys, vigil.checkers.http; print(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r}))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": "lambdas"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return ast.literal_eval(out.strip())


def test_import_does_not_load_pydantic():
    # The cold-start budget (docs/performance.md) has no room for pydantic: the spec is checked
    # against its generated JSON Schema instead.
    assert loaded_after_import("pydantic", "pydantic_core") == []


def test_import_does_not_load_boto3():
    # Powertools imports the bare botocore package (under 1 ms) to tag its user agent; boto3 and
    # botocore's sessions and clients are the expensive part and must wait for a secret.
    assert loaded_after_import("boto3", "botocore") in ([], ["botocore"])
