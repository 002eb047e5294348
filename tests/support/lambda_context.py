"""A stand-in for the Lambda context object: what vigil's handlers read of it, the time left."""

from __future__ import annotations

import time


class Context:
    """An invocation that Lambda ends `seconds` from now."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.ends - time.monotonic()) * 1000)
