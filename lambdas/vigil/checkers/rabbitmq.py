"""Checker for kind `rabbitmq`: queues and broker health from the RabbitMQ management HTTP API.

One run is: GET /api/nodes, then the queues, asking with `columns=` for only the fields evaluated
(names only when queues must be told apart) and with `Accept-Encoding: gzip`, which the
management API honours: the figures of thousands of queues compress about 10 to 20 times.

- A check of listed queues only pages through GET /api/queues[/<vhost>]?name=^(?:a|b)$&use_regex=true
  (500 a page, the API's maximum): the selection is small, so it is one page.
- A pattern, or the whole broker or vhost, is read in ONE unpaged request, and a pattern is applied
  here. The broker builds its full queue listing for every page it serves (at 5,000 queues a page
  of 100 costs as much as a page of 500, about 0.1 s), so a pattern matching thousands of queues
  would cost ten listings paged, and costs one this way; compression keeps the bytes small.

Everything then is pure functions over the decoded dicts: figures per queue, the check's rollup,
the broker's health.

Down versus cannot measure
--------------------------
Unreachable=1 (status ok: it is a measurement) when the management API does not answer as one:
connection refused, reset or closed, DNS, TLS, timeout, a 5xx answer or a body that is not JSON.
Queue and broker metrics are then absent, and their alarms hold their state (missing data is
`ignore`), so a broker outage pages once, through `unreachable`.

Status failed (MeasureFailed=1) when the broker answered but vigil cannot read it: 401 (the
secret's credentials are wrong or the user is gone), 403 (the user lacks the `monitoring` tag or
permissions on the vhost), 404 (no such vhost, or `url` is not the management API), any other 4xx,
3xx, or a secret without username and password. The broker works; vigil's access to it does not,
and paging "broker down" for that would send on-call to the wrong place.

Other choices:
- A listed queue's signal without an override of its own goes into the check-level series, the
  worst over it and the rolled-up queues (`worst_values`); the first sample names each such
  signal's worst queue, so the ALARM e-mail says which queue breached.
- Series of a listed queue's own alarms (an override) need the dimensions Check and Queue, which
  CheckResult cannot carry: `measure` writes them as EMF documents of their own, in one write, and
  the runner writes the check's own line (rollup and broker figures) after it.
- Rates are the broker's own (its latest sample, refreshed every collect_statistics_interval,
  5 s by default). GrowthRate = publish - deliver_get: the ready backlog grows when messages
  arrive faster than they are handed out (a slow acker shows in `unacked` instead).
- OldestMessageAgeSeconds comes from head_message_timestamp: RabbitMQ reports it only for classic
  queues whose head message carries the AMQP `timestamp` property (it is absent otherwise, quorum
  queues and streams included), so it is emitted only when present.
- Only the standard library for the network (http.client, one kept-alive connection per run).
  The password is sent, never logged, and never copied into a reason.
- One hard deadline, spec.timeout, for the whole run: connecting and every read of every request
  get only what is left of it (vigil.checkers.network), so a broker (or anything posing as one)
  that drips its answer is a `timeout` at spec.timeout, not a checker held for minutes.
- Answers are capped at MAX_ANSWER_BYTES both as sent and decoded, and gzip is inflated a chunk
  at a time with an output limit: a gzip bomb (a few KB that inflate to gigabytes) stops at the
  cap with reason_code `too_large` instead of taking the Lambda's memory. 16 MiB decoded is about
  60,000 queues at the ~270 bytes a queue takes with names and rates, twelve times the 5,000 of
  docs/performance.md, and json.loads of it peaks near 85 MiB: it fits the function's 256 MB.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import re
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from vigil.checkers import runner
from vigil.checkers.network import Deadline, connection, network_verdict
from vigil.checkers.runner import CannotMeasure
from vigil.result import CHECK_DIMENSION, MAX_SAMPLES, METRIC_NAMESPACE, CheckResult
from vigil.secrets import SecretError
from vigil.spec.rabbitmq import (
    BACKLOG,
    GROWTH,
    NO_CONSUMERS,
    QUEUE_DIMENSION,
    QUEUE_SIGNALS,
    UNACKED,
    RabbitmqCheck,
)

KIND = "rabbitmq"
PAGE_SIZE = 500  # the management API's largest page
USER_AGENT = "vigil-checker/1"
MAX_ERROR_BODY = 64 * 1024  # an error's body is read this far, then cut: its status says enough
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a 200's body, as sent and decoded (see the module docstring)
_CHUNK = 64 * 1024

# What every selected queue sends: its figures and no name; `queue_columns` adds what telling
# queues apart needs. The total is ready + unacknowledged, so `messages` does not travel.
FIGURE_COLUMNS = (
    "messages_ready",
    "messages_unacknowledged",
    "consumers",
    "head_message_timestamp",
    "message_stats.publish_details.rate",
    "message_stats.deliver_get_details.rate",
    "message_stats.ack_details.rate",
)
NODE_COLUMNS = ("name", "running", "mem_alarm", "disk_free_alarm")

# Metric name → CloudWatch unit, for every metric this checker writes.
UNITS = {
    "Unreachable": "None",
    "ResourceAlarm": "None",
    "NodesTotal": "Count",
    "NodesRunning": "Count",
    "MemoryAlarms": "Count",
    "DiskAlarms": "Count",
    "QueuesMissing": "Count",
    "Queues": "Count",
    "Backlog": "Count",
    "MessagesReady": "Count",
    "MessagesUnacked": "Count",
    "Messages": "Count",
    "Consumers": "Count",
    "NoConsumers": "Count",
    "PublishRate": "Count/Second",
    "DeliverRate": "Count/Second",
    "AckRate": "Count/Second",
    "GrowthRate": "Count/Second",
    "UnackedPercent": "Percent",
    "OldestMessageAgeSeconds": "Seconds",
}

Write = Callable[[str], object]


class Unreachable(Exception):
    """The broker did not answer as a management API: a measurement (Unreachable=1)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return runner.run(event, KIND, parse, measure)


parse = RabbitmqCheck.model_validate


# -- fetch ---------------------------------------------------------------------------------------


@dataclass
class Fetched:
    nodes: list[Any]
    queues: list[Any]  # listing items: objects, or [] for one without any asked column


class ManagementApi:
    """GETs against one broker's management API over one kept-alive connection, within a deadline."""

    def __init__(self, url: str, username: str, password: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port
        self.base = parts.path.rstrip("/")
        self.timeout = timeout
        self.deadline = Deadline(timeout)
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._headers = {
            "Authorization": f"Basic {token}",
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": USER_AGENT,
        }
        self._conn: http.client.HTTPConnection | None = None
        self.requests = 0
        self.bytes_read = 0  # as they came over the wire
        self.bytes_decoded = 0  # after decompression

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """The decoded JSON answer; raises Unreachable or CannotMeasure. 400 comes back as (400, body)."""
        target = f"{self.base}{path}" + (f"?{urlencode(params)}" if params else "")
        try:
            status, body = self._request(path, target)
        except (Unreachable, CannotMeasure):
            raise
        except Exception as exc:
            verdict = network_verdict(exc, self.host, self.timeout)
            if verdict is None:
                raise
            raise Unreachable(verdict.code, verdict.reason) from None
        return judge_answer(path, status, body)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _request(self, path: str, target: str) -> tuple[int, bytes]:
        if self._conn is None:
            self._conn = connection(self.scheme, self.host, self.port, self.deadline)
        self._conn.request("GET", target, headers=self._headers)
        response = self._conn.getresponse()
        ok = response.status == 200
        self.requests += 1
        body, sent = read_body(response, path, MAX_ANSWER_BYTES if ok else MAX_ERROR_BODY, strict=ok)
        self.bytes_read += sent
        if response.will_close or not ok:
            self.close()
        self.bytes_decoded += len(body)
        return response.status, body


def read_body(response: http.client.HTTPResponse, path: str, limit: int, strict: bool) -> tuple[bytes, int]:
    """(the answer's body, gunzipped when it says gzip, bytes as sent), at most `limit` bytes each way.

    strict: more than the limit either way raises CannotMeasure (too_large) and a damaged gzip
    Unreachable; otherwise (an error's body) the body is cut at the limit, or where gzip broke.
    """
    if strict and response.length is not None and response.length > limit:
        raise _too_large(path, limit, "as sent")
    gzipped = (response.getheader("Content-Encoding") or "").lower() == "gzip"
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    parts: list[bytes] = []
    raw = size = 0
    while True:
        chunk = response.read1(_CHUNK)
        if not chunk:
            break
        raw += len(chunk)
        if raw > limit:
            if strict:
                raise _too_large(path, limit, "as sent")
            break
        try:
            # max_length: never more than one byte past the limit leaves the decoder at once.
            data = chunk if decoder is None else decoder.decompress(chunk, limit - size + 1)
        except zlib.error:
            if strict:
                raise Unreachable("protocol", f"{path} answered with a damaged gzip body") from None
            break
        size += len(data)
        if size > limit:
            if strict:
                raise _too_large(path, limit, "decoded")
            parts.append(data[: len(data) - (size - limit)])
            break
        parts.append(data)
    if strict:
        if response.length:
            # read1 reports a close before Content-Length bytes as a plain end of body.
            raise http.client.IncompleteRead(b"", response.length)
        response.read()  # nothing is left; this marks the answer done, so the connection can carry the next
    return b"".join(parts), raw


def _too_large(path: str, limit: int, how: str) -> CannotMeasure:
    return CannotMeasure(
        "too_large",
        f"{path}: answer larger than {limit // (1024 * 1024)} MiB {how}, vigil's cap: narrow the check "
        "(vhost, pattern, listed queues), or is url the management API?",
    )


PAGE_OUT_OF_RANGE = "page_out_of_range"


def judge_answer(path: str, status: int, body: bytes) -> Any:
    """What an answer means: its JSON, or Unreachable / CannotMeasure with a reason."""
    if status >= 500:
        raise Unreachable("status", f"status {status} from {path}")
    if status == 401:
        raise CannotMeasure("auth", "the management API refused the credentials (401): check the secret")
    if status == 403:
        raise CannotMeasure("auth", f"access denied to {path} (403): the user needs the monitoring tag")
    if status == 404:
        raise CannotMeasure("not_found", f"{path} not found (404): unknown vhost, or url is not the management API")
    if status == 400:
        error, reason = _error_of(body)
        if error == PAGE_OUT_OF_RANGE:
            return None  # the queue count shrank while paging: nothing more to read
        raise CannotMeasure("request", f"request to {path} rejected (400 {error}: {reason})")
    if status != 200:
        raise CannotMeasure("status", f"status {status} from {path}")
    try:
        return json.loads(body)
    except ValueError:
        raise Unreachable("protocol", f"{path} answered with something that is not JSON") from None


def _error_of(body: bytes) -> tuple[str, str]:
    """(error, reason) of the API's error document, bounded: the reason may quote the request."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return "unknown", "no reason given"
    return (
        runner.one_line(str(document.get("error") or "unknown"), 60),
        runner.one_line(str(document.get("reason") or "no reason given"), 120),
    )


def queues_path(spec: RabbitmqCheck) -> str:
    return "/api/queues" + (f"/{quote(spec.vhost, safe='')}" if spec.vhost else "")


def name_filter(spec: RabbitmqCheck) -> str | None:
    """The API's `name` filter (paged requests) for a check of listed queues only; None: read unpaged.

    Only a small, known selection is worth paging for (see the module docstring); `select`
    decides again on the names either way.
    """
    if spec.rolls_up:
        return None
    return "^(?:" + "|".join(re.escape(q.name) for q in spec.queues) + ")$"


def queue_columns(spec: RabbitmqCheck) -> tuple[str, ...]:
    """Names only when queues must be told apart (listed, or matched by a pattern here); vhosts only
    when they span several."""
    if not spec.queues and spec.pattern is None:
        return FIGURE_COLUMNS
    return ("name", *FIGURE_COLUMNS) if spec.vhost else ("name", "vhost", *FIGURE_COLUMNS)


def fetch(api: ManagementApi, spec: RabbitmqCheck) -> Fetched:
    nodes = api.get("/api/nodes", {"columns": ",".join(NODE_COLUMNS)})
    if not isinstance(nodes, list):
        raise Unreachable("protocol", "node listing is not a list: is url the management API?")
    columns = ",".join(queue_columns(spec))
    regex = name_filter(spec)
    if regex is None:
        return Fetched(nodes=nodes, queues=_listing(api.get(queues_path(spec), {"columns": columns})))
    params = {"page_size": str(PAGE_SIZE), "columns": columns, "name": regex, "use_regex": "true"}
    queues: list[Any] = []
    page = 1
    while True:
        answer = api.get(queues_path(spec), {"page": str(page), **params})
        if answer is None:
            break
        if not isinstance(answer, dict):
            raise Unreachable("protocol", "queue page is not an object: is url the management API?")
        queues.extend(_listing(answer.get("items")))
        if page >= int(answer.get("page_count") or 0):
            break
        page += 1
    return Fetched(nodes=nodes, queues=queues)


def _listing(items: Any) -> list[Any]:
    if not isinstance(items, list):
        raise Unreachable("protocol", "queue listing is not a list: is url the management API?")
    return items


# -- evaluate (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFigures:
    """One queue as the API reported it, with what the signals compare."""

    name: str
    vhost: str
    ready: int
    unacked: int
    total: int  # ready + unacknowledged, as RabbitMQ's own `messages`
    consumers: int
    publish_rate: float
    deliver_rate: float
    ack_rate: float
    head_timestamp: int | None

    @property
    def growth(self) -> float:
        return self.publish_rate - self.deliver_rate

    @property
    def unacked_percent(self) -> float:
        return 100.0 * self.unacked / self.total if self.total > 0 else 0.0

    @property
    def waiting_without_consumer(self) -> bool:
        return self.ready > 0 and self.consumers == 0

    def age(self, now: float) -> float | None:
        return None if self.head_timestamp is None else max(0.0, now - self.head_timestamp)


def _mapping(value: Any) -> Mapping[str, Any]:
    # The API writes an object with none of the asked columns as [] (an empty Erlang proplist).
    return value if isinstance(value, Mapping) else {}


def queue_figures(raw: Any) -> QueueFigures:
    item = _mapping(raw)
    stats = _mapping(item.get("message_stats"))

    def rate(name: str) -> float:
        value = _mapping(stats.get(f"{name}_details")).get("rate")
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0.0

    def count(name: str) -> int:
        value = item.get(name)
        return int(value) if isinstance(value, (int, float)) else 0

    timestamp = item.get("head_message_timestamp")
    return QueueFigures(
        name=str(item.get("name", "")),
        vhost=str(item.get("vhost", "")),
        ready=count("messages_ready"),
        unacked=count("messages_unacknowledged"),
        total=count("messages_ready") + count("messages_unacknowledged"),
        consumers=count("consumers"),
        publish_rate=rate("publish"),
        deliver_rate=rate("deliver_get"),
        ack_rate=rate("ack"),
        head_timestamp=int(timestamp) if isinstance(timestamp, (int, float)) and timestamp > 0 else None,
    )


@dataclass
class Selection:
    listed: dict[str, QueueFigures] = field(default_factory=dict)  # name → figures, catalog order
    rolled: list[QueueFigures] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # listed but not on the broker


def select(spec: RabbitmqCheck, queues: Iterable[QueueFigures]) -> Selection:
    """Listed queues one by one; the others the check selects roll up; listed ones never roll up too.

    A whole-broker or whole-vhost check takes the broker's answer as it is (no names travel).
    """
    matcher = re.compile(spec.pattern).search if spec.pattern is not None else None
    if not spec.queues:
        return Selection(rolled=[q for q in queues if matcher is None or matcher(q.name)])
    listed_names = [q.name for q in spec.queues]
    wanted = set(listed_names)
    found: dict[str, QueueFigures] = {}
    selection = Selection()
    for queue in queues:
        # Scoped to one vhost by the path, the answer carries no vhost column.
        vhost = queue.vhost or spec.queue_vhost
        if vhost == spec.queue_vhost and queue.name in wanted:
            found[queue.name] = queue
        elif spec.rolls_up and (spec.vhost is None or vhost == spec.vhost) and (matcher is None or matcher(queue.name)):
            selection.rolled.append(queue)
    selection.listed = {name: found[name] for name in listed_names if name in found}
    selection.missing = [name for name in listed_names if name not in found]
    return selection


def missing_queues(spec: RabbitmqCheck, selection: Selection) -> tuple[int, list[str]]:
    """What `queue_missing` counts (QueuesMissing), and it in words: each listed queue not found,
    plus 1 for a pattern that selects no queue (its rollup would report zeros that look healthy;
    listed queues never roll up, so a pattern matching only listed queues selects none either)."""
    count, words = len(selection.missing), []
    if selection.missing:
        words.append(f"listed queue(s) not found in vhost {spec.queue_vhost}: {', '.join(selection.missing)}")
    if spec.pattern is not None and not selection.rolled:
        count += 1
        where = f"vhost {spec.vhost}" if spec.vhost else "any vhost"
        beyond = " beyond the listed ones" if spec.queues else ""
        words.append(f"pattern {spec.pattern} matches no queue{beyond} in {where}")
    return count, words


def queue_values(queue: QueueFigures, now: float) -> dict[str, float]:
    """The per-queue series (dimensions Check and Queue)."""
    values = {
        "Backlog": float(queue.ready),
        "MessagesUnacked": float(queue.unacked),
        "Messages": float(queue.total),
        "Consumers": float(queue.consumers),
        "NoConsumers": 1.0 if queue.waiting_without_consumer else 0.0,
        "PublishRate": _rate(queue.publish_rate),
        "DeliverRate": _rate(queue.deliver_rate),
        "AckRate": _rate(queue.ack_rate),
        "GrowthRate": _rate(queue.growth),
        "UnackedPercent": round(queue.unacked_percent, 2),
    }
    age = queue.age(now)
    if age is not None:
        values["OldestMessageAgeSeconds"] = round(age, 1)
    return values


# What each queue signal compares per queue, and how the worst queue reads in a sample.
_WORST: dict[str, tuple[Callable[[QueueFigures], float], Callable[[QueueFigures], str]]] = {
    BACKLOG: (lambda q: float(q.ready), lambda q: f"{q.ready} ready"),
    NO_CONSUMERS: (lambda q: float(q.waiting_without_consumer), lambda q: f"{q.ready} ready, no consumer"),
    GROWTH: (lambda q: _rate(q.growth), lambda q: f"growing {q.growth:+.1f}/s"),
    UNACKED: (lambda q: round(q.unacked_percent, 2), lambda q: f"{q.unacked_percent:.0f}% unacked"),
}


def signal_values(queues: list[QueueFigures]) -> dict[str, float]:
    """What the queue signals compare over several queues: the worst queue's value, and for
    no_consumers how many queues wait without one."""
    return {
        "Backlog": float(max((q.ready for q in queues), default=0)),
        "NoConsumers": float(sum(1 for q in queues if q.waiting_without_consumer)),
        "GrowthRate": _rate(max((q.growth for q in queues), default=0.0)),
        "UnackedPercent": round(max((q.unacked_percent for q in queues), default=0.0), 2),
    }


def pooled(spec: RabbitmqCheck, selection: Selection, signal: str) -> list[QueueFigures]:
    """The queues in a signal's check-level series: rolled up, and listed without their own alarm."""
    listed = [selection.listed[name] for name in spec.pooled_queues(signal) if name in selection.listed]
    return [*selection.rolled, *listed]


def worst_values(spec: RabbitmqCheck, selection: Selection) -> dict[str, float]:
    """Each check-level queue signal's value over its own pool of queues."""
    values = {}
    for signal in spec.check_level_queue_signals():
        metric = spec.signals[signal].metric
        values[metric] = signal_values(pooled(spec, selection, signal))[metric]
    return values


def worst_sample(spec: RabbitmqCheck, selection: Selection) -> tuple[str, ...]:
    """One sample naming each check-level signal's worst named queue (where it is above zero)."""
    parts = []
    for signal in spec.check_level_queue_signals():
        value, words = _WORST[signal]
        named = [q for q in pooled(spec, selection, signal) if q.name]
        worst = max(named, key=value, default=None)
        if worst is not None and value(worst) > 0:
            parts.append(f"{signal} {worst.name} ({words(worst)})")
    return (f"worst queue per signal: {'; '.join(parts)}",) if parts else ()


def rollup_values(queues: list[QueueFigures], now: float) -> dict[str, float]:
    """The rolled-up queues as one series: the worst queue for what alarms compare, sums for the rest."""
    values = {
        "Queues": float(len(queues)),
        **signal_values(queues),
        "MessagesReady": float(sum(q.ready for q in queues)),
        "MessagesUnacked": float(sum(q.unacked for q in queues)),
        "Messages": float(sum(q.total for q in queues)),
        "Consumers": float(sum(q.consumers for q in queues)),
        "PublishRate": _rate(sum(q.publish_rate for q in queues)),
        "DeliverRate": _rate(sum(q.deliver_rate for q in queues)),
        "AckRate": _rate(sum(q.ack_rate for q in queues)),
    }
    ages = [age for q in queues if (age := q.age(now)) is not None]
    if ages:
        values["OldestMessageAgeSeconds"] = round(max(ages), 1)
    return values


def broker_values(nodes: list[Mapping[str, Any]]) -> tuple[dict[str, float], list[str]]:
    """Node health as values, and each problem in words."""
    problems = []
    for node in nodes:
        name = node.get("name", "?")
        if node.get("running") is not True:
            problems.append(f"node {name} not running")
        if node.get("mem_alarm") is True:
            problems.append(f"memory alarm on {name}")
        if node.get("disk_free_alarm") is True:
            problems.append(f"disk alarm on {name}")
    if not nodes:
        problems.append("the broker lists no nodes")
    values = {
        "NodesTotal": float(len(nodes)),
        "NodesRunning": float(sum(1 for n in nodes if n.get("running") is True)),
        "MemoryAlarms": float(sum(1 for n in nodes if n.get("mem_alarm") is True)),
        "DiskAlarms": float(sum(1 for n in nodes if n.get("disk_free_alarm") is True)),
        "ResourceAlarm": 1.0 if problems else 0.0,
    }
    return values, problems


def _rate(value: float) -> float:
    return round(value, 3)


@dataclass
class Evaluation:
    values: dict[str, float]  # the check's own series (dimension Check)
    per_queue: dict[str, dict[str, float]]  # listed queue with own alarms → its figures (Check, Queue)
    reason_code: str | None
    reason: str | None
    samples: tuple[str, ...] = ()


def queue_samples(queues: Iterable[QueueFigures], limit: int = 10) -> tuple[str, ...]:
    """The queues on-call should look at first: waiting without a consumer, then the deepest backlogs.

    Only named queues (a whole-broker check reads no names: the rollup must do there).
    """
    named = [q for q in queues if q.name]
    worst = sorted(named, key=lambda q: (not q.waiting_without_consumer, -q.ready, -q.unacked))[:limit]
    return tuple(
        f"{q.name}{f' (vhost {q.vhost})' if q.vhost not in ('', '/') else ''}: {q.ready} ready, {q.unacked} unacked, "
        f"{q.consumers} consumer{'s' if q.consumers != 1 else ''}, growing {q.growth:+.1f}/s"
        for q in worst
        if q.ready or q.unacked
    )


def evaluate(spec: RabbitmqCheck, nodes: list[Any], items: Iterable[Any], now: float) -> Evaluation:
    selection = select(spec, (queue_figures(item) for item in items))
    values, problems = broker_values([_mapping(node) for node in nodes])
    values["Unreachable"] = 0.0
    if spec.rolls_up:
        values |= rollup_values(selection.rolled, now)
    values |= worst_values(spec, selection)
    missing, missing_words = missing_queues(spec, selection)
    if spec.expects_queues:
        values["QueuesMissing"] = float(missing)
    code = None
    if problems:
        code = "resource"
    elif missing:
        code = "queue_missing"
    problems.extend(missing_words)
    worst = worst_sample(spec, selection)
    return Evaluation(
        values=values,
        per_queue={
            name: queue_values(queue, now) for name, queue in selection.listed.items() if own_metrics(spec, name)
        },
        reason_code=code,
        reason=runner.one_line("; ".join(problems)) if problems else None,
        samples=worst + queue_samples([*selection.listed.values(), *selection.rolled], limit=MAX_SAMPLES - len(worst)),
    )


# -- emit ----------------------------------------------------------------------------------------


def own_metrics(spec: RabbitmqCheck, queue: str) -> set[str]:
    """The metrics a listed queue's own alarms read (its overridden signals); the rest is pooled."""
    listed = spec.listed_queue(queue)
    return {spec.signals[s].metric for s in QUEUE_SIGNALS if spec.own_alarm(listed, s)}


def queue_documents(
    spec: RabbitmqCheck, per_queue: Mapping[str, Mapping[str, float]], timestamp_ms: int
) -> list[dict[str, Any]]:
    """One EMF document per listed queue with own alarms (a document has one value per dimension),
    Check and Queue; only what its own alarms read is a metric, the rest plain fields."""
    documents = []
    for queue, values in per_queue.items():
        # At most the four queue signals: far below an EMF directive's 100 metrics.
        names = [n for n in values if n in own_metrics(spec, queue)]
        directives = [
            {
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [[CHECK_DIMENSION, QUEUE_DIMENSION]],
                "Metrics": [{"Name": n, "Unit": UNITS[n]} for n in names],
            }
        ]
        documents.append(
            {
                "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": directives},
                CHECK_DIMENSION: spec.id,
                QUEUE_DIMENSION: queue,
                **values,
            }
        )
    return documents


def write_documents(documents: list[dict[str, Any]], write: Write) -> None:
    """Every document in one write: one log event each, no interleaving with other output."""
    if documents:
        write("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in documents))


def _stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# -- measure -------------------------------------------------------------------------------------


def credentials(name: str, secret: Mapping[str, Any]) -> tuple[str, str]:
    username, password = secret.get("username"), secret.get("password")
    if not isinstance(username, str) or not username or not isinstance(password, str):
        raise SecretError(f"secret {name}: needs a JSON object with username and password strings")
    return username, password


def measure(spec: RabbitmqCheck, resolve: runner.SecretsResolver, write: Write = _stdout) -> CheckResult:
    """Fetch, evaluate, write the per-queue series; the check's own result for the runner to emit."""
    username, password = credentials(spec.credentials_secret, resolve(spec.credentials_secret))
    api = ManagementApi(spec.url, username, password, spec.timeout)
    try:
        fetched = fetch(api, spec)
    except Unreachable as down:
        return _result(spec, {"Unreachable": 1.0}, down.code, runner.one_line(down.reason), api)
    except CannotMeasure as cannot:  # the broker answered, but vigil may not or cannot read it
        return runner.cannot_measure(spec.id, KIND, cannot, details=_details(api))
    finally:
        api.close()
    evaluation = evaluate(spec, fetched.nodes, fetched.queues, time.time())
    write_documents(queue_documents(spec, evaluation.per_queue, int(time.time() * 1000)), write)
    return _result(spec, evaluation.values, evaluation.reason_code, evaluation.reason, api, evaluation.samples)


def _result(
    spec: RabbitmqCheck,
    values: dict[str, float],
    code: str | None,
    reason: str | None,
    api: ManagementApi,
    samples: tuple[str, ...] = (),
) -> CheckResult:
    return runner.measured(
        spec.id, KIND, values, UNITS, reason_code=code, reason=reason, details=_details(api), samples=samples
    )


def _details(api: ManagementApi) -> dict[str, str | int | float | bool | None]:
    return {"requests": api.requests, "bytes_read": api.bytes_read, "bytes_decoded": api.bytes_decoded}
