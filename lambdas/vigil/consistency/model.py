"""The canonical row form both sides of a comparison agree on, byte for byte.

A row is reduced to one text: its normalized key (each part of a composite key), then each
compared field in declared order, separated by U+001F, NULL written as U+001E. Text is escaped
first (U+001D → U+001D "0", U+001F → U+001D "1", U+001E → U+001D "2"), so no real value can pass
for a separator or a NULL: the text of a row says which values it holds and nothing else. Its
64-bit hash is the first 8 bytes of the MD5 of that text's UTF-8 (big-endian, unsigned). SQL stores compute the same text and hash inside the
database (vigil.consistency.sql); other stores are read and reduced here. A bucket's checksum is
the sum of its row hashes mod 2^64: order-independent, and unlike XOR a duplicated row changes it.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, NamedTuple

SEPARATOR = "\x1f"
NULL = "\x1e"
ESCAPE = "\x1d"
# Escape first, then the markers: each becomes ESCAPE and a digit, so the escaped text holds no
# marker, and ESCAPE only ever before a digit (the mapping can be undone: it is injective).
ESCAPES = ((ESCAPE, ESCAPE + "0"), (SEPARATOR, ESCAPE + "1"), (NULL, ESCAPE + "2"))
MASK64 = (1 << 64) - 1

KeyPart = int | str
Key = KeyPart | tuple[KeyPart, ...]  # a composite key is the tuple of its normalized parts


class KeyType(StrEnum):
    int = "int"
    str = "str"
    uuid = "uuid"


class InvalidKey(ValueError):
    """A key value that does not normalize under the declared key type."""


_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
# The one text form of a uuid every side can order by an index: 36 characters, hyphenated.
UUID_TEXT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def normalize_key(value: Any, key_type: KeyType) -> KeyPart | None:
    """One key part as both sides compare it; None for NULL; InvalidKey when it does not fit.
    A uuid is its lowercase hyphenated text (from a UUID, 16 bytes, or that text in any case)."""
    if value is None:
        return None
    if key_type is KeyType.uuid:
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, bytes | bytearray) and len(value) == 16:
            return str(uuid.UUID(bytes=bytes(value)))
        if isinstance(value, str) and UUID_TEXT.match(value):
            return value.lower()
        raise InvalidKey(repr(value))
    if key_type is KeyType.int:
        if isinstance(value, bool):
            raise InvalidKey(repr(value))
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal | float) and value == int(value):
            return int(value)
        if isinstance(value, str) and _INT_TEXT.match(value):
            return int(value)
        raise InvalidKey(repr(value))
    if isinstance(value, bytes | bytearray):
        raise InvalidKey(repr(value))
    return value if isinstance(value, str) else str(value)


def normalize_keys(value: Any, key_types: Sequence[KeyType]) -> Key | None:
    """The key of a row: one part, or for a composite key the tuple of its parts (the row's key
    value is then the sequence of its columns' values). NULL when any part is NULL."""
    if len(key_types) == 1:
        return normalize_key(value, key_types[0])
    parts = tuple(value)
    if any(part is None for part in parts):
        return None
    try:
        return tuple(normalize_key(p, t) for p, t in zip(parts, key_types, strict=True))  # type: ignore[misc]
    except InvalidKey:
        raise InvalidKey(repr(parts)) from None


def escape(text: str) -> str:
    for marker, escaped in ESCAPES:
        text = text.replace(marker, escaped)
    return text


@dataclass(frozen=True)
class FieldType:
    """How a compared field is written in the canonical text.

    int: decimal digits. text: the value itself. bool: 1 or 0. decimal: fixed `scale` digits after
    the point, rounded half away from zero (as SQL casts do). timestamp: the UTC instant as
    YYYY-MM-DDTHH:MM:SS plus `scale` fractional digits, truncated; a value without a zone is UTC.
    """

    name: str
    scale: int = 0

    @classmethod
    def parse(cls, text: str) -> FieldType:
        match = re.fullmatch(r"(int|text|bool|decimal|timestamp)(?:\((\d)\))?", text.strip())
        if not match:
            raise ValueError(f"field type {text!r}: use int, text, bool, decimal(N) or timestamp(N) with N from 0 to 6")
        name, scale = match.group(1), match.group(2)
        if scale is not None and name in ("int", "text", "bool"):
            raise ValueError(f"field type {text!r}: only decimal and timestamp take a scale")
        return cls(name, int(scale) if scale is not None else (6 if name == "timestamp" else 0))

    def __str__(self) -> str:
        return f"{self.name}({self.scale})" if self.name in ("decimal", "timestamp") else self.name


def canonical_value(value: Any, ftype: FieldType) -> str:
    if value is None:
        return NULL
    match ftype.name:
        case "int":
            return str(int(value))
        case "bool":
            if isinstance(value, str):
                return "1" if value.strip().lower() in ("1", "t", "true", "y", "yes") else "0"
            return "1" if value else "0"
        case "decimal":
            number = value if isinstance(value, Decimal) else Decimal(str(value))
            return str(number.quantize(Decimal(1).scaleb(-ftype.scale), rounding=ROUND_HALF_UP))
        case "timestamp":
            return canonical_timestamp(value, ftype.scale)
        case _:
            return escape(value if isinstance(value, str) else str(value))


def canonical_timestamp(value: Any, scale: int) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        value = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ValueError(f"not a timestamp: {value!r}")
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[: 19 if scale == 0 else 20 + scale]


def key_text(key: Key) -> str:
    """A normalized key in the canonical text: its parts, text escaped, separated."""
    parts = key if isinstance(key, tuple) else (key,)
    return SEPARATOR.join(escape(p) if isinstance(p, str) else str(p) for p in parts)


def canonical_text(key: Key, values: list[Any], types: list[FieldType]) -> str:
    return SEPARATOR.join([key_text(key), *(canonical_value(v, t) for v, t in zip(values, types, strict=True))])


def row_hash(text: str) -> int:
    return int.from_bytes(hashlib.md5(text.encode(), usedforsecurity=False).digest()[:8], "big")


def checksum(hashes: Any) -> int:
    return sum(hashes) & MASK64


@dataclass(frozen=True)
class Range:
    """Keys k with lo <= k < hi; None is unbounded on that side."""

    lo: Key | None
    hi: Key | None

    def __contains__(self, key: Key) -> bool:
        return (self.lo is None or key >= self.lo) and (self.hi is None or key < self.hi)  # type: ignore[operator]

    def __str__(self) -> str:
        return f"[{'-inf' if self.lo is None else self.lo}, {'+inf' if self.hi is None else self.hi})"


@dataclass(frozen=True)
class Summary:
    count: int
    checksum: int


EMPTY = Summary(0, 0)


class Row(NamedTuple):
    """One row at row level: its normalized key, canonical hash, and whether it is inside the lag
    window. A tuple: a million of them are built at row level, three times faster than a frozen
    dataclass."""

    key: Key
    hash: int
    recent: bool = False


class DiffType(StrEnum):
    missing = "missing"  # in source, not in target
    extra = "extra"  # in target, not in source
    changed = "changed"  # in both, with different compared fields
    duplicate = "duplicate"  # the same key more than once on one side
    null_key = "null_key"  # rows whose key is NULL
    invalid_key = "invalid_key"  # keys that do not normalize under the key type


@dataclass(frozen=True)
class Difference:
    type: DiffType
    key: str  # the normalized key, or the raw value for invalid keys, "" for NULL keys
    side: str | None = None  # source or target, for the per-side types
    count: int = 1  # rows it stands for (NULL keys and duplicates)

    def line(self) -> str:
        where = f" in {self.side}" if self.side else ""
        times = f" x{self.count}" if self.count != 1 else ""
        return f"{self.type.value}{where}: {self.key}{times}" if self.key else f"{self.type.value}{where}{times}"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type.value, "key": self.key, "side": self.side, "count": self.count}


@dataclass(frozen=True)
class KeyAnomalies:
    """What one side holds outside the key space: NULL keys and keys that do not normalize."""

    null_count: int = 0
    invalid_count: int = 0
    invalid_sample: tuple[str, ...] = ()


def uuid_int(key: KeyPart) -> int:
    return uuid.UUID(str(key)).int


def int_uuid(number: int) -> str:
    return str(uuid.UUID(int=number))


def split_int(rng: Range, n: int, lo: int, hi: int) -> list[Range]:
    """n contiguous ranges covering rng, equal width over [lo, hi]; open ends stay open."""
    start = lo if rng.lo is None else int(rng.lo)
    stop = hi + 1 if rng.hi is None else int(rng.hi)
    width = max(1, -(-(stop - start) // n))
    bounds = list(range(start + width, stop, width))[: n - 1]
    edges: list[Key | None] = [rng.lo, *bounds, rng.hi]
    return [Range(a, b) for a, b in itertools.pairwise(edges)]


def split_uuid(rng: Range, n: int, lo: str, hi: str) -> list[Range]:
    """split_int over the 128-bit values of uuids: random (v4) and time-ordered (v7) uuids spread
    evenly enough between the smallest and the largest for equal widths to need no quantiles."""
    as_int = Range(None if rng.lo is None else uuid_int(rng.lo), None if rng.hi is None else uuid_int(rng.hi))
    parts = split_int(as_int, n, uuid_int(lo), uuid_int(hi))
    edges = [rng.lo, *(int_uuid(int(p.lo)) for p in parts[1:]), rng.hi]  # type: ignore[arg-type]
    return [Range(a, b) for a, b in itertools.pairwise(edges)]


def split_at(rng: Range, cuts: Sequence[Key]) -> list[Range]:
    """Contiguous ranges covering rng, cut at the given boundaries: inside rng and in the order the
    store that chose them sorts keys (which may be a collation Python does not know). Repeated
    cuts and cuts at rng's own start are dropped; nothing is re-sorted here."""
    edges: list[Key | None] = [rng.lo]
    for cut in cuts:
        if cut != edges[-1] and cut != rng.hi:
            edges.append(cut)
    edges.append(rng.hi)
    return [Range(a, b) for a, b in itertools.pairwise(edges)]
