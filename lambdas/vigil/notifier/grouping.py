"""Grouping: the alarm changes of one service within `group_wait` become one page per route.

Alertmanager's group_wait, on the notifier's state table (vigil.notifier.state) and a deferred
SQS message (vigil.notifier.deferred). Items, in the partition `group#<env>#<service>`:

    open            the service's open group: its id and deadline
    group#<id>      one group: its members (each a rendered change, as JSON), closed once flushed

- The first change of a service opens a group (a conditional write of `open` that succeeds when
  there is none or its deadline passed), adds itself, and sends the deferred flush message, due at
  the deadline.
- A later change reads the open group's id from that same write's refusal and adds itself, unless
  the group was flushed already (closed) or is full.
- The flush closes the group and reads its members in the same write, so a retried flush sees the
  same members, then ends `open`'s deadline, so the next change opens a new group; each route's
  page has its own dedup key.

Never lose a change: whatever goes wrong before a change is safely in a group (the table or SQS
cannot be reached, the group is closed or full), `join` says so and the caller pages it at once. If
the flush message cannot be sent, the group is flushed at once by the change that opened it. A
change that finds its group closed (the flush came in between) pages at once.

Pure pieces (collapse, pages) are separate from `Groups`, whose methods make the AWS calls.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from vigil.notifier.aws_errors import error_code
from vigil.notifier.events import AlarmEvent, AlarmState
from vigil.notifier.render import Notification, clip_utf8

logger = logging.getLogger(__name__)

OPEN = "open"
# A group outlives its deadline by the flush's retries; a day covers them with room.
GROUP_TTL_SECONDS = 86400
# DynamoDB's item limit is 400 KB: 20 members of at most 16 KB of e-mail each stay well inside it,
# and a page listing more than 20 alarms says little more than one listing 20.
MAX_MEMBERS = 20
MEMBER_EMAIL_BYTES = 16 * 1024
CONDITION_FAILED = "ConditionalCheckFailedException"


def partition(env: str, service: str) -> str:
    return f"group#{env}#{service}"


class Member(BaseModel):
    """One alarm change in a group, rendered when it arrived (with its evidence of that moment)."""

    model_config = ConfigDict(frozen=True)

    event: AlarmEvent
    notification: Notification
    routes: tuple[str, ...]

    @classmethod
    def of(cls, event: AlarmEvent, notification: Notification, routes: tuple[str, ...]) -> Member:
        email = clip_utf8(notification.email, MEMBER_EMAIL_BYTES)
        return cls(event=event, notification=notification.model_copy(update={"email": email}), routes=routes)


@dataclass(frozen=True)
class Flush:
    """The deferred message: flush group `group_id` of partition `group`."""

    group: str
    group_id: str


@dataclass(frozen=True)
class Joined:
    """What `Groups.join` did: the group it opened or joined, whether the change is in it (if not, page
    it now), and whether that group must be flushed now because its deferred message was not sent."""

    flush: Flush | None
    joined: bool = False
    flush_now: bool = False


def collapse(members: list[Member]) -> list[Member]:
    """Each alarm's latest change, in the order the alarms first changed; an alarm whose first change in
    the group is ALARM and last is OK is left out: nobody was paged about it, so nothing is resolved."""
    by_alarm: dict[str, list[Member]] = {}
    for member in members:
        by_alarm.setdefault(member.event.alarm_name, []).append(member)
    kept: list[Member] = []
    for changes in by_alarm.values():
        changes.sort(key=lambda m: m.event.state_time.timestamp() if m.event.state_time else 0.0)
        latest = changes[-1]
        # Only an ALARM raised within the group and resolved within it: an OK that ends an ALARM paged
        # before the group (OK, ALARM, OK) is a recovery someone is waiting for.
        flapped = latest.event.state == AlarmState.ok and changes[0].event.state == AlarmState.alarm
        if not flapped:
            kept.append(latest)
    return kept


def by_route(members: list[Member]) -> dict[str, list[Member]]:
    """Each route (in the order the members name them) and its members."""
    routes: dict[str, list[Member]] = {}
    for member in members:
        for route in member.routes:
            routes.setdefault(route, []).append(member)
    return routes


class Groups:
    """The groups' few writes; every failure is reported as "not grouped", never raised."""

    def __init__(
        self,
        client: Any,
        table: str,
        env: str,
        wait_seconds: int,
        send_flush: Callable[[Flush, int], None] | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table
        self._env = env
        self.wait_seconds = wait_seconds
        self._send_flush = send_flush
        self._clock = clock

    @property
    def enabled(self) -> bool:
        """Whether changes join groups; flushing works either way (a flush may outlive its setting)."""
        return self.wait_seconds > 0 and self._send_flush is not None

    def join(self, member: Member) -> Joined:
        """Add `member` to its service's open group, opening one if need be."""
        assert member.event.meta is not None and self._send_flush is not None
        group = partition(self._env, member.event.meta.service)
        try:
            group_id, opened = self._open_or_find(group)
        except Exception as exc:
            logger.warning("change not grouped (%s): paging it on its own now", type(exc).__name__)
            return Joined(None)
        flush = Flush(group, group_id)
        flush_now = False
        if opened:
            # Sent before the first member is added: a group never exists without its flush on the way.
            try:
                self._send_flush(flush, self.wait_seconds)
            except Exception as exc:
                logger.error("deferred flush not sent (%s: %s): flushing now", type(exc).__name__, str(exc)[:300])
                flush_now = True
        try:
            self._add(group, group_id, member)
        except Exception as exc:
            reason = "the group is closed or full" if error_code(exc) == CONDITION_FAILED else type(exc).__name__
            logger.warning("change not grouped (%s): paging it on its own now", reason)
            return Joined(flush if flush_now else None, joined=False, flush_now=flush_now)
        return Joined(flush, joined=True, flush_now=flush_now)

    def _open_or_find(self, group: str) -> tuple[str, bool]:
        now = self._clock()
        group_id = uuid.uuid4().hex[:16]
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": group}, "sk": {"S": OPEN}},
                UpdateExpression="SET group_id = :id, deadline = :deadline, expires_at = :expires",
                ConditionExpression="attribute_not_exists(pk) OR deadline <= :now",
                ExpressionAttributeValues={
                    ":id": {"S": group_id},
                    ":deadline": {"N": str(now + self.wait_seconds)},
                    ":now": {"N": str(now)},
                    ":expires": {"N": str(int(now) + GROUP_TTL_SECONDS)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            return getattr(exc, "response", {})["Item"]["group_id"]["S"], False
        return group_id, True

    def _add(self, group: str, group_id: str, member: Member) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": group}, "sk": {"S": f"group#{group_id}"}},
            UpdateExpression="SET members = list_append(if_not_exists(members, :none), :member), expires_at = :expires",
            # The opener adds itself after its `open` write, so a joiner may come first: either creates it.
            ConditionExpression="attribute_not_exists(closed) AND (attribute_not_exists(members) OR size(members) < :max)",
            ExpressionAttributeValues={
                ":none": {"L": []},
                ":member": {"L": [{"S": member.model_dump_json()}]},
                ":max": {"N": str(MAX_MEMBERS)},
                ":expires": {"N": str(int(self._clock()) + GROUP_TTL_SECONDS)},
            },
        )

    def close(self, flush: Flush) -> list[Member]:
        """Close the group and return its members; the same members on a retry. Raises when the table
        cannot be reached (the flush message then stays for a retry)."""
        try:
            result = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": flush.group}, "sk": {"S": f"group#{flush.group_id}"}},
                UpdateExpression="SET closed = :yes",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":yes": {"BOOL": True}},
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                return []  # expired, or no member ever made it in: nothing to page
            raise
        self._expire(flush)
        members = result.get("Attributes", {}).get("members", {}).get("L", [])
        return [Member.model_validate_json(item["S"]) for item in members]

    def _expire(self, flush: Flush) -> None:
        """The service's next change opens a new group, even if SQS brought the flush before the deadline."""
        with contextlib.suppress(Exception):  # a newer group is open already, or the table is down
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": flush.group}, "sk": {"S": OPEN}},
                UpdateExpression="SET deadline = :past",
                ConditionExpression="group_id = :id",
                ExpressionAttributeValues={":past": {"N": "0"}, ":id": {"S": flush.group_id}},
            )
