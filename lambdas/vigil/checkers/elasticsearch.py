"""Checker for kind `elasticsearch`: an exact count of what a query matches in the last window.

One run is one `POST /<index>/_search` (Elasticsearch 7+ and OpenSearch answer the same shape):

  {"track_total_hits": true, "size": <samples>, "query": {"bool": {"filter": [
      {"range": {<time_field>: {"gte": "now-<window>s", "lte": "now"}}}, <the check's query>]}},
   "sort": [{<time_field>: "desc"}], "_source": [<time_field>, <sample_fields>...],
   "aggs": {"vigil": {<type>: {"field": <field>}}}}

Why one search and not `_count` plus a search for the samples: one round trip within the
deadline, and the count, the aggregation and the samples come from the same search, so the
e-mail never quotes hits from a different moment than the number that paged. `track_total_hits:
true` makes hits.total exact: without it Elasticsearch stops counting at 10,000 and answers
{"value": 10000, "relation": "gte"}. The aggregation runs over the query's matches, so it is
filtered by construction; it is never `cardinality` (approximate, see the spec).

Cannot measure, always
----------------------
Unlike an http health endpoint, the cluster is not what this check watches: it is where the
count comes from. So every case without an exact count is status failed (MeasureFailed=1, the
`measure` alarm) with a reason_code, never a healthy-looking Hits value:

  auth           401 (the secret's credentials are wrong, or the cluster wants some) or 403
                 (the user may not read the index)
  index_missing  404 index_not_found_exception, or a pattern that matches no index
                 (_shards.total 0): usually the log shipper stopped, or the index name is wrong
  throttled      429 (search queue full, circuit breaker) twice: one retry after RETRY_BACKOFF
                 seconds, when the deadline leaves room for it
  partial        timed_out true, _shards.failed > 0, or a total that is only a lower bound: a
                 partial count must not pass for a low one
  query          400: the cluster rejected the query (syntax, unknown field type)
  status         any other status (5xx: no master, all shards failed...)
  protocol       the answer is not the search API's JSON (a proxy's HTML page, cut off)
  dns, connect, tls, timeout   the cluster could not be reached within `timeout`

Other choices:
- The event is parsed with the pydantic model (like rabbitmq): this checker has no cold-start
  budget, and the model's checks (one Query DSL clause, window versus cadence) then hold at run
  time too, with no second description of the spec to keep in step.
- Only the standard library for the network (http.client, one connection per attempt). The
  Authorization header is built from the secret, sent, never logged, and never copied into a
  reason; its shape is checked first so http.client never quotes a bad value in an error.
- Samples are the newest hits: the timestamp, then each sample field as name=value, one line.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from vigil.checkers import runner
from vigil.checkers.network import Deadline, connection, network_verdict
from vigil.checkers.runner import CannotMeasure
from vigil.result import CheckResult
from vigil.secrets import SecretError
from vigil.spec.elasticsearch import ElasticsearchCheck

KIND = "elasticsearch"
HITS = "Hits"
AGGREGATE = "Aggregate"
UNITS = {HITS: "Count", AGGREGATE: "None"}
AGG_NAME = "vigil"
USER_AGENT = "vigil-checker/1"
MAX_BODY_BYTES = 1024 * 1024
_CHUNK = 64 * 1024
# Seconds before the one retry of a throttled search; tests shorten it.
RETRY_BACKOFF = 1.0
# A sample value longer than this is cut, so one stack trace cannot crowd out the other fields.
SAMPLE_VALUE_LIMIT = 200


parse = ElasticsearchCheck.model_validate


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return runner.run(event, KIND, parse, measure)


def measure(spec: ElasticsearchCheck, resolve: runner.SecretsResolver) -> CheckResult:
    authorization = authorization_header(spec.auth_secret, resolve(spec.auth_secret)) if spec.auth_secret else None
    try:
        answer = search(spec, authorization)
        values, samples, details = read_answer(spec, answer)
    except CannotMeasure as exc:  # no exact count this run (see the module docstring)
        return runner.cannot_measure(spec.id, KIND, exc)
    return runner.measured(spec.id, KIND, values, UNITS, details=details, samples=samples)


# -- request (pure) ------------------------------------------------------------------------------


def authorization_header(name: str, secret: Mapping[str, Any]) -> str:
    """Basic from {"username", "password"}, ApiKey from {"api_key"}; errors name keys, never values."""
    keys = set(secret)
    if keys == {"username", "password"}:
        username, password = secret["username"], secret["password"]
        if not (isinstance(username, str) and username and isinstance(password, str) and password):
            raise SecretError(f"secret {name}: username and password must be non-empty strings")
        if ":" in username:
            raise SecretError(f"secret {name}: username must not contain ':' (Basic authentication splits on it)")
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return f"Basic {token}"
    if keys == {"api_key"}:
        key = secret["api_key"]
        if not isinstance(key, str) or not key or not key.isascii() or not key.isprintable() or " " in key:
            raise SecretError(f"secret {name}: api_key must be the encoded API key, printable ASCII without spaces")
        return f"ApiKey {key}"
    found = ", ".join(sorted(keys)) or "none"
    raise SecretError(f'secret {name}: expected keys "username" and "password", or "api_key"; found keys: {found}')


def search_path(spec: ElasticsearchCheck) -> str:
    base = urlsplit(spec.url).path.rstrip("/")
    return f"{base}/{quote(spec.index, safe=',*:')}/_search"


def search_body(spec: ElasticsearchCheck) -> dict[str, Any]:
    window = {"range": {spec.time_field: {"gte": f"now-{spec.window}s", "lte": "now"}}}
    clauses: list[Any] = [window]
    if isinstance(spec.query, str):
        clauses.append({"query_string": {"query": spec.query}})
    elif spec.query is not None:
        clauses.append(spec.query)
    body: dict[str, Any] = {
        "track_total_hits": True,
        "size": spec.samples,
        "query": {"bool": {"filter": clauses}},
    }
    if spec.samples:
        body["sort"] = [{spec.time_field: "desc"}]
        body["_source"] = [spec.time_field, *spec.sample_fields]
    else:
        body["_source"] = False
    if spec.aggregation is not None:
        body["aggs"] = {AGG_NAME: {spec.aggregation.type: {"field": spec.aggregation.field}}}
    return body


# -- network -------------------------------------------------------------------------------------


def search(spec: ElasticsearchCheck, authorization: str | None) -> dict[str, Any]:
    """The decoded 200 answer; raises CannotMeasure. A throttled search is retried once in time."""
    deadline = Deadline(spec.timeout)
    payload = json.dumps(search_body(spec)).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        "Connection": "close",
    }
    if authorization is not None:
        headers["Authorization"] = authorization
    retried = False
    while True:
        status, body = _post(spec, search_path(spec), payload, headers, deadline)
        if status == 429 and not retried and deadline.left() > 2 * RETRY_BACKOFF:
            retried = True
            time.sleep(RETRY_BACKOFF)
            continue
        return judge_answer(spec, status, body, retried)


def _post(
    spec: ElasticsearchCheck, path: str, payload: bytes, headers: dict[str, str], deadline: Deadline
) -> tuple[int, bytes]:
    url = urlsplit(spec.url)
    host = url.hostname or ""
    # Connect, send and every read end by the run's deadline (vigil.checkers.network).
    conn = connection(url.scheme, host, url.port, deadline)
    try:
        conn.request("POST", path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, _read(response)
    except CannotMeasure:
        raise
    except Exception as exc:
        verdict = network_verdict(exc, host, spec.timeout)
        if verdict is None:
            raise
        raise CannotMeasure(verdict.code, f"no answer from the cluster: {verdict.reason}") from None
    finally:
        conn.close()


def _read(response: http.client.HTTPResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.read1(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise CannotMeasure("protocol", f"answer larger than {MAX_BODY_BYTES // 1024} KiB: is url the cluster?")
        chunks.append(chunk)
    if response.length:
        # read1 reports a close before Content-Length bytes as a plain end of body.
        raise http.client.IncompleteRead(b"", response.length)
    return b"".join(chunks)


# -- answer (pure) -------------------------------------------------------------------------------


def judge_answer(spec: ElasticsearchCheck, status: int, body: bytes, retried: bool = False) -> dict[str, Any]:
    """A 200's decoded search response, or CannotMeasure saying what the status and error mean."""
    if status == 200:
        try:
            answer = json.loads(body)
        except ValueError:
            raise CannotMeasure("protocol", "the search answer is not JSON: is url the cluster?") from None
        if not isinstance(answer, dict):
            raise CannotMeasure("protocol", "the search answer is not a JSON object: is url the cluster?")
        return answer
    kind, reason = error_of(body)
    said = f"{status} {kind}: {reason}" if kind else str(status)
    if status == 401:
        fix = f"check secret {spec.auth_secret}" if spec.auth_secret else "the cluster wants auth_secret"
        raise CannotMeasure("auth", f"the cluster refused the credentials ({status} {kind or 'unauthorized'}): {fix}")
    if status == 403:
        raise CannotMeasure("auth", f"may not search {spec.index} ({said})")
    if status == 404 and kind == "index_not_found_exception":
        raise CannotMeasure("index_missing", _missing_index(spec, "not found"))
    if status == 429:
        again = " twice" if retried else ""
        raise CannotMeasure("throttled", f"throttled by the cluster{again} ({said})")
    if status == 400:
        raise CannotMeasure("query", f"the cluster rejected the search ({said})")
    if status == 404:
        raise CannotMeasure("status", f"{search_path(spec)} not found ({said}): is url the cluster's base URL?")
    raise CannotMeasure("status", f"the cluster answered {said}")


def _missing_index(spec: ElasticsearchCheck, what: str) -> str:
    return (
        f"index {spec.index} {what}: nothing has been written to it (has the log shipper stopped?), "
        "or the index name is wrong"
    )


def error_of(body: bytes) -> tuple[str, str]:
    """(type, reason) of an error document, the root cause first; ("", "") when there is none."""
    try:
        document = json.loads(body)
    except ValueError:
        return "", ""
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, str):  # a bare message: some proxies and old versions
        return "", runner.one_line(error)[:160]
    if not isinstance(error, dict):
        return "", ""
    causes = error.get("root_cause")
    cause = causes[0] if isinstance(causes, list) and causes and isinstance(causes[0], dict) else error
    return (
        runner.one_line(str(cause.get("type") or error.get("type") or "")),
        runner.one_line(str(cause.get("reason") or error.get("reason") or "no reason given"), 160),
    )


def read_answer(
    spec: ElasticsearchCheck, answer: Mapping[str, Any]
) -> tuple[dict[str, float], tuple[str, ...], dict[str, str | int | float | bool | None]]:
    """(values, samples, details) of a complete answer; CannotMeasure for a partial or odd one."""
    if answer.get("timed_out") is True:
        raise CannotMeasure("partial", "the search timed out on the cluster: its count would be partial")
    shards = answer.get("_shards")
    if not isinstance(shards, dict) or not isinstance(shards.get("total"), int):
        raise CannotMeasure("protocol", "the answer has no _shards: is url the cluster?")
    if shards["total"] == 0:
        raise CannotMeasure("index_missing", _missing_index(spec, "matches no index"))
    failed = shards.get("failed") or 0
    if failed:
        raise CannotMeasure(
            "partial",
            f"{failed} of {shards['total']} shards failed{_first_failure(shards)}: the count would be partial",
        )
    hits = answer.get("hits")
    if not isinstance(hits, dict):
        raise CannotMeasure("protocol", "the answer has no hits: is url the cluster?")
    values = {HITS: float(exact_total(hits.get("total")))}
    if spec.aggregation is not None:
        value = aggregation_value(answer.get("aggregations"))
        if value is not None:  # min, max and avg of no documents: no datapoint, not a zero
            values[AGGREGATE] = value
    listed = hits.get("hits")
    samples = tuple(sample_line(spec, hit) for hit in (listed if isinstance(listed, list) else []) if hit)
    took = answer.get("took")
    details: dict[str, str | int | float | bool | None] = {"shards": shards["total"]}
    if isinstance(took, int):
        details["took_ms"] = took
    return values, samples, details


def _first_failure(shards: Mapping[str, Any]) -> str:
    failures = shards.get("failures")
    if not isinstance(failures, list) or not failures or not isinstance(failures[0], dict):
        return ""
    reason = failures[0].get("reason")
    if isinstance(reason, dict):
        return f" (first: {reason.get('type', 'unknown')}: {runner.one_line(str(reason.get('reason', '')), 120)})"
    return ""


def exact_total(total: Any) -> int:
    """hits.total as an exact count: {"value", "relation": "eq"} (7+, OpenSearch) or an int (6.x)."""
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
        return total
    if not isinstance(total, dict) or not isinstance(total.get("value"), int):
        raise CannotMeasure("protocol", "the answer has no hits.total: is url the cluster?")
    if total.get("relation") != "eq":
        raise CannotMeasure(
            "partial",
            f"the cluster counted at least {total['value']}, not an exact number (relation {total.get('relation')!r})",
        )
    return int(total["value"])


def aggregation_value(aggregations: Any) -> float | None:
    node = aggregations.get(AGG_NAME) if isinstance(aggregations, dict) else None
    if not isinstance(node, dict) or "value" not in node:
        raise CannotMeasure("protocol", "the answer lacks the aggregation it was asked for")
    value = node["value"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CannotMeasure("protocol", f"the aggregation's value is not a number: {str(value)[:40]}")
    return float(value)


def sample_line(spec: ElasticsearchCheck, hit: Any) -> str:
    """'<timestamp> field=value ...' for one hit; fields the document lacks are left out."""
    source = hit.get("_source") if isinstance(hit, dict) else None
    source = source if isinstance(source, dict) else {}
    stamp = lookup(source, spec.time_field)
    parts = [_text(stamp) if stamp is not _MISSING else "-"]
    for name in spec.sample_fields:
        value = lookup(source, name)
        if value is not _MISSING:
            parts.append(f"{name}={_text(value)}")
    return " ".join(parts)


_MISSING = object()


def lookup(source: Mapping[str, Any], name: str) -> Any:
    """A field of _source, flat ("log.level": ...) or nested ({"log": {"level": ...}})."""
    if name in source:
        return source[name]
    head, dot, rest = name.partition(".")
    while dot:
        node = source.get(head)
        if isinstance(node, dict):
            found = lookup(node, rest)
            if found is not _MISSING:
                return found
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return _MISSING


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return runner.one_line(text, SAMPLE_VALUE_LIMIT)
