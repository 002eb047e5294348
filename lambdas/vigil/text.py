"""Bounding text that ends up in alarms, SMS and e-mail: the checkers, the notifier and synth share it."""

from __future__ import annotations

import re

# A reason (why a check is unhealthy, why a notification fell back) is quoted in e-mails: one
# line, bounded, so a huge exception or response body cannot swamp the message.
REASON_LIMIT = 300


def one_line(text: str) -> str:
    """All whitespace runs, newlines included, become one space."""
    return re.sub(r"\s+", " ", text).strip()


def clip(text: str, limit: int, marker: str = "…") -> str:
    """At most `limit` characters; a cut text ends with `marker`. Nothing fits in a limit of 0."""
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return text[: max(limit, 0)]
    return text[: limit - len(marker)] + marker
