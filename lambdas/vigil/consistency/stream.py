"""An endpoint over any store that can only be read row by row (DynamoDB, S3 exports, a search index).

The store supplies `scan()`: an iterator of Records in any order. Every Endpoint method is one pass
over it, hashing here with the canonical form of vigil.consistency.model; memory holds one
summary per bucket, or one bucket's rows, never the collection. Key anomalies and key bounds come
from the same first pass.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigil.consistency.keyorder import CANONICAL
from vigil.consistency.model import (
    MASK64,
    FieldType,
    InvalidKey,
    Key,
    KeyAnomalies,
    KeyType,
    Range,
    Row,
    Summary,
    canonical_text,
    canonical_timestamp,
    normalize_keys,
    row_hash,
)

INVALID_SAMPLE = 10
QUANTILE_SAMPLE = 200  # keys sampled per quantile asked for


@dataclass(frozen=True)
class Record:
    key: Any  # a composite key: the tuple of its columns' values
    values: list[Any]
    updated_at: Any = None


@dataclass(frozen=True)
class Shape:
    """What both sides share: the key's type (one per part of a composite key), the compared
    fields' types, and the lag cutoff."""

    key_types: tuple[KeyType, ...]
    types: tuple[FieldType, ...]
    cutoff: datetime | None = None  # rows updated after it are inside the lag window

    def cutoff_text(self) -> str | None:
        return None if self.cutoff is None else canonical_timestamp(self.cutoff, 6)


class ScanEndpoint:
    def __init__(self, name: str, shape: Shape, scan: Callable[[], Iterable[Record]]) -> None:
        self.name, self.shape, self._scan = name, shape, scan
        self._first: tuple[KeyAnomalies, tuple[Key, Key] | None] | None = None

    def _rows(self, ranges: Sequence[Range] | None = None) -> Iterator[tuple[Key, Record]]:
        """(normalized key, record) of every row with a usable key; given ranges, of at least the
        rows in them (the caller still places each key)."""
        for record in self._scan() if ranges is None else self._scan_in(ranges):
            try:
                key = normalize_keys(record.key, self.shape.key_types)
            except InvalidKey:
                continue
            if key is not None:
                yield key, record

    def _scan_in(self, ranges: Sequence[Range]) -> Iterable[Record]:
        """Records of at least these key ranges: every record here; a store that can filter by key
        (a search index) reads less."""
        return self._scan()

    def _recent(self, record: Record) -> bool:
        cutoff = self.shape.cutoff_text()
        return (
            cutoff is not None and record.updated_at is not None and canonical_timestamp(record.updated_at, 6) > cutoff
        )

    def _hash(self, key: Key, record: Record) -> int:
        return row_hash(canonical_text(key, record.values, list(self.shape.types)))

    def _first_pass(self) -> tuple[KeyAnomalies, tuple[Key, Key] | None]:
        if self._first is None:
            nulls = invalid = 0
            sample: list[str] = []
            lo: Key | None = None
            hi: Key | None = None
            for record in self._scan():
                try:
                    key = normalize_keys(record.key, self.shape.key_types)
                except InvalidKey:
                    invalid += 1
                    if len(sample) < INVALID_SAMPLE:
                        sample.append(repr(record.key))
                    continue
                if key is None:
                    nulls += 1
                    continue
                lo = key if lo is None or key < lo else lo  # type: ignore[operator]
                hi = key if hi is None or key > hi else hi  # type: ignore[operator]
            bounds = None if lo is None or hi is None else (lo, hi)
            self._first = (KeyAnomalies(nulls, invalid, tuple(sample)), bounds)
        return self._first

    def anomalies(self) -> KeyAnomalies:
        return self._first_pass()[0]

    def key_orders(self) -> tuple[str, ...]:
        """Keys are placed here, in Python: every part in its type's canonical order."""
        return tuple(CANONICAL[t] for t in self.shape.key_types)

    def key_bounds(self) -> tuple[Key, Key] | None:
        return self._first_pass()[1]

    def quantiles(self, rng: Range, n: int, size: int | None = None) -> list[Key]:
        # Reservoir sample of the range's keys: bounded memory, about equal parts (size unused: one pass anyway).
        size = QUANTILE_SAMPLE * n
        sample: list[Key] = []
        seen = 0
        chooser = random.Random(0)
        for key, _ in self._rows([rng]):
            if key not in rng:
                continue
            seen += 1
            if len(sample) < size:
                sample.append(key)
            else:
                slot = chooser.randrange(seen)
                if slot < size:
                    sample[slot] = key
        sample.sort()  # type: ignore[arg-type]
        return sorted({sample[len(sample) * i // n] for i in range(1, n)} if sample else set())  # type: ignore[type-var]

    def summarize(self, ranges: Sequence[Range]) -> list[Summary]:
        return self.summarize_many([list(ranges)])[0]

    def summarize_many(self, groups: Sequence[Sequence[Range]]) -> list[list[Summary]]:
        """Every group's summaries in one pass (the groups are disjoint: children of different buckets)."""
        find = self._locator([(g, i, r) for g, group in enumerate(groups) for i, r in enumerate(group)])
        counts = [[0] * len(group) for group in groups]
        sums = [[0] * len(group) for group in groups]
        for key, record in self._rows([rng for group in groups for rng in group]):
            slot = find(key)
            if slot is None or self._recent(record):
                continue
            g, i = slot
            counts[g][i] += 1
            sums[g][i] += self._hash(key, record)
        return [
            [Summary(c, s & MASK64) for c, s in zip(cs, ss, strict=True)] for cs, ss in zip(counts, sums, strict=True)
        ]

    def rows(self, rng: Range) -> Iterator[Row]:
        return iter(self.rows_many([rng])[0])

    def rows_many(self, ranges: Sequence[Range]) -> list[list[Row]]:
        find = self._locator([(0, i, r) for i, r in enumerate(ranges)])
        found: list[list[Row]] = [[] for _ in ranges]
        for key, record in self._rows(ranges):
            slot = find(key)
            if slot is not None:
                found[slot[1]].append(Row(key, self._hash(key, record), self._recent(record)))
        return found

    def _locator(self, ranges: list[tuple[int, int, Range]]) -> Callable[[Key], tuple[int, int] | None]:
        """key → (group, index) of the disjoint range holding it, by binary search."""
        ordered = sorted(ranges, key=lambda t: range_start(t[2]))
        starts = [range_start(r) for _, _, r in ordered]

        def find(key: Key) -> tuple[int, int] | None:
            at = bisect.bisect_right(starts, (1, key)) - 1
            if at < 0 or key not in ordered[at][2]:
                return None
            return ordered[at][0], ordered[at][1]

        return find


def range_start(rng: Range) -> tuple[int, Any]:
    """Sorts an unbounded start first, whatever the key's type."""
    return (0, 0) if rng.lo is None else (1, rng.lo)
