"""Text from alarms (names, descriptions, reasons) and checkers (samples) is untrusted for layout.

Control characters (NUL, ESC sequences from a log line, a bare carriage return), Unicode line
separators and bidirectional overrides can forge lines in an e-mail, break an SMS, or make a
line read in a different order than it is written (U+202E). Every channel's text passes through
here last; letters of every script, emoji and their joiners are kept.
"""

from __future__ import annotations

import re
import unicodedata

# Embeddings, overrides and isolates reorder what follows them until a pop (or the line end).
# The implicit marks (U+200E/U+200F) only nudge neutral characters and are legitimate in Arabic.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_NEWLINES = re.compile(r"\r\n|\r|\u2028|\u2029|\x85")


def _keep(ch: str) -> bool:
    return unicodedata.category(ch) != "Cc"


def single_line(text: str) -> str:
    """One line: every whitespace run (newlines included) one space, controls dropped, trimmed."""
    spaced = re.sub(r"\s+", " ", text.translate(_BIDI_CONTROLS))
    return "".join(ch for ch in spaced if _keep(ch)).strip()


def multi_line(text: str) -> str:
    """Lines kept (any line break becomes \\n), tabs one space, every other control dropped."""
    lines = _NEWLINES.sub("\n", text.translate(_BIDI_CONTROLS)).replace("\t", " ")
    return "".join(ch for ch in lines if ch == "\n" or _keep(ch))
