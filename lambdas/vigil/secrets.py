"""Secrets Manager reads for checkers: JSON secrets, cached per container, values never logged.

boto3 is imported inside the first fetch, not at module import: most checks need no secret, and
boto3 costs more import time than the checker itself. The cache keeps a warm container from
calling Secrets Manager on every run (it is billed per call and throttles), while the TTL lets a
rotated secret reach running containers within minutes.

On a workstation (`python -m infra run`), `served_locally` puts a local source in front of
Secrets Manager for the duration of one run: infra.local_checker fills it from environment
variables or a git-ignored file. Nothing in a Lambda sets it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

DEFAULT_TTL_SECONDS = 300.0

_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_client: Any = None
# boto3's default session is not thread-safe when creating clients; a multi-check checker may
# resolve secrets from several threads.
_client_lock = threading.Lock()


# Secret id → its JSON object, or None to ask Secrets Manager (see `served_locally`).
LocalSource = Callable[[str], dict[str, Any] | None]
_local_source: LocalSource | None = None
# Catalog secret name → the secret's JSON object; raises SecretError.
SecretsResolver = Callable[[str], dict[str, Any]]


class SecretError(Exception):
    """A secret could not be read or is not a JSON object. The message names the secret, never its value."""


@contextmanager
def served_locally(source: LocalSource) -> Iterator[None]:
    """Within the block, secrets the source knows come from it, uncached; the rest from Secrets Manager."""
    global _local_source
    previous, _local_source = _local_source, source
    try:
        yield
    finally:
        _local_source = previous


def get_json_secret(secret_id: str, ttl: float = DEFAULT_TTL_SECONDS) -> dict[str, Any]:
    """The secret's SecretString parsed as a JSON object; raises SecretError on any failure."""
    local = _local_source(secret_id) if _local_source is not None else None
    if local is not None:
        return local
    now = time.monotonic()
    cached = _cache.get(secret_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    value = _parse(secret_id, _fetch(secret_id))
    _cache[secret_id] = (now + ttl, value)
    return value


def resolver(secret_ids: Mapping[str, str]) -> SecretsResolver:
    """Catalog secret name → its JSON object, through the names-to-ids map the stack hands the function."""

    def resolve(name: str) -> dict[str, Any]:
        secret_id = secret_ids.get(name)
        if secret_id is None:
            raise SecretError(f"secret {name} is not in this function's secrets (stack and catalog out of step?)")
        return get_json_secret(secret_id)

    return resolve


def clear_cache() -> None:
    """Forget cached values and the client (tests, or after a known rotation)."""
    global _client
    _cache.clear()
    with _client_lock:
        _client = None


def _secrets_client() -> Any:
    global _client
    with _client_lock:
        if _client is None:
            import boto3  # lazy: see module docstring

            _quiet_botocore()
            _client = boto3.client("secretsmanager")
        return _client


def _quiet_botocore() -> None:
    # At DEBUG, botocore logs every response body, secret values included. A Lambda's log level
    # is one setting away from DEBUG, so botocore is held at INFO or quieter.
    botocore_logger = logging.getLogger("botocore")
    if botocore_logger.getEffectiveLevel() < logging.INFO:
        botocore_logger.setLevel(logging.INFO)


def _fetch(secret_id: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = _secrets_client().get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        raise SecretError(f"secret {secret_id}: {code}") from None
    except BotoCoreError as exc:
        # Messages of BotoCoreError name endpoints and credentials problems, never secret values.
        raise SecretError(f"secret {secret_id}: {type(exc).__name__}: {exc}") from None
    text = response.get("SecretString")
    if not isinstance(text, str):
        raise SecretError(f"secret {secret_id}: has no SecretString (binary secrets are not supported)")
    return text


def _parse(secret_id: str, text: str) -> dict[str, Any]:
    return json_object(text, f"secret {secret_id}: SecretString")


def json_object(text: str, what: str) -> dict[str, Any]:
    """A secret's text as a JSON object; SecretError names `what`, never the text."""
    try:
        value = json.loads(text)
    except ValueError:
        # The decoder's message quotes part of the text: leave it out.
        raise SecretError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise SecretError(f"{what} is JSON but not an object")
    return value
