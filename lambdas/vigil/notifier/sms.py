"""SMS text: the GSM-7 alphabet when it can carry the text, UCS-2 when it cannot, and segments.

AWS End User Messaging, "SMS character limits": a message in the GSM 03.38 alphabet holds 160
characters, one with any other character 70; a longer message is split into parts of 153 (GSM)
or 67 (UCS-2) characters, each billed and delivered on its own. GSM's extension characters
(^ { } \\ [ ] ~ | € and form feed) take two septets. UCS-2 counts UTF-16 code units, so an emoji
outside the Basic Multilingual Plane takes two.

vigil's alarm texts keep to one segment: a page that arrives in two halves (or one of them) is
worse than a shorter one. Characters are folded to GSM-7 when a faithful fold exists (é stays, ï
becomes i, an em dash a hyphen) so a Latin name keeps 160 characters of room; a name in Arabic,
Chinese or with an emoji is kept as it is, and the whole text then fits 70 UTF-16 units.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from vigil.notifier.sanitize import single_line

# GSM 03.38 default alphabet (3GPP TS 23.038, 6.2.1), without the escape code.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {"gsm7": 160, "ucs2": 70}
PER_PART = {"gsm7": 153, "ucs2": 67}

# Typographic characters that have a GSM-7 look-alike; the extension set's characters swapped for
# one-septet ones (a URL is percent-encoded instead, so it keeps pointing where it points).
_LOOKALIKES = str.maketrans(
    {
        "—": "-",
        "–": "-",
        "−": "-",
        "…": "...",
        "→": "->",
        "←": "<-",
        "≥": ">=",
        "≤": "<=",
        "×": "x",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "`": "'",
        "\u00a0": " ",
        "[": "(",
        "]": ")",
        "{": "(",
        "}": ")",
        "|": "/",
        "^": "",
        "~": "-",
        "\\": "/",
    }
)


class Encoding(StrEnum):
    gsm7 = "gsm7"
    ucs2 = "ucs2"


@dataclass(frozen=True)
class SmsSize:
    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def fold(text: str) -> str:
    """One line in GSM-7 where a faithful equivalent exists; other characters kept as they are."""
    return "".join(_fold_char(ch) for ch in single_line(text).translate(_LOOKALIKES))


def _fold_char(ch: str) -> str:
    if ch in GSM_BASIC:
        return ch
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return base if base and all(c in GSM_BASIC for c in base) else ch


def encoding(text: str) -> Encoding:
    return Encoding.gsm7 if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text) else Encoding.ucs2


def utf16_units(text: str) -> int:
    """Length as UCS-2 and most AWS APIs count it: a character outside the BMP counts two."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def units(text: str, enc: Encoding) -> int:
    if enc is Encoding.gsm7:
        return sum(2 if ch in GSM_EXTENSION else 1 for ch in text)
    return utf16_units(text)


def size(text: str) -> SmsSize:
    enc = encoding(text)
    count = units(text, enc)
    parts = 1 if count <= SINGLE[enc] else math.ceil(count / PER_PART[enc])
    return SmsSize(encoding=enc, units=count, segments=parts)


def room(text: str) -> tuple[Encoding, int]:
    """The encoding `text` will travel in and how many units one segment of it holds."""
    enc = encoding(text)
    return enc, SINGLE[enc]
