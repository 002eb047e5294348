"""Kind `sqs`: native CloudWatch alarms on an existing queue and its dead-letter queue; no Lambda runs."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from vigil.spec.common import AlarmRule, CheckBase, Comparison, MissingData, Signal

QUEUE_REF = r"^(arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:)?[A-Za-z0-9_-]{1,75}(\.fifo)?$"


def queue_name(ref: str) -> str:
    """A queue given by name or ARN, as the QueueName dimension CloudWatch uses."""
    return ref.rsplit(":", 1)[-1]


class SqsCheck(CheckBase):
    signals: ClassVar = {
        s.name: s
        for s in (
            Signal(
                name="backlog",
                metric="ApproximateNumberOfMessagesVisible",
                unit="messages",
                summary="messages waiting in the queue",
                default=AlarmRule(
                    threshold=1000,
                    comparison=Comparison.gt,
                    evaluation_periods=3,
                    datapoints_to_alarm=3,
                    missing_data=MissingData.not_breaching,
                ),
            ),
            Signal(
                name="age",
                metric="ApproximateAgeOfOldestMessage",
                unit="seconds",
                summary="age of the oldest message in the queue",
                default=AlarmRule(
                    threshold=600,
                    comparison=Comparison.gt,
                    evaluation_periods=3,
                    datapoints_to_alarm=3,
                    missing_data=MissingData.not_breaching,
                ),
            ),
            Signal(
                name="dlq",
                metric="ApproximateNumberOfMessagesVisible",
                unit="messages",
                summary="messages in the dead-letter queue",
                default=AlarmRule(
                    threshold=0,
                    comparison=Comparison.gt,
                    evaluation_periods=1,
                    datapoints_to_alarm=1,
                    missing_data=MissingData.not_breaching,
                ),
            ),
        )
    }
    has_checker: ClassVar[bool] = False

    kind: Literal["sqs"]
    queue: str = Field(pattern=QUEUE_REF, description="queue name or ARN")
    dlq: str | None = Field(default=None, pattern=QUEUE_REF, description="dead-letter queue name or ARN")

    def active_signals(self) -> list[str]:
        return [s for s in self.signals if s != "dlq" or self.dlq]
