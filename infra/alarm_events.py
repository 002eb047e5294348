"""A stand-in for CloudWatch's EventBridge delivery, where nothing emits it (moto, tests).

In AWS every state change reaches the notifier twice: as the alarm action's SNS notification and as
the "CloudWatch Alarm State Change" event of the EventBridge rule. moto emits neither, so the demo
(and the notifier's tests) build the notification and derive the event from it here, carrying what
both really share: the alarm's ARN, its state and the state's timestamp.
"""

from __future__ import annotations

import json
from typing import Any


def eventbridge_event(sns_notification: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """The EventBridge event of the state change an SNS alarm notification (a Lambda SNS event) reports."""
    message = json.loads(sns_notification["Records"][0]["Sns"]["Message"])
    arn = message["AlarmArn"]
    return {
        "version": "0",
        "id": event_id or f"{message['AlarmName']}-{message['StateChangeTime']}",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": message["AWSAccountId"],
        "time": message["StateChangeTime"][:19] + "Z",
        "region": arn.split(":")[3],
        "resources": [arn],
        "detail": {
            "alarmName": message["AlarmName"],
            "state": {
                "value": message["NewStateValue"],
                "reason": message["NewStateReason"],
                "timestamp": message["StateChangeTime"],
            },
            "previousState": {"value": message["OldStateValue"]},
            "configuration": {"description": message["AlarmDescription"], "metrics": []},
        },
    }
