"""Deferred work: a message the notifier sends itself through an SQS queue with a delay.

The queue (infra/deferred_queue.py) triggers the notifier through an event source mapping, so a
message sent with DelaySeconds=n comes back as an SQS record n seconds later (at most 900: SQS's
limit). The body says what to do: flush a group (vigil.notifier.grouping), or look at an ALARM held
back for its inhibitor again (vigil.notifier.inhibition).

Environment:
    DEFERRED_QUEUE_URL  the queue (optional: without it nothing is deferred, every change pages at once)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from vigil.notifier.events import AlarmEvent
from vigil.notifier.grouping import Flush

QUEUE_ENV = "DEFERRED_QUEUE_URL"
MAX_DELAY_SECONDS = 900


class GroupFlush(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vigil: Literal["group-flush"] = "group-flush"
    group: str
    group_id: str


class InhibitCheck(BaseModel):
    """Look at a held ALARM again (vigil.notifier.inhibition)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vigil: Literal["inhibit-check"] = "inhibit-check"
    event: AlarmEvent


Message = Annotated[GroupFlush | InhibitCheck, Field(discriminator="vigil")]
_MESSAGE: TypeAdapter[GroupFlush | InhibitCheck] = TypeAdapter(Message)


def flush_body(flush: Flush) -> str:
    return GroupFlush(group=flush.group, group_id=flush.group_id).model_dump_json()


def check_body(event: AlarmEvent) -> str:
    return InhibitCheck(event=event).model_dump_json()


def message_of(payload: Any) -> Flush | InhibitCheck | None:
    """What an SQS record of the deferred queue asks for; None for anything else."""
    if not isinstance(payload, dict) or payload.get("eventSource") != "aws:sqs":
        return None
    try:
        message = _MESSAGE.validate_json(payload.get("body") or "")
    except ValidationError:
        return None
    return Flush(message.group, message.group_id) if isinstance(message, GroupFlush) else message


Send = Callable[[str, int], None]


def sender(client: Any, queue_url: str) -> Send:
    """send(body, delay_seconds): one SendMessage, due `delay_seconds` from now (at most 900)."""

    def send(body: str, delay_seconds: int) -> None:
        client.send_message(
            QueueUrl=queue_url, MessageBody=body, DelaySeconds=max(0, min(delay_seconds, MAX_DELAY_SECONDS))
        )

    return send
