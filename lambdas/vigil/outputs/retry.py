"""One time budget per delivery, and retries with exponential backoff and full jitter inside it.

Backoff: attempt n waits a random time between 0 and min(cap, base × 2^n) ("full jitter", AWS
Architecture Blog, *Exponential Backoff And Jitter*): retries of many notifiers spread out instead
of hitting a recovering service together. A Retry-After from the server is honoured in full, and
when it does not fit in what is left of the budget the delivery fails now rather than knock early:
nothing ever sleeps past the deadline.

Only what may succeed later is retried (429, 408, 5xx, timeouts, refused or reset connections);
any other answer is final at once, so a wrong password costs one request, not a lockout.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class DeliveryError(Exception):
    """An output could not deliver. The message is safe to log and to page with: no secret, no URL."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.attempts = 0  # set by with_retries


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock; every wait and socket operation gets only what is left of it."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.0)

    def within(self, seconds: float) -> Deadline:
        """This deadline or one `seconds` from now, whichever comes first (one request's share)."""
        return Deadline(min(self.at, time.monotonic() + seconds))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    request_timeout: float = 10.0  # one attempt's share of the budget: a hung server leaves time to retry


def with_retries(
    call: Callable[[Deadline], T],
    policy: RetryPolicy,
    deadline: Deadline,
    *,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> tuple[T, int]:
    """(call's result, attempts made). Raises DeliveryError, with `attempts` set, once out of tries or time."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return call(deadline.within(policy.request_timeout)), attempt
        except DeliveryError as exc:
            exc.attempts = attempt
            if not exc.retryable or attempt >= policy.max_attempts:
                raise
            wait = jitter() * min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
            if exc.retry_after is not None:
                wait = max(wait, exc.retry_after)
            if wait >= deadline.remaining():
                final = DeliveryError(f"{exc.reason}; out of time after {attempt} attempt(s)", retryable=False)
                final.attempts = attempt
                raise final from None
            sleep(wait)
