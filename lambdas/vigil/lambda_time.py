"""How long the current Lambda invocation has left, read from its context object.

The context is optional everywhere vigil's handlers run outside Lambda (local runs, tests): no
context, or one without the method, means "unknown", never zero.
"""

from __future__ import annotations

from typing import Any


def seconds_left(context: Any) -> float | None:
    """Seconds until Lambda ends this invocation; None when the context does not say."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else None
