"""The elasticsearch checker against a loopback server answering with recorded Elasticsearch shapes
(tests/fixtures/elasticsearch): the request it sends, every outcome, its reason and its EMF line."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.drip_server import dripping_server
from tests.support.emf import assert_vigil_emf, metric_units, only_emf
from tests.support.http_server import LoopbackServer, Reply, closed_port, running_server
from vigil import secrets
from vigil.checkers import elasticsearch as checker
from vigil.secrets import SecretError
from vigil.spec.elasticsearch import ElasticsearchCheck

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "elasticsearch"
CHECK_ID = "campaign-api-error-logs"
INDEX = "logs-campaign-*"
PATH = f"/{INDEX}/_search"
PASSWORD = "pa55-w0rd-never-shown"
API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def recorded(name: str) -> dict[str, Any]:
    return json.loads(fixture(name))


@pytest.fixture(scope="module")
def module_server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        yield srv


@pytest.fixture
def server(module_server: LoopbackServer) -> Iterator[LoopbackServer]:
    module_server.requests.clear()
    module_server.replies.clear()
    yield module_server
    module_server.replies.clear()


@pytest.fixture(autouse=True)
def _fresh_secrets_and_quick_retry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(checker, "RETRY_BACKOFF", 0.05)
    secrets.clear_cache()
    yield
    secrets.clear_cache()


def spec(url: str, **fields: Any) -> dict[str, Any]:
    """A check as the stack puts it in the event: validated, then dumped as JSON."""
    raw = {
        "id": CHECK_ID,
        "kind": "elasticsearch",
        "service": "campaign-api",
        "severity": "critical",
        "url": url,
        "index": INDEX,
        "query": "log.level:ERROR AND service.name:campaign-api",
        "sample_fields": ["log.level", "service.name", "message"],
        "timeout": 2,
        **fields,
    }
    return ElasticsearchCheck.model_validate(raw).model_dump(mode="json")


def answer(server: LoopbackServer, *replies: Reply) -> None:
    server.replies[PATH] = list(replies)


def invoke(
    capsys: pytest.CaptureFixture[str], server: LoopbackServer, secret_ids: dict[str, str] | None = None, **fields: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the Lambda handler; (its returned result, the one EMF line it printed)."""
    result = checker.handler({"check": spec(server.base_url, **fields), "secrets": secret_ids or {}}, None)
    json.dumps(result)  # the Lambda runtime must be able to serialise it
    return result, only_emf(capsys.readouterr().out)


def sent_body(server: LoopbackServer) -> dict[str, Any]:
    (request,) = server.requests
    return json.loads(request.body)


# --- a complete answer ---------------------------------------------------------------------------


def test_counts_exactly_and_quotes_the_newest_hits(capsys, server):
    answer(server, Reply(200, fixture("search_ok.json")))

    result, emf = invoke(capsys, server)

    assert result["status"] == "ok" and result["reason_code"] is None
    assert result["values"] == {"Hits": 1234}
    assert result["samples"] == [
        "2026-11-27T14:36:59.412Z log.level=ERROR service.name=campaign-api message=POST /campaigns/8812/send "
        "failed: upstream timeout after 30000 ms java.net.SocketTimeoutException: Read timed out",
        "2026-11-27T14:36:58.001Z log.level=ERROR service.name=campaign-api message=POST /campaigns/8811/send "
        "failed: upstream timeout after 30000 ms",
        "2026-11-27T14:36:51.730Z log.level=ERROR message=database pool exhausted (20/20 in use)",
    ]
    assert result["details"] == {"shards": 6, "took_ms": 42}
    assert_vigil_emf(emf, CHECK_ID, {"MeasureFailed": 0, "Hits": 1234})
    assert metric_units(emf)["Hits"] == "Count"
    assert emf["samples"] == result["samples"], "the notifier quotes the samples from the EMF line"


def test_the_request_is_one_exact_search_over_the_window(capsys, server):
    answer(server, Reply(200, fixture("search_ok.json")))

    invoke(capsys, server, window="15m", cadence="5m")

    (request,) = server.requests
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert json.loads(request.body) == {
        "track_total_hits": True,
        "size": 3,
        "query": {
            "bool": {
                "filter": [
                    {"range": {"@timestamp": {"gte": "now-900s", "lte": "now"}}},
                    {"query_string": {"query": "log.level:ERROR AND service.name:campaign-api"}},
                ]
            }
        },
        "sort": [{"@timestamp": "desc"}],
        "_source": ["@timestamp", "log.level", "service.name", "message"],
    }


def test_a_query_dsl_clause_is_the_filter_and_the_base_path_is_kept(capsys, server):
    clause = {"term": {"log.level": "ERROR"}}
    server.replies["/es/logs-campaign-*/_search"] = [Reply(200, fixture("search_ok.json"))]

    result = checker.handler(
        {"check": spec(server.base_url + "/es/", query=clause, time_field="event.created"), "secrets": {}}, None
    )
    capsys.readouterr()

    assert result["status"] == "ok"
    (request,) = server.requests
    assert request.path == "/es/logs-campaign-*/_search"
    assert json.loads(request.body)["query"]["bool"]["filter"] == [
        {"range": {"event.created": {"gte": "now-300s", "lte": "now"}}},
        clause,
    ]


def test_no_samples_asks_for_no_documents(capsys, server):
    answer(server, Reply(200, fixture("search_total_as_int.json")))

    result, _ = invoke(capsys, server, samples=0, query=None)

    body = sent_body(server)
    assert body["size"] == 0 and body["_source"] is False and "sort" not in body
    assert body["query"]["bool"]["filter"] == [{"range": {"@timestamp": {"gte": "now-300s", "lte": "now"}}}]
    assert result["values"] == {"Hits": 17}, "a 6.x integer total is exact"
    assert result["samples"] == []


def test_aggregation_is_asked_for_and_reported(capsys, server):
    answer(server, Reply(200, fixture("search_ok.json")))

    result, emf = invoke(
        capsys,
        server,
        aggregation={"type": "max", "field": "duration_ms"},
        alarms={"aggregate": {"threshold": 20000}},
    )

    assert sent_body(server)["aggs"] == {"vigil": {"max": {"field": "duration_ms"}}}
    assert result["values"] == {"Hits": 1234, "Aggregate": 30000.0}
    assert_vigil_emf(emf, CHECK_ID, {"MeasureFailed": 0, "Hits": 1234, "Aggregate": 30000.0})
    assert metric_units(emf)["Aggregate"] == "None"


def test_an_aggregation_over_no_documents_sends_no_datapoint(capsys, server):
    empty = recorded("search_total_as_int.json") | {"aggregations": {"vigil": {"value": None}}}
    answer(server, Reply(200, json.dumps(empty).encode()))

    result, _ = invoke(
        capsys, server, aggregation={"type": "avg", "field": "duration_ms"}, alarms={"aggregate": {"threshold": 1}}
    )

    assert result["values"] == {"Hits": 17}


def test_a_missing_aggregation_in_the_answer_cannot_measure(capsys, server):
    answer(server, Reply(200, fixture("search_total_as_int.json")))

    result, _ = invoke(
        capsys, server, aggregation={"type": "sum", "field": "bytes"}, alarms={"aggregate": {"threshold": 1}}
    )

    assert (result["status"], result["reason_code"]) == ("failed", "protocol")


# --- cannot measure: every answer without an exact count -----------------------------------------


@pytest.mark.parametrize(
    ("reply", "code", "reason_part"),
    [
        (Reply(401, fixture("error_401_security_exception.json")), "auth", "refused the credentials (401"),
        (
            Reply(403, fixture("error_403_security_exception.json")),
            "auth",
            "may not search logs-campaign-* (403 security_exception: action [indices:data/read/search] is unauthorized",
        ),
        (
            Reply(404, fixture("error_404_index_not_found.json")),
            "index_missing",
            "index logs-campaign-* not found: nothing has been written to it (has the log shipper stopped?)",
        ),
        (
            Reply(200, fixture("search_no_index.json")),
            "index_missing",
            "index logs-campaign-* matches no index: nothing has been written to it (has the log shipper stopped?)",
        ),
        (
            Reply(400, fixture("error_400_query_shard.json")),
            "query",
            "the cluster rejected the search (400 query_shard_exception: Failed to parse query",
        ),
        (
            Reply(503, fixture("error_503_all_shards_failed.json")),
            "status",
            "answered 503 search_phase_execution_exception: all shards failed",
        ),
        (Reply(502, fixture("proxy_502.html"), "text/html"), "status", "the cluster answered 502"),
        (Reply(200, fixture("search_truncated.txt")), "protocol", "not JSON"),
        (Reply(200, b"[]"), "protocol", "not a JSON object"),
        (Reply(200, b'{"acknowledged": true}'), "protocol", "no _shards"),
        (Reply(200, fixture("search_timed_out.json")), "partial", "timed out on the cluster"),
        (
            Reply(200, fixture("search_shard_failures.json")),
            "partial",
            "2 of 6 shards failed (first: node_not_connected_exception: [es-data-2][10.0.12.31:9300] Node not "
            "connected): the count would be partial",
        ),
        (
            Reply(200, fixture("search_total_lower_bound.json")),
            "partial",
            "counted at least 10000, not an exact number",
        ),
        (Reply(404, b'{"error": "no handler found"}'), "status", "/logs-campaign-*/_search not found"),
    ],
)
def test_no_exact_count_is_a_failure_never_a_value(capsys, server, reply, code, reason_part):
    answer(server, reply)

    result, emf = invoke(capsys, server)

    assert result["status"] == "failed", "a checker without an exact count must not report one"
    assert result["reason_code"] == code
    assert reason_part in result["reason"]
    assert "\n" not in result["reason"] and len(result["reason"]) <= 300
    assert result["values"] == {} and result["samples"] == []
    assert_vigil_emf(emf, CHECK_ID, {"MeasureFailed": 1})
    assert emf["reason_code"] == code


@pytest.mark.parametrize("name", ["error_429_rejected_execution.json", "error_429_circuit_breaking.json"])
def test_throttled_twice_is_a_failure_after_one_retry(capsys, server, name):
    answer(server, Reply(429, fixture(name)))

    result, emf = invoke(capsys, server)

    assert len(server.requests) == 2
    assert (result["status"], result["reason_code"]) == ("failed", "throttled")
    assert result["reason"].startswith("throttled by the cluster twice (429 ")
    assert_vigil_emf(emf, CHECK_ID, {"MeasureFailed": 1})


def test_throttled_once_then_answered_counts(capsys, server):
    answer(server, Reply(429, fixture("error_429_rejected_execution.json")), Reply(200, fixture("search_ok.json")))

    result, _ = invoke(capsys, server)

    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body
    assert (result["status"], result["values"]) == ("ok", {"Hits": 1234})


def test_no_retry_when_the_deadline_leaves_no_room(capsys, server, monkeypatch):
    monkeypatch.setattr(checker, "RETRY_BACKOFF", 5.0)  # twice this exceeds the 2 s timeout
    answer(server, Reply(429, fixture("error_429_rejected_execution.json")))

    result, _ = invoke(capsys, server)

    assert len(server.requests) == 1
    assert result["reason_code"] == "throttled" and "twice" not in result["reason"]


def test_a_slow_cluster_times_out(capsys, server):
    answer(server, Reply(200, fixture("search_ok.json"), delay=1.5))

    result, emf = invoke(capsys, server, timeout=0.5)

    assert (result["status"], result["reason_code"]) == ("failed", "timeout")
    assert result["reason"] == "no answer from the cluster: timeout: no complete answer within 0.5s"
    assert_vigil_emf(emf, CHECK_ID, {"MeasureFailed": 1})


def test_an_answer_dripping_in_times_out_at_the_budget(capsys):
    answer_bytes = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + fixture("search_ok.json")
    with dripping_server(answer_bytes, interval=0.5) as url:
        started = time.monotonic()
        result = checker.handler({"check": spec(url, timeout=1.5), "secrets": {}}, None)
        elapsed = time.monotonic() - started

    assert (result["status"], result["reason_code"]) == ("failed", "timeout")
    assert elapsed < 1.5 + 0.5, f"took {elapsed:.1f}s against a 1.5s budget"
    assert_vigil_emf(only_emf(capsys.readouterr().out), CHECK_ID, {"MeasureFailed": 1})


def test_a_refused_connection_cannot_measure(capsys):
    url = f"http://127.0.0.1:{closed_port()}"
    result = checker.handler({"check": spec(url), "secrets": {}}, None)
    emf = only_emf(capsys.readouterr().out)

    assert (result["status"], result["reason_code"]) == ("failed", "connect")
    assert "connection refused" in result["reason"]
    assert_vigil_emf(emf, CHECK_ID, {"MeasureFailed": 1})


# --- auth from Secrets Manager -------------------------------------------------------------------


@pytest.fixture
def secrets_manager() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.mark.parametrize(
    ("secret", "header", "shown"),
    [
        (
            {"username": "vigil-monitoring", "password": PASSWORD},
            "Basic " + base64.b64encode(f"vigil-monitoring:{PASSWORD}".encode()).decode(),
            PASSWORD,
        ),
        ({"api_key": API_KEY}, f"ApiKey {API_KEY}", API_KEY),
    ],
)
def test_auth_is_sent_and_never_printed(capsys, caplog, server, secrets_manager, secret, header, shown):
    arn = secrets_manager.create_secret(Name="vigil/logs/es", SecretString=json.dumps(secret))["ARN"]
    answer(server, Reply(200, fixture("search_ok.json")))
    caplog.set_level(logging.DEBUG)  # botocore logs response bodies at DEBUG: must stay quiet anyway

    result = checker.handler({"check": spec(server.base_url, auth_secret="logs-es"), "secrets": {"logs-es": arn}}, None)
    out, err = capsys.readouterr()

    assert result["status"] == "ok"
    (request,) = server.requests
    assert request.headers["authorization"] == header
    for text in (out, err, caplog.text, json.dumps(result)):
        assert shown not in text and header not in text


def test_a_401_with_a_secret_names_the_secret(capsys, server, secrets_manager):
    secrets_manager.create_secret(Name="es", SecretString=json.dumps({"username": "u", "password": PASSWORD}))
    answer(server, Reply(401, fixture("error_401_security_exception.json")))

    result = checker.handler({"check": spec(server.base_url, auth_secret="logs-es"), "secrets": {"logs-es": "es"}})
    out = capsys.readouterr().out

    assert result["reason_code"] == "auth"
    assert result["reason"] == "the cluster refused the credentials (401 security_exception): check secret logs-es"
    assert PASSWORD not in out


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (
            {"user": "u", "pass": PASSWORD},
            'expected keys "username" and "password", or "api_key"; found keys: pass, user',
        ),
        ({"username": "u", "password": PASSWORD, "api_key": API_KEY}, "found keys: api_key, password, username"),
        ({"username": "u", "password": 42}, "username and password must be non-empty strings"),
        ({"username": "a:b", "password": PASSWORD}, "username must not contain ':'"),
        ({"api_key": f"{API_KEY}\r\nX-Injected: 1"}, "api_key must be the encoded API key"),
        ({"api_key": ""}, "api_key must be the encoded API key"),
    ],
)
def test_a_malformed_secret_cannot_measure_without_quoting_it(capsys, server, secrets_manager, secret, message):
    secrets_manager.create_secret(Name="es", SecretString=json.dumps(secret))

    result = checker.handler({"check": spec(server.base_url, auth_secret="logs-es"), "secrets": {"logs-es": "es"}})
    out = capsys.readouterr().out

    assert (result["status"], result["reason_code"]) == ("failed", "secret")
    assert result["reason"].startswith("secret logs-es: ") and message in result["reason"]
    assert PASSWORD not in out and API_KEY not in out and PASSWORD not in result["reason"]
    assert server.requests == [], "no search without valid credentials"


def test_authorization_header_shapes_pure():
    assert checker.authorization_header("s", {"api_key": "abc"}) == "ApiKey abc"
    with pytest.raises(SecretError, match="found keys: none"):
        checker.authorization_header("s", {})


# --- pure helpers --------------------------------------------------------------------------------


def test_fields_are_found_flat_or_nested():
    source = {"log.level": "WARN", "service": {"name": "api", "node": {"name": "n1"}}, "a": {"b.c": 1}}
    assert checker.lookup(source, "log.level") == "WARN"
    assert checker.lookup(source, "service.name") == "api"
    assert checker.lookup(source, "service.node.name") == "n1"
    assert checker.lookup(source, "a.b.c") == 1
    assert checker.lookup(source, "service.missing") is checker._MISSING


def test_a_sample_line_is_one_line_with_long_values_cut():
    s = ElasticsearchCheck.model_validate(spec("http://es:9200", sample_fields=["message", "status", "absent"]))
    line = checker.sample_line(s, {"_source": {"message": "x" * 500 + "\nmore", "status": 503}})
    assert line.startswith("- message=xxx") and line.endswith(" status=503")
    assert "\n" not in line and len(line) < 250


def test_error_documents_are_read_root_cause_first():
    assert checker.error_of(fixture("error_429_rejected_execution.json"))[0] == "es_rejected_execution_exception"
    assert checker.error_of(fixture("error_503_all_shards_failed.json")) == (
        "search_phase_execution_exception",
        "all shards failed",
    )
    assert checker.error_of(b"<html>") == ("", "")
    assert checker.error_of(b'{"error": "Incorrect HTTP method"}') == ("", "Incorrect HTTP method")
