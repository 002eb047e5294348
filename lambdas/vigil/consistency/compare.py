"""Compare two collections by key without holding either in memory.

    source ──summarize(buckets)──┐            count + checksum per bucket, computed in the store
                                 ├─ equal? ── done (most buckets, at the cost of one scan per side)
    target ──summarize(buckets)──┘
                                 └─ differ ─► split the bucket (fanout) and summarize its children,
                                              recursively, until a bucket holds at most
                                              row_threshold rows: then rows(bucket) from both sides,
                                              merged by key → missing / extra / changed / duplicate

The same `drill` runs in-process over every mismatched top-level bucket, or over one bucket per
iteration of a Step Functions Map state; `Tally` is what either returns, and tallies add up.
Memory is bounded by the bucket sizes (two chunks of ROWS_IN_MEMORY rows per side), never by the table size.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from vigil.consistency.keyorder import settle
from vigil.consistency.model import (
    Difference,
    DiffType,
    Key,
    KeyAnomalies,
    KeyType,
    Range,
    Row,
    Summary,
    split_at,
    split_int,
    split_uuid,
)

logger = logging.getLogger(__name__)
Sink = Callable[[Difference], None]
# Rows per side held at once in row-level comparison (a chunk of small buckets).
ROWS_IN_MEMORY = 20_000


class Endpoint(Protocol):
    """One side of a comparison. Every method sees only rows outside the lag window, except `rows`,
    which returns them flagged `recent` so a row still replicating is not reported."""

    name: str

    def key_bounds(self) -> tuple[Key, Key] | None:
        """Smallest and largest normalized key, None when empty."""
        ...

    def quantiles(self, rng: Range, n: int, size: int | None = None) -> list[Key]:
        """Up to n-1 keys cutting rng into n parts of about equal row counts (string and composite
        keys), in the order this endpoint sorts keys in; `size`: rng's row count here, if known."""
        ...

    def key_orders(self) -> tuple[str | None, ...]:
        """Per key part, the order this side sorts it in natively (see vigil.consistency.keyorder);
        None where it has no key to look at."""
        ...

    def summarize(self, ranges: Sequence[Range]) -> list[Summary]:
        """Count and checksum per range; the ranges are contiguous and in order. (A store read row by
        row also offers summarize_many(groups) and rows_many(ranges): one pass for many; a search
        index, count_many(groups): exact counts first, see _summarize_level.)"""
        ...

    def rows(self, rng: Range) -> Iterable[Row]:
        """Every row in rng (any order); at most about row_threshold of them."""
        ...

    def anomalies(self) -> KeyAnomalies: ...


@dataclass(frozen=True)
class Options:
    key_types: tuple[KeyType, ...] = (KeyType.int,)  # one per part of a composite key
    buckets: int = 64  # top-level buckets: one scan per side computes all of them
    fanout: int = 16  # children per mismatched bucket
    row_threshold: int = 2000  # buckets with at most this many rows (larger side) are compared row by row
    sample_size: int = 10
    workers: int = 4  # queries per side at once (SQL)


@dataclass
class Tally:
    """Differences found (counts by type, the first few as a sample) and what it took."""

    counts: Counter[str] = field(default_factory=Counter)
    sample: list[str] = field(default_factory=list)
    sample_size: int = 10
    source_rows: int = 0
    target_rows: int = 0
    buckets: int = 0
    mismatched_buckets: int = 0
    row_buckets: int = 0  # buckets compared row by row
    key_order: list[str] = field(default_factory=list)  # why a key part is compared without an index

    def add(self, diff: Difference) -> None:
        self.counts[diff.type.value] += diff.count
        if len(self.sample) < self.sample_size:
            self.sample.append(diff.line())

    def merge(self, other: Tally) -> None:
        self.counts.update(other.counts)
        self.sample.extend(other.sample[: max(0, self.sample_size - len(self.sample))])
        for name in ("source_rows", "target_rows", "buckets", "mismatched_buckets", "row_buckets"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.key_order.extend(note for note in other.key_order if note not in self.key_order)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "sample": self.sample,
            "key_order": self.key_order,
            **{
                n: getattr(self, n)
                for n in ("source_rows", "target_rows", "buckets", "mismatched_buckets", "row_buckets")
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], sample_size: int = 10) -> Tally:
        tally = cls(counts=Counter(data["counts"]), sample=list(data["sample"]), sample_size=sample_size)
        tally.key_order = list(data.get("key_order") or [])
        for name in ("source_rows", "target_rows", "buckets", "mismatched_buckets", "row_buckets"):
            setattr(tally, name, int(data[name]))
        return tally


@dataclass(frozen=True)
class Bucket:
    """A top-level bucket and both sides' summaries of it: the unit a Map state iterates over."""

    range: Range
    source: Summary
    target: Summary


class Comparison:
    def __init__(self, source: Endpoint, target: Endpoint, options: Options, sink: Sink | None = None) -> None:
        self.source, self.target, self.options = source, target, options
        self._sink = sink
        self._pool = ThreadPoolExecutor(max_workers=2)  # both sides of one step at once
        self._bounds: tuple[Key, Key] | None = None
        self._settled: tuple[str, ...] | None = None
        # Single integer and uuid keys are cut in equal widths; others at quantiles.
        self._even = options.key_types in ((KeyType.int,), (KeyType.uuid,))

    def close(self) -> None:
        self._pool.shutdown()

    def report(self, diff: Difference, tally: Tally) -> None:
        tally.add(diff)
        if self._sink is not None:
            self._sink(diff)

    # -- the key order both sides compare in ------------------------------------------------------

    def key_order(self) -> tuple[str, ...]:
        """Settle, once, the order both sides place keys in (vigil.consistency.keyorder); what it
        cost: why a key part could not be compared with the sides' own indexes (empty: it can)."""
        if self._settled is None:
            source, target = self._both(lambda e: e.key_orders())
            names = [str(i + 1) for i in range(len(self.options.key_types))]
            settled = settle(self.options.key_types, source, target, names)
            for endpoint, native in ((self.source, settled.source_native), (self.target, settled.target_native)):
                if not all(native):
                    endpoint.compare_natively(native)  # type: ignore[attr-defined]
            for reason in settled.reasons:
                logger.warning("%s ⇄ %s: %s", self.source.name, self.target.name, reason)
            self._settled = settled.reasons
        return self._settled

    # -- plan: key anomalies and the top-level buckets --------------------------------------------

    def plan(self, tally: Tally) -> list[Bucket]:
        """Report NULL and invalid keys, summarize the top-level buckets; the mismatched ones."""
        tally.key_order.extend(self.key_order())
        for side, endpoint in (("source", self.source), ("target", self.target)):
            self._anomalies(side, endpoint.anomalies(), tally)
        ranges = self._top_ranges()
        sources, targets = (side[0] for side in self._summarize_level([ranges]))
        tally.buckets += len(ranges)
        tally.source_rows += sum(s.count for s in sources)
        tally.target_rows += sum(t.count for t in targets)
        return [Bucket(r, s, t) for r, s, t in zip(ranges, sources, targets, strict=True) if s != t]

    def _anomalies(self, side: str, found: KeyAnomalies, tally: Tally) -> None:
        if found.null_count:
            self.report(Difference(DiffType.null_key, "", side, found.null_count), tally)
        for raw in found.invalid_sample:
            self.report(Difference(DiffType.invalid_key, raw, side), tally)
        if found.invalid_count > len(found.invalid_sample):
            rest = found.invalid_count - len(found.invalid_sample)
            self.report(Difference(DiffType.invalid_key, "(more, not listed)", side, rest), tally)

    def _top_ranges(self) -> list[Range]:
        everything = Range(None, None)
        if self._even and self._key_bounds() is None:
            return [everything]
        return self._split(everything, self.options.buckets)

    def _key_bounds(self) -> tuple[Key, Key] | None:
        """The smallest and largest key of both sides, asked once (a Map iteration asks too: the
        first and last buckets are open-ended)."""
        if self._bounds is None:
            bounds = [b for b in self._both(lambda e: e.key_bounds()) if b is not None]
            if bounds:
                self._bounds = (min(b[0] for b in bounds), max(b[1] for b in bounds))  # type: ignore[type-var]
        return self._bounds

    def _split(self, rng: Range, n: int, sizes: tuple[int, int] | None = None) -> list[Range]:
        """n parts of rng; `sizes`: its row counts on each side, when a summary gave them."""
        if self._even:
            bounds = self._key_bounds()
            if bounds is None:
                return [rng]
            if self.options.key_types == (KeyType.uuid,):
                return split_uuid(rng, n, str(bounds[0]), str(bounds[1]))
            return split_int(rng, n, int(bounds[0]), int(bounds[1]))  # type: ignore[arg-type]
        source, target = sizes or (None, None)
        cuts = self.source.quantiles(rng, n, source) or self.target.quantiles(rng, n, target)
        return split_at(rng, cuts)

    # -- drill: mismatched buckets down to their differing rows -----------------------------------

    def drill(self, buckets: Sequence[Bucket], tally: Tally) -> None:
        """Level by level: small buckets are compared row by row, the others split and summarized
        again. A level costs one query per parent on SQL stores, one pass on stores read row by row."""
        self.key_order()
        level = list(buckets)
        while level:
            tally.mismatched_buckets += len(level)
            leaves: list[Range] = []
            parents: list[list[Range]] = []
            for bucket in level:
                largest = max(bucket.source.count, bucket.target.count)
                sizes = (bucket.source.count, bucket.target.count)
                children = (
                    []
                    if largest <= self.options.row_threshold
                    else self._split(bucket.range, self.options.fanout, sizes)
                )
                # A bucket that cannot be split holds one key many times (duplicates): compare its rows.
                if len(children) < 2:
                    leaves.append(bucket.range)
                elif dense(bucket, len(children), self.options.row_threshold):
                    leaves.extend(children)
                else:
                    parents.append(children)
            self.diff_rows(leaves, tally)
            sources, targets = self._summarize_level(parents)
            level = [
                Bucket(rng, s, t)
                for group, s_group, t_group in zip(parents, sources, targets, strict=True)
                for rng, s, t in zip(group, s_group, t_group, strict=True)
                if s != t
            ]

    def diff_rows(self, ranges: Sequence[Range], tally: Tally) -> None:
        """Row-level comparison, a chunk of buckets at a time: the next chunk is read while this one
        is compared, so memory holds at most two chunks of ROWS_IN_MEMORY rows per side."""
        size = max(1, ROWS_IN_MEMORY // max(1, self.options.row_threshold))
        chunks = [ranges[start : start + size] for start in range(0, len(ranges), size)]
        if not chunks:
            return
        with ThreadPoolExecutor(max_workers=1) as ahead:
            pending = ahead.submit(self._both, partial(self._rows, ranges=chunks[0]))
            for n, part in enumerate(chunks):
                sources, targets = pending.result()
                if n + 1 < len(chunks):
                    pending = ahead.submit(self._both, partial(self._rows, ranges=chunks[n + 1]))
                tally.row_buckets += len(part)
                for s_rows, t_rows in zip(sources, targets, strict=True):
                    for diff in row_differences(s_rows, t_rows):
                        self.report(diff, tally)

    def _summarize_level(self, groups: list[list[Range]]) -> tuple[list[list[Summary]], list[list[Summary]]]:
        """Both sides' summaries of every group of ranges. A side offering exact counts
        (count_many: a search index's _count) gives them first; it then computes checksums, in one
        pass restricted to those ranges, only where both sides' counts agree. Where the counts
        differ the bucket differs whatever its checksum: it is drilled (its children summarized)
        or read row by row without being streamed at this level too; its Summary holds the count
        and checksum 0, which no equality test reads since the counts already differ."""
        if not groups:
            return [], []
        first = self._both(partial(self._counts_or_summaries, groups=groups))
        if not any(isinstance(side, _Counts) for side in first):
            return first[0], first[1]
        counts = [[[s.count if isinstance(s, Summary) else s for s in group] for group in side] for side in first]
        agree = [
            [cs == ct for cs, ct in zip(s_group, t_group, strict=True)]
            for s_group, t_group in zip(counts[0], counts[1], strict=True)
        ]
        wanted = [rng for g, group in enumerate(groups) for i, rng in enumerate(group) if agree[g][i]]

        def finish(endpoint: Endpoint) -> list[list[Summary]]:
            side = first[0] if endpoint is self.source else first[1]
            if not isinstance(side, _Counts):
                return side
            streamed = iter(endpoint.summarize_many([wanted])[0] if wanted else [])  # type: ignore[attr-defined]
            return [
                [next(streamed) if agree[g][i] else Summary(count, 0) for i, count in enumerate(group)]
                for g, group in enumerate(side)
            ]

        return self._both(finish)

    def _counts_or_summaries(self, endpoint: Endpoint, groups: list[list[Range]]) -> Any:
        count_many = getattr(endpoint, "count_many", None)
        counts = count_many(groups) if count_many is not None else None
        return _Counts(counts) if counts is not None else self._summaries(endpoint, groups)

    def _summaries(self, endpoint: Endpoint, groups: list[list[Range]]) -> list[list[Summary]]:
        if not groups:
            return []
        many = getattr(endpoint, "summarize_many", None)
        if many is not None:
            return list(many(groups))
        workers = max(1, self.options.workers)
        if len(groups) < workers and getattr(endpoint, "one_core_a_query", False):
            # Few groups (the top level is one): each cut into contiguous slices summarized at once,
            # so a database that runs a query on one core (MySQL, MariaDB) gets `workers` busy.
            sliced = [_slices(group, workers // len(groups)) for group in groups]
            with ThreadPoolExecutor(max_workers=workers) as pool:
                parts = iter(list(pool.map(endpoint.summarize, [part for slices in sliced for part in slices])))
            return [[s for _ in slices for s in next(parts)] for slices in sliced]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(endpoint.summarize, groups))

    def _rows(self, endpoint: Endpoint, ranges: Sequence[Range]) -> list[list[Row]]:
        many = getattr(endpoint, "rows_many", None)
        if many is not None:
            return list(many(ranges))
        with ThreadPoolExecutor(max_workers=max(1, self.options.workers)) as pool:
            return list(pool.map(lambda r: list(endpoint.rows(r)), ranges))

    def run(self) -> Tally:
        tally = Tally(sample_size=self.options.sample_size)
        self.drill(self.plan(tally), tally)
        return tally

    def _both(self, call: Callable[[Endpoint], Any]) -> tuple[Any, Any]:
        future = self._pool.submit(call, self.target)
        return call(self.source), future.result()


def dense(bucket: Bucket, children: int, row_threshold: int) -> bool:
    """Whether a bucket's children would nearly all differ too, so that summarizing them would only
    add a pass before reading their rows anyway: at least as many rows missing on one side as it
    has children (spread evenly, they leave at most about a third of the children alike), and children
    small enough to read. Only counts say so: changed rows leave them equal, and the bucket is
    drilled as usual."""
    largest = max(bucket.source.count, bucket.target.count)
    return abs(bucket.source.count - bucket.target.count) >= children and largest <= row_threshold * children


def _slices(group: Sequence[Range], n: int) -> list[Sequence[Range]]:
    """n contiguous runs of about equal length (fewer when the group is shorter)."""
    n = max(1, min(n, len(group)))
    return [group[len(group) * i // n : len(group) * (i + 1) // n] for i in range(n)]


class _Counts(list[list[int]]):
    """A side's exact counts per group (count_many), before its checksums."""


def _by_key(row: Row) -> Key:
    return row.key


def row_differences(source: Sequence[Row], target: Sequence[Row]) -> Iterator[Difference]:
    """The differences between two sides' rows of one range, in any order. Most rows are alike
    even where a bucket differs: keys whose (key, hash) pair is on one side only, or that repeat,
    are found with sets first, and only their rows are merged one by one."""
    only = {key for key, _ in {(r.key, r.hash) for r in source} ^ {(r.key, r.hash) for r in target}}
    for rows in (source, target):
        keys = [r.key for r in rows]
        if len(set(keys)) != len(keys):
            only.update(key for key, times in Counter(keys).items() if times > 1)
    if not only:
        return
    picked = [sorted((r for r in rows if r.key in only), key=_by_key) for rows in (source, target)]
    yield from diff_sorted(*picked)


def diff_sorted(source: Sequence[Row], target: Sequence[Row]) -> Iterator[Difference]:
    """Merge two key-sorted row lists into differences; keys touched inside the lag window are skipped."""
    i = j = 0
    while i < len(source) or j < len(target):
        take_source = j >= len(target) or (i < len(source) and source[i].key < target[j].key)  # type: ignore[operator]
        key = source[i].key if take_source else target[j].key
        s_rows, i = _group(source, i, key)
        t_rows, j = _group(target, j, key)
        yield from _diff_key(key, s_rows, t_rows)


def _group(rows: Sequence[Row], start: int, key: Key) -> tuple[list[Row], int]:
    end = start
    while end < len(rows) and rows[end].key == key:
        end += 1
    return list(rows[start:end]), end


def _diff_key(key: Key, source: list[Row], target: list[Row]) -> Iterator[Difference]:
    if any(r.recent for r in (*source, *target)):
        return  # still replicating: compared on a later run
    text = str(key)
    for side, rows in (("source", source), ("target", target)):
        if len(rows) > 1:
            yield Difference(DiffType.duplicate, text, side, len(rows))
    if not target:
        yield Difference(DiffType.missing, text)
    elif not source:
        yield Difference(DiffType.extra, text)
    elif {r.hash for r in source} != {r.hash for r in target}:
        yield Difference(DiffType.changed, text)
