"""The acknowledgement link's token: HMAC-SHA256 over the alarm ARN, its ALARM's state timestamp and an expiry.

The token is the link's only authentication (the function URL's auth type is NONE), so it names
exactly one ALARM of one alarm and expires; the key is a generated Secrets Manager secret that
never appears in the template. `by` (who acknowledges) is not signed: anyone holding a valid link
may acknowledge, and the link's default is the route whose e-mail carried it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

KEY_FIELD = "key"  # the secret is {"key": "<64 generated characters>"}
# Long enough to cover every repeat at the defaults (6 × 30 min) and a night's sleep.
VALID_SECONDS = 24 * 3600


class AckRequest(BaseModel):
    """The link's query parameters, named short so the link stays short."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    alarm_arn: str = Field(alias="a", min_length=1, max_length=2048)
    at: str = Field(alias="t", min_length=1, max_length=40)  # vigil.notifier.state.stamp of the ALARM
    expires: int = Field(alias="e")  # epoch seconds
    signature: str = Field(alias="s", min_length=1, max_length=100)
    by: str = Field(default="", max_length=200)


def key(secret_id: str) -> bytes:
    """The HMAC key from its secret (cached per container by vigil.secrets)."""
    from vigil.secrets import get_json_secret

    value = get_json_secret(secret_id).get(KEY_FIELD)
    if not isinstance(value, str) or len(value) < 32:
        raise ValueError(f"secret {secret_id} has no {KEY_FIELD!r} of at least 32 characters")
    return value.encode()


def signature(key: bytes, alarm_arn: str, at: str, expires: int) -> str:
    message = f"{alarm_arn}\n{at}\n{expires}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).rstrip(b"=").decode()


def valid(key: bytes, request: AckRequest, now: float) -> bool:
    """Signed with `key` and not expired; the comparison takes the same time wherever it differs."""
    expected = signature(key, request.alarm_arn, request.at, request.expires)
    return hmac.compare_digest(expected.encode(), request.signature.encode()) and now < request.expires


def link(base_url: str, key: bytes, alarm_arn: str, at: str, by: str, now: float) -> str:
    expires = int(now) + VALID_SECONDS
    query = {"a": alarm_arn, "t": at, "e": expires, "s": signature(key, alarm_arn, at, expires), "by": by}
    return f"{base_url.rstrip('/')}/?{urlencode(query)}"
