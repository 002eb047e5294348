"""What the five outputs share: reading the credentials secret, retrying, timing, logging, redacting.

A concrete output implements `deliver(alert, secret, http)`: the requests for one alert, made
through `http` (an Exchange: retries within the send's deadline). `send` wraps it so that nothing
expected escapes as an exception and no secret value reaches a log line or a Delivery: every
string of the secret (and, for a URL, its path and query alone) is masked in the error text,
even though the messages built here never quote them in the first place.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import time
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import urlsplit

from vigil.outputs.alert import Alert
from vigil.outputs.config import OutputBase
from vigil.outputs.delivery import Delivery
from vigil.outputs.httpclient import Response, raise_for_status, request
from vigil.outputs.retry import Deadline, DeliveryError, RetryPolicy, with_retries
from vigil.secrets import SecretError, SecretsResolver

logger = logging.getLogger("vigil.outputs")
ConfigT = TypeVar("ConfigT", bound=OutputBase)
T = TypeVar("T")
_MIN_MASKED = 4  # shorter strings ("", "a") would mask half the message and protect nothing
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-vigil-signature"})


class Exchange:
    """One send's HTTP exchanges: they share its deadline, and count the attempts made.

    `call` retries one request. `retrying` retries a whole operation of several requests, whose
    requests go through `once`: ServiceNow's look-then-create must look again before a retried
    create, or a create whose answer was lost would be made twice.
    """

    def __init__(self, output: BaseOutput[Any], deadline: Deadline) -> None:
        self._output = output
        self.deadline = deadline
        self._share = deadline  # the current attempt's share of the deadline
        self.attempts = 0
        self.concealed: set[str] = set()  # credentials derived from the secret: header values sent

    def call(self, method: str, url: str, *, what: str, headers: dict[str, str], payload: Any = None) -> Response:
        """One request (JSON body when `payload` is given), retried while it may succeed; non-2xx raises."""
        return self.retrying(lambda: self.once(method, url, what=what, headers=headers, payload=payload))

    def retrying(self, operation: Callable[[], T]) -> T:
        output = self._output

        def attempt(share: Deadline) -> T:
            self.attempts += 1
            self._share = share
            return operation()

        result, _ = with_retries(attempt, output.policy, self.deadline, sleep=output.sleep, jitter=output.jitter)
        return result

    def once(self, method: str, url: str, *, what: str, headers: dict[str, str], payload: Any = None) -> Response:
        """One request within the current attempt's share of the deadline; non-2xx raises."""
        body = None if payload is None else encode_json(payload)
        for name, value in headers.items():
            if name.lower() in _CREDENTIAL_HEADERS:
                self.concealed |= {value, value.split(" ", 1)[-1]}  # "Basic <b64>": the whole and the token
        response = request(method, url, deadline=self._share, headers=headers, body=body, tls=self._output.tls)
        raise_for_status(response, what)
        return response


class BaseOutput(Generic[ConfigT]):
    type: ClassVar[str]

    def __init__(
        self,
        config: ConfigT,
        resolve_secret: SecretsResolver,
        *,
        policy: RetryPolicy | None = None,
        tls: ssl.SSLContext | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.name = config.label
        self.credentials = config.credentials_secret
        self._resolve_secret = resolve_secret
        self.policy = policy or RetryPolicy()
        self.tls = tls
        self.sleep = sleep
        self.jitter = jitter

    def deliver(self, alert: Alert, secret: dict[str, Any], http: Exchange) -> str:
        """Make the requests for `alert`; return what was done ("created INC0010001"); raise DeliveryError."""
        raise NotImplementedError

    def send(self, alert: Alert, deadline: Deadline) -> Delivery:
        started = time.monotonic()
        http = Exchange(self, deadline)
        masked: list[str] = []
        try:
            secret = self._resolve_secret(self.credentials)
            masked = secret_strings(secret)
            action = self.deliver(alert, secret, http)
        except SecretError as exc:
            # SecretError names the secret, never its value.
            return self._result(alert, started, http, error=f"credentials: {exc}")
        except DeliveryError as exc:
            return self._result(alert, started, http, error=mask(exc.reason, masked + sorted(http.concealed)))
        return self._result(alert, started, http, action=action)

    def _result(
        self, alert: Alert, started: float, http: Exchange, *, action: str = "", error: str | None = None
    ) -> Delivery:
        delivery = Delivery(
            output=self.name,
            type=self.type,
            ok=error is None,
            action=action,
            error=error,
            attempts=http.attempts,
            seconds=round(time.monotonic() - started, 3),
        )
        fields = {
            "output": self.name,
            "output_type": self.type,
            "correlation_id": alert.correlation_id,
            "state": alert.state,
            "attempts": delivery.attempts,
            "seconds": delivery.seconds,
        }
        if delivery.ok:
            logger.info("output delivered: %s", action, extra=fields)
        else:
            logger.warning("output failed: %s", error, extra=fields)
        return delivery


class ChannelMessage(BaseOutput[ConfigT]):
    """An output that posts one message per alert to a webhook URL kept in its secret (Slack, Teams)."""

    url_is: ClassVar[str]  # what the secret's url is, for the error when it is missing

    def message(self, alert: Alert) -> dict[str, Any]:
        raise NotImplementedError

    def deliver(self, alert: Alert, secret: dict[str, Any], http: Exchange) -> str:
        url = require(secret, "url", self.credentials, self.url_is)
        http.call("POST", url, what="post message", headers={}, payload=self.message(alert))
        return "posted"


def encode_json(payload: Any) -> bytes:
    """The exact bytes sent for a JSON payload (a webhook signs these very bytes)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def each_member(alert: Alert, act: Callable[[Alert], str]) -> str:
    """`act` on the alert and on each grouped one alone; every member is tried, failures reported together."""
    done: list[str] = []
    failed: list[str] = []
    for member in alert.members():
        try:
            done.append(act(member))
        except DeliveryError as exc:
            failed.append(f"{member.correlation_id}: {exc.reason}")
    if failed:
        so_far = f" (done: {'; '.join(done)})" if done else ""
        raise DeliveryError("; ".join(failed) + so_far, retryable=False)
    return "; ".join(done)


def require(secret: dict[str, Any], key: str, credentials: str, why: str) -> str:
    """A non-empty string field of the secret, or a DeliveryError naming the secret and the key (never a value)."""
    value = secret.get(key)
    if not isinstance(value, str) or not value:
        raise DeliveryError(f"secret {credentials} has no {key!r} string ({why})", retryable=False)
    return value


def secret_strings(secret: Any) -> list[str]:
    """Every string in a secret, to be masked in error text; for a URL, also its path and query alone."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
            if "://" in node:
                parts = urlsplit(node)
                found.extend(p for p in (parts.path, parts.query) if p not in ("", "/"))
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(secret)
    return list(dict.fromkeys(found))


def mask(text: str, secrets: list[str]) -> str:
    for value in sorted((s for s in secrets if len(s) >= _MIN_MASKED), key=len, reverse=True):
        text = text.replace(value, "***")
    return text
