"""The pure core of kind `consistency`: canonical form, checksum, bisection, lag, with in-memory stores."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from vigil.consistency.compare import Comparison, Options, Tally, diff_sorted, row_differences
from vigil.consistency.model import (
    ESCAPE,
    NULL,
    SEPARATOR,
    DiffType,
    FieldType,
    InvalidKey,
    KeyType,
    Range,
    Row,
    canonical_text,
    canonical_value,
    checksum,
    escape,
    normalize_key,
    row_hash,
    split_at,
    split_int,
)
from vigil.consistency.stream import Record, ScanEndpoint, Shape

TYPES = (FieldType.parse("text"), FieldType.parse("decimal(2)"), FieldType.parse("timestamp(3)"))
T0 = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def records(n: int) -> list[Record]:
    return [Record(i, [f"name-{i}", Decimal(i) / 4, T0 + timedelta(seconds=i)], T0) for i in range(1, n + 1)]


def compare(source: list[Record], target: list[Record], key_type: KeyType = KeyType.int, **kw: object) -> Tally:
    cutoff = kw.pop("cutoff", None)
    shape = Shape((key_type,), TYPES, cutoff)  # type: ignore[arg-type]
    options = Options(key_types=(key_type,), **{"buckets": 8, "fanout": 4, "row_threshold": 10, **kw})  # type: ignore[arg-type]
    found: list[str] = []
    comparison = Comparison(
        ScanEndpoint("source", shape, lambda: source),
        ScanEndpoint("target", shape, lambda: target),
        options,
        lambda d: found.append(d.line()),
    )
    try:
        tally = comparison.run()
    finally:
        comparison.close()
    assert len(found) == len(tally.sample) or len(found) > tally.sample_size  # the sink sees every difference
    tally.lines = found  # type: ignore[attr-defined]
    return tally


def test_canonical_text_is_key_then_fields_with_separator_and_null_marker() -> None:
    text = canonical_text(42, ["a", None, "2024-03-01T14:00:00.5+02:00"], list(TYPES))
    assert text == f"42{SEPARATOR}a{SEPARATOR}{NULL}{SEPARATOR}2024-03-01T12:00:00.500"


# -- escaping: a real value never passes for a separator or a NULL ---------------------------------

TEXT2 = [FieldType.parse("text"), FieldType.parse("text")]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ([None, "x"], [NULL, "x"]),  # NULL on one side, the marker's own character on the other
        ([None, "x"], ["", "x"]),  # NULL against the empty string
        (["a\x1fb", "c"], ["a", "b\x1fc"]),  # where does the first value end?
        ([ESCAPE + "1", "c"], [SEPARATOR, "c"]),  # the escape's own output, written by hand
        (["a" + SEPARATOR, None], ["a", SEPARATOR + NULL]),
    ],
)
def test_values_that_looked_alike_unescaped_are_different_rows(one: list[object], other: list[object]) -> None:
    assert canonical_text(1, one, TEXT2) != canonical_text(1, other, TEXT2)
    assert row_hash(canonical_text(1, one, TEXT2)) != row_hash(canonical_text(1, other, TEXT2))


def test_canonical_text_is_injective_over_every_short_value_pair() -> None:
    # Every pair of values (NULL or a text of up to 3 characters from the markers, the escape,
    # its digits and a letter) gets its own text: no two rows can hash alike but by MD5 collision.
    alphabet = [SEPARATOR, NULL, ESCAPE, "0", "1", "2", "a"]
    values: list[object] = [None] + ["".join(t) for n in range(4) for t in itertools.product(alphabet, repeat=n)]
    texts = {canonical_text(7, [a, b], TEXT2) for a in values for b in values}
    assert len(texts) == len(values) ** 2


def test_text_without_markers_is_left_alone() -> None:
    # So the checksums of ordinary data did not change with escaping.
    for value in ("plain", "été مرحبا 👍🏽 e\u0301", "tab\there", ""):
        assert escape(value) == value
    assert escape(f"x{ESCAPE}y{SEPARATOR}z{NULL}") == f"x{ESCAPE}0y{ESCAPE}1z{ESCAPE}2"
    assert canonical_value(f"a{NULL}", FieldType.parse("text")) == f"a{ESCAPE}2"


def test_unicode_is_hashed_as_its_utf8_bytes_without_normalization() -> None:
    # é precomposed (U+00E9) and decomposed (e + U+0301) look alike and are different values.
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert canonical_text(1, [composed], TEXT2[:1]) != canonical_text(1, [decomposed], TEXT2[:1])
    emoji = canonical_text(1, ["👍🏽"], TEXT2[:1])
    assert emoji.encode() == b"1\x1f\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd"


@pytest.mark.parametrize(
    ("value", "ftype", "expected"),
    [
        (Decimal("10.5"), "decimal(2)", "10.50"),
        (2.675, "decimal(2)", "2.68"),  # half away from zero, from the float's text, as SQL casts round
        (Decimal("7.5"), "decimal", "8"),
        (True, "bool", "1"),
        ("f", "bool", "0"),
        ("42", "int", "42"),
        (datetime(2024, 1, 1, 0, 0, 1, 999999), "timestamp(0)", "2024-01-01T00:00:01"),
        (1704067200, "timestamp(0)", "2024-01-01T00:00:00"),
    ],
)
def test_canonical_values(value: object, ftype: str, expected: str) -> None:
    assert canonical_value(value, FieldType.parse(ftype)) == expected


def test_same_instant_in_two_zones_is_equal_and_a_shifted_wall_clock_is_not() -> None:
    ts = FieldType.parse("timestamp(6)")
    paris = datetime(2024, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert canonical_value(paris, ts) == canonical_value(datetime(2024, 6, 1, 12, 0, tzinfo=UTC), ts)
    assert canonical_value(paris, ts) == canonical_value("2024-06-01T12:00:00Z", ts)
    assert canonical_value(paris.replace(tzinfo=None), ts) != canonical_value(paris, ts)


def test_field_type_errors_say_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="use int, text, bool, decimal"):
        FieldType.parse("float")
    with pytest.raises(ValueError, match="only decimal and timestamp take a scale"):
        FieldType.parse("int(2)")


def test_integer_keys_normalize_from_text_and_bad_ones_are_refused() -> None:
    assert normalize_key("42", KeyType.int) == normalize_key(42, KeyType.int) == normalize_key(Decimal(42), KeyType.int)
    assert normalize_key(None, KeyType.int) is None
    for bad in ("4x", True, 4.5):
        with pytest.raises(InvalidKey):
            normalize_key(bad, KeyType.int)
    assert normalize_key(7, KeyType.str) == "7"


def test_checksum_is_order_independent_and_sees_duplicates() -> None:
    hashes = [row_hash(str(i)) for i in range(100)]
    assert checksum(hashes) == checksum(reversed(hashes))
    assert checksum([*hashes, hashes[0], hashes[0]]) != checksum(hashes)  # XOR would cancel the pair
    assert 0 <= checksum(hashes) < 2**64


def test_row_hash_is_md5_prefix() -> None:
    # What every SQL dialect computes: first 8 bytes of MD5, big-endian.
    assert row_hash("abc") == int("900150983cd24fb0", 16)


def test_splits_cover_the_range_contiguously() -> None:
    parts = split_int(Range(None, None), 4, 1, 100)
    assert parts[0].lo is None and parts[-1].hi is None and len(parts) == 4
    assert all(a.hi == b.lo for a, b in itertools.pairwise(parts))
    assert split_int(Range(10, 12), 16, 1, 100) == [Range(10, 11), Range(11, 12)]
    assert split_at(Range("b", "y"), ["c", "c", "m"]) == [Range("b", "c"), Range("c", "m"), Range("m", "y")]


def test_identical_data_reports_nothing() -> None:
    tally = compare(records(500), records(500))
    assert tally.total == 0 and tally.source_rows == tally.target_rows == 500
    assert tally.mismatched_buckets == 0


def test_every_difference_type_is_found() -> None:
    source = records(500)
    target = records(500)
    target[199] = Record(200, ["changed", Decimal(50), T0 + timedelta(seconds=200)], T0)  # changed field
    target.append(Record(300, ["name-300", Decimal(75), T0 + timedelta(seconds=300)], T0))  # duplicate key
    target.append(Record(None, ["null key", 0, T0], T0))
    target.append(Record("x-1", ["bad key", 0, T0], T0))
    # the same instant written in another zone: equal; a wall clock shifted by the offset: changed
    plus2 = timezone(timedelta(hours=2))
    target[9] = Record(10, ["name-10", Decimal(10) / 4, (T0 + timedelta(seconds=10)).astimezone(plus2)], T0)
    shifted = (T0 + timedelta(seconds=20)).astimezone(plus2).replace(tzinfo=UTC)
    target[19] = Record(20, ["name-20", Decimal(20) / 4, shifted], T0)
    del target[99]  # key 100 missing in target
    target.append(Record(9999, ["new", 1, T0], T0))  # extra
    tally = compare(source, target)
    assert sorted(tally.lines) == sorted(  # type: ignore[attr-defined]
        [
            "missing: 100",
            "extra: 9999",
            "changed: 200",
            "changed: 20",
            "duplicate in target: 300 x2",
            "null_key in target",
            "invalid_key in target: 'x-1'",
        ]
    )
    assert tally.counts == {"missing": 1, "extra": 1, "changed": 2, "duplicate": 2, "null_key": 1, "invalid_key": 1}


def test_string_ids_compare_equal_to_integer_ids_under_an_integer_key() -> None:
    source = records(300)
    target = [Record(str(r.key), r.values, r.updated_at) for r in records(300)]
    assert compare(source, target).total == 0


def test_string_keys_bisect_by_quantiles() -> None:
    source = [Record(f"k{i:05d}", r.values, r.updated_at) for i, r in enumerate(records(400))]
    target = [r for r in source if r.key != "k00123"]
    tally = compare(source, target, key_type=KeyType.str)
    assert tally.lines == ["missing: k00123"]  # type: ignore[attr-defined]


def test_rows_inside_the_lag_window_are_not_compared() -> None:
    cutoff = T0 + timedelta(minutes=5)
    source = records(200)
    source[50] = Record(51, ["just written", 0, T0], cutoff + timedelta(seconds=30))
    source.append(Record(201, ["new, not replicated yet", 0, T0], cutoff + timedelta(seconds=1)))
    target = records(200)
    assert compare(source, target, cutoff=cutoff).total == 0
    # The same rows older than the cutoff are differences.
    assert compare(source, target, cutoff=cutoff + timedelta(hours=1)).counts == {"changed": 1, "missing": 1}


def test_rows_fetched_only_for_small_buckets_and_one_pass_per_level() -> None:
    source = records(5000)
    target = [r for r in source if r.key not in (4321, 17)]
    shape = Shape((KeyType.int,), TYPES)
    fetched: list[int] = []
    passes = {"s": 0, "t": 0}

    class Counting(ScanEndpoint):
        def rows_many(self, ranges):  # type: ignore[no-untyped-def]
            found = super().rows_many(ranges)
            fetched.extend(len(rows) for rows in found)
            return found

    def scan(name: str, rows: list[Record]):  # type: ignore[no-untyped-def]
        passes[name] += 1
        return iter(rows)

    comparison = Comparison(
        Counting("s", shape, lambda: scan("s", source)),
        Counting("t", shape, lambda: scan("t", target)),
        Options(buckets=16, fanout=8, row_threshold=50),
    )
    tally = comparison.run()
    comparison.close()
    assert tally.counts == {"missing": 2}
    assert max(fetched) <= 50 and len(fetched) == 4  # two small buckets per side, never the table
    # first pass (anomalies, bounds), top level, one level of children, rows: not one pass per bucket
    assert passes == {"s": 4, "t": 4}


def test_a_bucket_missing_many_rows_reads_its_childrens_rows_without_summarizing_them() -> None:
    source = records(5000)
    passes = {"s": 0, "t": 0}
    shape = Shape((KeyType.int,), TYPES)

    def scan(name: str, rows: list[Record]):  # type: ignore[no-untyped-def]
        passes[name] += 1
        return iter(rows)

    def run(target: list[Record]) -> Tally:
        passes.update(s=0, t=0)
        comparison = Comparison(
            ScanEndpoint("s", shape, lambda: scan("s", source)),
            ScanEndpoint("t", shape, lambda: scan("t", target)),
            Options(buckets=16, fanout=8, row_threshold=50),
        )
        try:
            return comparison.run()
        finally:
            comparison.close()

    # 40 rows missing from one bucket of ~312 (8 children): nearly every child differs.
    gone = set(range(1001, 1241, 6))
    tally = run([r for r in source if r.key not in gone])
    assert tally.counts == {"missing": 40}
    assert passes == {"s": 3, "t": 3}  # first pass, top level, rows: no pass summarizing children
    # Two rows missing: the children are summarized, and only theirs read.
    tally = run([r for r in source if r.key not in (1001, 1200)])
    assert tally.counts == {"missing": 2} and passes == {"s": 4, "t": 4}


def test_the_set_prefilter_finds_what_merging_every_row_finds() -> None:
    # Random sides with changed, missing, extra, duplicated and recent rows, in any order.
    chooser = random.Random(7)
    for _ in range(300):
        rows = [
            Row(k, chooser.randrange(3), chooser.random() < 0.05)
            for k in range(40)
            for _ in range(chooser.choice((0, 1, 1, 1, 2)))
        ]
        other = [
            Row(k, chooser.randrange(3), chooser.random() < 0.05)
            for k in range(40)
            for _ in range(chooser.choice((0, 1, 1, 1, 2)))
        ]
        other += chooser.sample(rows, len(rows) // 2)
        chooser.shuffle(other)
        everything = list(diff_sorted(sorted(rows, key=lambda r: r.key), sorted(other, key=lambda r: r.key)))
        assert sorted(map(str, row_differences(rows, other))) == sorted(map(str, everything))
        same = sorted(map(str, diff_sorted(sorted(rows, key=lambda r: r.key), sorted(rows, key=lambda r: r.key))))
        assert sorted(map(str, row_differences(rows, rows[::-1]))) == same  # only duplicates, whatever the order


def test_diff_sorted_skips_keys_touched_inside_the_lag_window() -> None:
    found = list(diff_sorted([Row(1, 5, recent=True), Row(2, 6)], [Row(2, 6), Row(3, 7, recent=True)]))
    assert found == []


def test_tallies_merge_as_map_results_do() -> None:
    a = compare(records(50), records(49))
    b = Tally.from_json(a.to_json())
    b.merge(a)
    assert b.counts[DiffType.missing.value] == 2 and b.sample == ["missing: 50", "missing: 50"]


class OneCore:
    """A store like MySQL: no one-pass summaries, one core a query. Records each summarize call."""

    one_core_a_query = True

    def __init__(self, name: str, rows: list[Record]) -> None:
        self.name = name
        self.inner = ScanEndpoint(name, Shape((KeyType.int,), TYPES), lambda: iter(rows))
        self.calls: list[int] = []

    def summarize(self, ranges):  # type: ignore[no-untyped-def]
        self.calls.append(len(ranges))
        return self.inner.summarize(ranges)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        if name in ("summarize_many", "rows_many", "count_many"):
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_a_one_core_store_gets_the_top_level_as_contiguous_slices_at_once() -> None:
    source, target = OneCore("s", records(2000)), OneCore("t", [r for r in records(2000) if r.key != 777])
    comparison = Comparison(source, target, Options(buckets=16, fanout=4, row_threshold=50, workers=4))  # type: ignore[arg-type]
    try:
        tally = comparison.run()
    finally:
        comparison.close()
    assert tally.counts == {"missing": 1} and tally.buckets == 16
    assert source.calls[:4] == [4, 4, 4, 4]  # the top level: four queries of four buckets, not one of 16
