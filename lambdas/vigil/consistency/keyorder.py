"""Which order both sides of a comparison sort a key in, so that a bucket holds the same keys on both.

A bucket is a key range, `lo <= key < hi`, and each side decides for itself which of its rows fall
in it: with its own index, in its own order. That is only the same set of keys on both sides when
both sides order keys alike. Each side names the order its key column sorts in natively (served by
its index), per key part:

    int          integers
    uuid         uuids by their 128 bits (PostgreSQL uuid, canonical text in any common collation,
                 16 bytes; not MariaDB's UUID type nor SQL Server's uniqueidentifier, which sort
                 their groups in another order)
    codepoint    text by Unicode code point (PostgreSQL "C", MySQL/MariaDB *_nopad_bin and
                 utf8mb4_0900_bin, binary; DynamoDB, S3 exports and search keywords, ordered here)
    <engine>:<collation>   any other collation: its own order, which only the same collation shares

Where both sides name the same order (or one side has no key to look at: it is empty), both
compare natively and every range query is served by the index. Where they differ, that key part
is compared in its key type's canonical order (the first three above) on both sides: a side
already in it keeps its index, the other reads the key through a cast, and the comparison says
so (`reasons`). Getting this wrong would not hide a difference: a key placed in different buckets
on the two sides is reported missing from one and extra in the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vigil.consistency.model import KeyType

CANONICAL = {KeyType.int: "int", KeyType.uuid: "uuid", KeyType.str: "codepoint"}

# Collations whose order is the code point order of the text. MySQL/MariaDB's plain *_bin are
# PAD SPACE ('a' = 'a ', and 'a\t' < 'a'), so not here; *_nopad_bin and the 0900 ones are NO PAD.
CODEPOINT_COLLATIONS = {
    "postgresql": {"C", "POSIX", "ucs_basic"},
    "mysql": {
        "binary",
        "utf8mb4_nopad_bin",
        "utf8mb3_nopad_bin",
        "utf8_nopad_bin",
        "latin1_nopad_bin",  # latin1's bytes are its code points
        "ascii_nopad_bin",
        "utf8mb4_0900_bin",
    },
    "mssql": set(),  # nvarchar BIN2 orders UTF-16 code units: not code points past U+FFFF
}


def text_order(engine: str, collation: str | None) -> str:
    """The order a text column of this engine sorts in under this collation."""
    if collation is not None and collation in CODEPOINT_COLLATIONS.get(engine, set()):
        return "codepoint"
    return f"{engine}:{collation}"


@dataclass(frozen=True)
class Settled:
    """Per key part, whether each side compares in its native order (served by its index) or in
    the canonical order (a cast); and why any side could not stay native."""

    source_native: tuple[bool, ...]
    target_native: tuple[bool, ...]
    reasons: tuple[str, ...]


def settle(
    key_types: Sequence[KeyType], source: Sequence[str | None], target: Sequence[str | None], names: Sequence[str]
) -> Settled:
    """Agree on one order per key part. `source`/`target`: each side's native order per part, None
    when that side has no key to look at; `names`: the key parts' names, for the reasons."""
    source_native: list[bool] = []
    target_native: list[bool] = []
    reasons: list[str] = []
    for key_type, mine, theirs, name in zip(key_types, source, target, names, strict=True):
        if mine is None or theirs is None or mine == theirs:
            source_native.append(True)
            target_native.append(True)
            continue
        canonical = CANONICAL[key_type]
        source_native.append(mine == canonical)
        target_native.append(theirs == canonical)
        cast = [side for side, order in (("source", mine), ("target", theirs)) if order != canonical]
        reasons.append(
            f"key {name}: the source sorts it by {mine}, the target by {theirs}; both compare it by "
            f"{canonical} order, the {' and '.join(cast)} through a cast that no index serves "
            "(slower: every range query reads the whole table)"
        )
    return Settled(tuple(source_native), tuple(target_native), tuple(reasons))
