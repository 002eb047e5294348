"""Deferred work: a message the notifier sends itself through an SQS queue with a delay.

The queue (infra/deferred_queue.py) triggers the notifier through an event source mapping, so a
message sent with DelaySeconds=n comes back as an SQS record n seconds later (at most 900: SQS's
limit). The body says what to do; today that is flushing a group (vigil.notifier.grouping).

Environment:
    DEFERRED_QUEUE_URL  the queue (optional: without it nothing is deferred, every change pages at once)
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from vigil.notifier.grouping import Flush

QUEUE_ENV = "DEFERRED_QUEUE_URL"
MAX_DELAY_SECONDS = 900


class GroupFlush(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vigil: Literal["group-flush"] = "group-flush"
    group: str
    group_id: str


def body(flush: Flush) -> str:
    return GroupFlush(group=flush.group, group_id=flush.group_id).model_dump_json()


def flush_of(payload: Any) -> Flush | None:
    """The group flush an SQS record of the deferred queue carries; None for anything else."""
    if not isinstance(payload, dict) or payload.get("eventSource") != "aws:sqs":
        return None
    try:
        message = GroupFlush.model_validate(json.loads(payload.get("body") or ""))
    except (ValueError, ValidationError):
        return None
    return Flush(message.group, message.group_id)


def sender(client: Any, queue_url: str) -> Any:
    """send(flush, delay_seconds): one SendMessage, due `delay_seconds` from now."""

    def send(flush: Flush, delay_seconds: int) -> None:
        client.send_message(
            QueueUrl=queue_url,
            MessageBody=body(flush),
            DelaySeconds=max(0, min(delay_seconds, MAX_DELAY_SECONDS)),
        )

    return send
