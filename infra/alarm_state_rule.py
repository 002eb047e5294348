"""Every state change of this environment's alarms, straight from EventBridge to the notifier.

CloudWatch guarantees the delivery of "CloudWatch Alarm State Change" events to EventBridge
(CloudWatch user guide, "Alarm events and EventBridge"), whatever happens to the alarm's actions:
this rule is the path that never loses a resolve. The alarm actions (through the alarm-events
topic) stay, because CloudWatch's mute rules govern them; the notifier pages once for both
(vigil.notifier.state) and, for events of this rule, only where the alarm's actions would
(vigil.notifier.paging).

The pattern keeps ALARM and OK (the states vigil's alarm actions act on) of alarms named
vigil-<env>-… in this account. EventBridge retries a failed invocation for a day and then parks
the event in the dead-letter queue, which self-monitoring alarms on.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

STATE_CHANGE = "CloudWatch Alarm State Change"
PAGED_STATES = ["ALARM", "OK"]
# EventBridge's own maxima: a late page beats a lost one.
RETRY_ATTEMPTS = 185
MAX_EVENT_AGE = Duration.hours(24)


def alarm_prefix(env: str) -> str:
    return f"vigil-{env}-"


class AlarmStateRule(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: str,
        function: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"vigil {env}: state changes of this environment's alarms, to the notifier",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=[STATE_CHANGE],
                account=[Stack.of(self).account],
                detail={
                    "alarmName": events.Match.prefix(alarm_prefix(env)),
                    "state": {"value": PAGED_STATES},
                },
            ),
        )
        # The target adds the function's resource policy for events.amazonaws.com, scoped to this
        # rule's ARN, and the queue policy that lets this rule (only) send its dead letters.
        self.rule.add_target(
            targets.LambdaFunction(
                function,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
            )
        )
