"""The notifier's memory: one DynamoDB table (single-table design), every item with a TTL.

Items, by key (pk, sk):

    alarm#<alarm ARN>        last                       the newest state change taken (paged, or held by a silence)
    alarm#<alarm ARN>        sent#<STATE>#<timestamp>   one state change: routes delivered, done, lease
    alarm#<alarm ARN>        paging                     the ALARM being repeated, who acknowledged it (vigil.notifier.repeats)
    alarm#<alarm ARN>        repeat#<timestamp>#<n>     one repeat or escalation page: routes delivered, done, lease
    delivery#<transport id>  sent                       a payload without a readable state change
    silences                 adhoc#<id>                 an ad-hoc silence (vigil.silences.adhoc)
    silences                 held#<timestamp>#<alarm>#<STATE>   a change a silence held back (vigil.silences.held)

The `alarm#` partition keeps everything about one alarm together, so later records (issue 13's
acknowledgements and repeats) sit beside it and one Query reads them all. Other partitions get
their own prefix (`silence#`, `group#`, `held#`). `expires_at` (epoch seconds) is the TTL
attribute; DynamoDB deletes expired items lazily, so a reader that cares compares it to now.

What it is for:
- Dedup. A state change arrives twice by design (alarm action and EventBridge rule), and again on
  any redelivery; the first invocation to claim `sent#…` pages, the others see it done (or being
  done) and stop. The key is the state change itself (alarm ARN, state, state timestamp), which
  both paths carry identically, so the SNS MessageId and EventBridge id need not match.
- Partial failure. Each route is recorded as it is delivered; a retry skips those routes.
- Stale events. `last` holds the newest state change paged; an older one arriving later (an OK
  overtaken by a newer ALARM) is dropped rather than leave on-call with the wrong last word.

The table must never cost a page: when it cannot be reached, every question gets the answer that
delivers (not stale, not yet sent) and the notifier pages, logs, and may page twice. After the
first failure in an invocation the table is not asked again, so an outage costs one timeout, not
one per call.

Pure helpers (keys, expiries, the reading of an item) are separate from `StateTable`, whose
methods make one DynamoDB call each.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from enum import StrEnum
from typing import Any

from vigil.notifier.aws_errors import error_code
from vigil.notifier.events import AlarmEvent

logger = logging.getLogger(__name__)

# Duplicates arrive within a day (EventBridge retries for up to 24 h, Lambda keeps an async event
# for at most 6 h): three days of dedup records cover both with room.
SENT_TTL_SECONDS = 3 * 86400
# A stale event is older than the last state paged and arrives at most a day after it happened,
# so `last` needs to outlive its own state change by that much; two weeks also covers a quiet
# alarm's whole ALARM-to-OK span for the usual outage.
LAST_TTL_SECONDS = 14 * 86400

LAST = "last"
CONDITION_FAILED = "ConditionalCheckFailedException"


def table_name(env: str) -> str:
    """The environment's table (the stack names it; the silence command finds it by this name)."""
    return f"vigil-{env}-notifier-state"


@dataclass(frozen=True)
class Key:
    pk: str
    sk: str

    def item(self) -> dict[str, dict[str, str]]:
        return {"pk": {"S": self.pk}, "sk": {"S": self.sk}}


def alarm_partition(event: AlarmEvent) -> str:
    return f"alarm#{event.alarm_arn or event.alarm_name}"


def stamp(event: AlarmEvent) -> str | None:
    """The state change's time to the millisecond, UTC: the same text whichever path brought it."""
    if event.state_time is None:
        return None
    return event.state_time.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def delivery_key(event: AlarmEvent | None, transport_id: str | None) -> Key | None:
    """The state change when it can be named, else the transport's id, else nothing to dedup on."""
    at = stamp(event) if event is not None else None
    if event is not None and at is not None:
        return Key(alarm_partition(event), f"sent#{event.state.value}#{at}")
    if transport_id:
        return Key(f"delivery#{transport_id}", "sent")
    return None


class ClaimKind(StrEnum):
    new = "new"  # nobody has seen this state change: page it
    resumed = "resumed"  # an earlier attempt stopped part-way: page the routes it did not reach
    done = "done"  # delivered already: a duplicate
    busy = "busy"  # another invocation is delivering it now; its own retries cover its failures


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    delivered: frozenset[str] = field(default_factory=frozenset)

    @property
    def pages(self) -> bool:
        return self.kind in (ClaimKind.new, ClaimKind.resumed)


def claim_of(old_item: dict[str, Any] | None, won: bool) -> Claim:
    """What a claim attempt means, from the item as it was before the attempt."""
    delivered = frozenset((old_item or {}).get("delivered", {}).get("SS", []))
    if won:
        return Claim(ClaimKind.resumed if old_item else ClaimKind.new, delivered)
    if old_item and "done_at" in old_item:
        return Claim(ClaimKind.done, delivered)
    return Claim(ClaimKind.busy, delivered)


@dataclass(frozen=True)
class Last:
    """An alarm's `last` item: its newest state change taken, and whether a silence held it back."""

    state: str
    at: str
    held: bool = False

    @classmethod
    def of(cls, item: dict[str, Any]) -> Last:
        return cls(
            state=item.get("state", {}).get("S", "?"),
            at=item.get("at", {}).get("S", "?"),
            held=bool(item.get("held", {}).get("BOOL", False)),
        )

    def same_change(self, event: AlarmEvent) -> bool:
        return self.state == event.state.value and self.at == stamp(event)


@dataclass(frozen=True)
class Advance:
    """What recording a state change as the alarm's last found."""

    stale: Last | None = None  # a newer change was taken already: this one is dropped
    previous: Last | None = None  # what `last` held before (None: nothing, or the table could not say)
    recorded: bool = False  # the table took it, so a None `previous` means the alarm had no change on record


class _Unavailable(Exception):
    """The table could not be asked; the caller answers in the way that delivers."""


class StateTable:
    """The table's few questions, one DynamoDB call each, failing open (see the module docstring)."""

    def __init__(self, client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        self.available = True

    def _update(self, key: Key, **request: Any) -> dict[str, Any]:
        """UpdateItem; ConditionalCheckFailedException passes through, anything else marks the table down."""
        return self._call(self._client.update_item, Key=key.item(), **request)

    def _call(self, operation: Callable[..., dict[str, Any]], **request: Any) -> dict[str, Any]:
        if not self.available:
            raise _Unavailable
        try:
            return operation(TableName=self._table, **request)
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                raise
            self.available = False
            logger.warning(
                "notifier state table %s unavailable (%s: %s): delivering without dedup",
                self._table,
                type(exc).__name__,
                str(exc)[:300],
            )
            raise _Unavailable from exc

    def advance(self, event: AlarmEvent) -> Advance:
        """Record `event` as the alarm's last state change, not held (the silence step marks it when it
        holds it), unless a newer one is: then that one is the answer's `stale`."""
        at = stamp(event)
        if at is None or event.state_time is None:
            return Advance()  # nothing to order by: never call it stale
        at_ms = int(event.state_time.timestamp() * 1000)
        try:
            result = self._update(
                Key(alarm_partition(event), LAST),
                UpdateExpression="SET #state = :state, at_ms = :at_ms, #at = :at, held = :held, expires_at = :expires",
                # Equal is not stale: a redelivery of the same change goes on to the dedup claim.
                ConditionExpression="attribute_not_exists(pk) OR at_ms <= :at_ms",
                ExpressionAttributeNames={"#state": "state", "#at": "at"},
                ExpressionAttributeValues={
                    ":state": {"S": event.state.value},
                    ":at_ms": {"N": str(at_ms)},
                    ":at": {"S": at},
                    ":held": {"BOOL": False},
                    ":expires": {"N": str(int(self._clock()) + LAST_TTL_SECONDS)},
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _Unavailable:
            return Advance()
        except Exception as exc:  # the condition failed: a newer state change was taken
            return Advance(stale=Last.of(getattr(exc, "response", {}).get("Item", {})))
        old = result.get("Attributes")
        return Advance(previous=Last.of(old) if old else None, recorded=True)

    def mark_held(self, event: AlarmEvent, held: bool = True) -> None:
        """The alarm's last change (this one) is held back (by a silence, or for an inhibitor), or no
        longer (`held` False: it paged after all), unless a newer one came meanwhile."""
        at = stamp(event)
        if at is None:
            return
        with contextlib.suppress(Exception):  # a newer change, or the table is down: nothing to mark
            self._update(
                Key(alarm_partition(event), LAST),
                UpdateExpression="SET held = :held",
                ConditionExpression="#at = :at AND #state = :state",
                ExpressionAttributeNames={"#state": "state", "#at": "at"},
                ExpressionAttributeValues={
                    ":held": {"BOOL": held},
                    ":at": {"S": at},
                    ":state": {"S": event.state.value},
                },
            )

    def partition(self, pk: str) -> list[dict[str, Any]]:
        """Every item of one partition (few: the silences and what they held); [] when the table is down."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        try:
            while True:
                page = self._call(self._client.query, **request)
                items += page.get("Items", [])
                if "LastEvaluatedKey" not in page:
                    return items
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except _Unavailable:
            return items

    def put_new(self, item: dict[str, dict[str, Any]]) -> None:
        """Write an item unless one with its key exists (a second copy of the same change changes nothing)."""
        key = Key(item["pk"]["S"], item["sk"]["S"])
        fields = {name: value for name, value in item.items() if name not in ("pk", "sk")}
        names = {f"#a{i}": name for i, name in enumerate(fields)}
        with contextlib.suppress(Exception):  # exists already, or the table is down: nothing to add
            self._update(
                key,
                UpdateExpression="SET " + ", ".join(f"{alias} = :v{i}" for i, alias in enumerate(names)),
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":v{i}": value for i, value in enumerate(fields.values())},
            )

    def get(self, key: Key) -> dict[str, Any] | None:
        """One item, strongly consistent (an acknowledgement just written must stop the next repeat);
        None when absent or the table is down."""
        try:
            return self._call(self._client.get_item, Key=key.item(), ConsistentRead=True).get("Item")
        except _Unavailable:
            return None

    def renew(self, item: dict[str, dict[str, Any]], same: str, remove: list[str]) -> None:
        """Write `item`, dropping `remove`, unless the stored one has the same `same` attribute (a retry of
        the write that made it changes nothing; a newer value replaces it)."""
        key = Key(item["pk"]["S"], item["sk"]["S"])
        fields = {name: value for name, value in item.items() if name not in ("pk", "sk")}
        names = {f"#a{i}": name for i, name in enumerate(fields)} | {f"#r{i}": name for i, name in enumerate(remove)}
        sets = ", ".join(f"#a{i} = :v{i}" for i in range(len(fields)))
        removes = f" REMOVE {', '.join(f'#r{i}' for i in range(len(remove)))}" if remove else ""
        with contextlib.suppress(Exception):  # the same value is there already, or the table is down
            self._update(
                key,
                UpdateExpression=f"SET {sets}{removes}",
                ConditionExpression=f"attribute_not_exists(pk) OR #a{list(fields).index(same)} <> :v{list(fields).index(same)}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":v{i}": value for i, value in enumerate(fields.values())},
            )

    def remove_from_set(self, key: Key, attribute: str, values: list[str]) -> None:
        with contextlib.suppress(_Unavailable):
            self._update(
                key,
                UpdateExpression="DELETE #set :values",
                ExpressionAttributeNames={"#set": attribute},
                ExpressionAttributeValues={":values": {"SS": values}},
            )

    def claim(self, key: Key, lease_seconds: float) -> Claim:
        """Take the state change for delivery, unless it is done or another invocation holds it."""
        now = self._clock()
        try:
            result = self._update(
                key,
                UpdateExpression="SET lease_until = :lease, expires_at = :expires",
                # A lease outlives the invocation that took it (its timeout), so an expired lease
                # means that invocation is gone; its retry, or a duplicate, takes over.
                ConditionExpression="attribute_not_exists(pk) OR (attribute_not_exists(done_at) AND lease_until < :now)",
                ExpressionAttributeValues={
                    ":lease": {"N": str(int(now + lease_seconds))},
                    ":expires": {"N": str(int(now) + SENT_TTL_SECONDS)},
                    ":now": {"N": str(int(now))},
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _Unavailable:
            return Claim(ClaimKind.new)
        except Exception as exc:
            return claim_of(getattr(exc, "response", {}).get("Item"), won=False)
        return claim_of(result.get("Attributes"), won=True)

    def delivered(self, key: Key, name: str) -> None:
        """Note one route (or fallback notice) as delivered, so a retry skips it."""
        with contextlib.suppress(_Unavailable):
            self._update(
                key,
                UpdateExpression="ADD delivered :name",
                ExpressionAttributeValues={":name": {"SS": [name]}},
            )

    def release(self, key: Key) -> None:
        """This invocation stops with routes left to page: its retry, or a duplicate, may go on now."""
        with contextlib.suppress(_Unavailable):
            self._update(
                key, UpdateExpression="SET lease_until = :zero", ExpressionAttributeValues={":zero": {"N": "0"}}
            )

    def finish(self, key: Key) -> None:
        """Every route has it: a duplicate from now on is dropped."""
        with contextlib.suppress(_Unavailable):
            self._update(
                key,
                UpdateExpression="SET done_at = :now",
                ExpressionAttributeValues={":now": {"N": str(int(self._clock()))}},
            )
