"""Keys beyond integers: uuid and text keys, composite keys, bucket boundaries, and the key order
both sides agree on (vigil.consistency.keyorder). Pure functions and in-memory stores."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

import pytest

from vigil.consistency.compare import Comparison, Options
from vigil.consistency.keyorder import settle, text_order
from vigil.consistency.model import (
    SEPARATOR,
    FieldType,
    InvalidKey,
    KeyType,
    Range,
    canonical_text,
    key_text,
    normalize_key,
    normalize_keys,
    split_at,
    split_uuid,
)
from vigil.consistency.stream import Record, ScanEndpoint, Shape

U = "0f8fad5b-d9cb-469f-a165-70867728950e"
TYPES = (FieldType.parse("text"), FieldType.parse("decimal(2)"))


# -- normalizing keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [uuid.UUID(U), U.upper(), U, uuid.UUID(U).bytes])
def test_a_uuid_is_its_lowercase_hyphenated_text_from_any_form(value: object) -> None:
    assert normalize_key(value, KeyType.uuid) == U


@pytest.mark.parametrize("value", [U.replace("-", ""), "{" + U + "}", U + " ", "not a uuid", 42, b"short"])
def test_other_uuid_spellings_are_invalid_keys(value: object) -> None:
    # Only the forms an SQL side can also order by its index: no braces, no bare hex digits.
    with pytest.raises(InvalidKey):
        normalize_key(value, KeyType.uuid)


def test_a_composite_key_is_the_tuple_of_its_normalized_parts() -> None:
    types = (KeyType.int, KeyType.str, KeyType.uuid)
    assert normalize_keys(("7", "b", U.upper()), types) == (7, "b", U)
    assert normalize_keys((7, None, U), types) is None  # any NULL part: a NULL key
    with pytest.raises(InvalidKey, match=r"\('x', 'b'"):
        normalize_keys(("x", "b", U), types)
    assert normalize_keys("k", (KeyType.str,)) == "k"  # one part: the value itself


def test_key_text_writes_every_part_and_escapes_text() -> None:
    assert key_text((7, "a\x1fb", U)) == f"7{SEPARATOR}a\x1d1b{SEPARATOR}{U}"
    # The parts of a composite key cannot run into each other.
    assert key_text((1, f"2{SEPARATOR}3")) != key_text((1, "2", "3"))  # type: ignore[arg-type]
    assert canonical_text((1, "x"), ["n", Decimal(2)], list(TYPES)).startswith(f"1{SEPARATOR}x{SEPARATOR}n")


# -- bucket boundaries ---------------------------------------------------------------------------------


def test_uuid_buckets_are_equal_widths_of_the_128_bit_values() -> None:
    lo, hi = "00000000-0000-4000-8000-000000000000", "ffffffff-ffff-4fff-bfff-ffffffffffff"
    parts = split_uuid(Range(None, None), 16, lo, hi)
    assert len(parts) == 16 and parts[0].lo is None and parts[-1].hi is None
    assert all(a.hi == b.lo for a, b in itertools.pairwise(parts))
    cuts = [uuid.UUID(str(p.lo)) for p in parts[1:]]
    assert cuts == sorted(cuts) and all(str(c) == str(p.lo) for c, p in zip(cuts, parts[1:], strict=True))
    widths = {b.int - a.int for a, b in itertools.pairwise(cuts)}
    assert len(widths) == 1  # equal widths
    # Ordering the hyphenated text orders the 128-bit value: what a text column compares.
    assert sorted(str(c) for c in cuts) == [str(c) for c in cuts]


def test_a_uuid_bucket_splits_inside_its_own_ends() -> None:
    rng = Range("40000000-0000-0000-0000-000000000000", "50000000-0000-0000-0000-000000000000")
    parts = split_uuid(rng, 4, "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff")
    assert [p.lo for p in parts] == [
        "40000000-0000-0000-0000-000000000000",
        "44000000-0000-0000-0000-000000000000",
        "48000000-0000-0000-0000-000000000000",
        "4c000000-0000-0000-0000-000000000000",
    ]
    assert parts[-1].hi == rng.hi


def test_cuts_keep_the_order_of_the_store_that_chose_them() -> None:
    # A case-insensitive collation sorts b < C < d, which Python's order would not: kept as given.
    assert split_at(Range(None, None), ["b", "C", "d"]) == [
        Range(None, "b"),
        Range("b", "C"),
        Range("C", "d"),
        Range("d", None),
    ]
    # Repeated cuts and a cut at the range's own start add no empty range.
    assert split_at(Range("a", "z"), ["a", "k", "k", "z"]) == [Range("a", "k"), Range("k", "z")]
    assert split_at(Range((1, "a"), None), [(1, "m"), (2, "a")]) == [
        Range((1, "a"), (1, "m")),
        Range((1, "m"), (2, "a")),
        Range((2, "a"), None),
    ]


# -- the key order both sides agree on -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine", "collation", "order"),
    [
        ("postgresql", "C", "codepoint"),
        ("postgresql", "ucs_basic", "codepoint"),
        ("postgresql", "en-US-x-icu", "postgresql:en-US-x-icu"),
        ("postgresql", "C.UTF-8", "postgresql:C.UTF-8"),  # glibc's: not assumed to be code points
        ("mysql", "utf8mb4_nopad_bin", "codepoint"),
        ("mysql", "utf8mb4_0900_bin", "codepoint"),
        ("mysql", "utf8mb4_bin", "mysql:utf8mb4_bin"),  # PAD SPACE: 'a' = 'a '
        ("mysql", "utf8mb4_general_ci", "mysql:utf8mb4_general_ci"),
        ("mssql", "Latin1_General_100_BIN2", "mssql:Latin1_General_100_BIN2"),  # UTF-16 code units
    ],
)
def test_text_orders_by_collation(engine: str, collation: str, order: str) -> None:
    assert text_order(engine, collation) == order


def test_sides_that_sort_alike_both_compare_natively() -> None:
    settled = settle([KeyType.str], ["postgresql:en-US-x-icu"], ["postgresql:en-US-x-icu"], ["1"])
    assert settled.source_native == settled.target_native == (True,) and settled.reasons == ()
    # An empty side (nothing to look at) sorts alike with anything.
    assert settle([KeyType.str], ["mysql:utf8mb4_general_ci"], [None], ["1"]).reasons == ()


def test_sides_that_sort_differently_compare_by_code_point_and_say_why() -> None:
    settled = settle([KeyType.str], ["postgresql:en-US-x-icu"], ["mysql:utf8mb4_general_ci"], ["1"])
    assert settled.source_native == settled.target_native == (False,)
    (reason,) = settled.reasons
    assert "postgresql:en-US-x-icu" in reason and "mysql:utf8mb4_general_ci" in reason
    assert "the source and target through a cast" in reason
    # A side already in code point order keeps its index; only the other casts.
    settled = settle([KeyType.str], ["codepoint"], ["mysql:utf8mb4_general_ci"], ["1"])
    assert (settled.source_native, settled.target_native) == ((True,), (False,))
    assert "the target through a cast" in settled.reasons[0]


def test_mariadb_uuid_type_is_compared_as_text_and_postgresql_uuid_keeps_its_index() -> None:
    settled = settle([KeyType.uuid], ["uuid"], ["mysql:uuid-type"], ["1"])
    assert (settled.source_native, settled.target_native) == ((True,), (False,))


def test_composite_keys_settle_part_by_part() -> None:
    settled = settle(
        [KeyType.int, KeyType.str], ["int", "postgresql:en-US-x-icu"], ["int", "codepoint"], ["tenant", "code"]
    )
    assert settled.source_native == (True, False) and settled.target_native == (True, True)
    assert settled.reasons[0].startswith("key code:")


# -- whole comparisons over in-memory stores -----------------------------------------------------------


def compare(source: list[Record], target: list[Record], key_types: tuple[KeyType, ...]) -> list[str]:
    shape = Shape(key_types, TYPES)
    found: list[str] = []
    comparison = Comparison(
        ScanEndpoint("source", shape, lambda: iter(source)),
        ScanEndpoint("target", shape, lambda: iter(target)),
        Options(key_types=key_types, buckets=8, fanout=4, row_threshold=10),
        lambda d: found.append(d.line()),
    )
    try:
        comparison.run()
    finally:
        comparison.close()
    return found


def uuids(n: int) -> list[uuid.UUID]:
    return [uuid.uuid5(uuid.NAMESPACE_OID, str(i)) for i in range(n)]


def test_uuid_keys_in_different_forms_compare_equal_and_differences_are_found() -> None:
    keys = uuids(400)
    source = [Record(k, [f"n{i}", Decimal(i)]) for i, k in enumerate(keys)]
    target = [Record(str(k).upper() if i % 2 else k.bytes, [f"n{i}", Decimal(i)]) for i, k in enumerate(keys)]
    assert compare(source, target, (KeyType.uuid,)) == []
    target[99] = Record(keys[99], ["renamed", Decimal(99)])
    del target[17]
    target.append(Record("not-a-uuid", ["x", Decimal(0)]))
    assert sorted(compare(source, target, (KeyType.uuid,))) == sorted(
        [f"missing: {keys[17]}", f"changed: {keys[99]}", "invalid_key in target: 'not-a-uuid'"]
    )


def test_composite_keys_are_compared_by_all_their_parts() -> None:
    source = [Record((tenant, f"c{i:03d}"), [f"n{i}", Decimal(i)]) for tenant in (1, 2, 3) for i in range(60)]
    target = [r for r in source if r.key != (2, "c007")]
    target.append(Record(("3", "c999"), ["new", Decimal(1)]))  # the int part written as text
    target.append(Record((1, None), ["null part", Decimal(1)]))
    found = compare(source, target, (KeyType.int, KeyType.str))
    assert sorted(found) == ["extra: (3, 'c999')", "missing: (2, 'c007')", "null_key in target"]
