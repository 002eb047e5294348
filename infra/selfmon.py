"""vigil watching itself: function errors and throttles, and anything in a failure queue.

These alarms go straight to the self-monitoring route's topic (not through the notifier), so a
broken notifier still pages someone.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.alarms import AlarmFactory
from infra.dashboard import DashboardBuilder
from vigil.spec.common import AlarmRule, Comparison, MissingData, Statistic

# Any error in five minutes; no invocations at all is not an error (schedules alarm via "measure").
FUNCTION_RULE = AlarmRule(
    threshold=0,
    comparison=Comparison.gt,
    evaluation_periods=1,
    datapoints_to_alarm=1,
    missing_data=MissingData.not_breaching,
    statistic=Statistic.sum,
    period=300,
)
# Any message waiting in five minutes: the queue depth is a gauge, so its maximum, not a sum.
QUEUE_RULE = FUNCTION_RULE.model_copy(update={"statistic": Statistic.maximum})


class SelfMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarms: AlarmFactory,
        dashboard: DashboardBuilder,
        functions: dict[str, lambda_.IFunction],
        queues: dict[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        # Keys are short stable names ("notifier", "checker-http"): they become alarm names and ids.
        for name, fn in functions.items():
            watch_function(self, alarms, dashboard, name, fn)
        for name, queue in queues.items():
            alarm = alarms.for_self(
                self,
                f"{name}-failed",
                QUEUE_RULE,
                queue.metric_approximate_number_of_messages_visible(),
                f"events that vigil could not deliver are waiting in the {name} queue",
            )
            dashboard.add_self(name, [alarm.metric], [alarm])


def watch_function(
    scope: Construct, alarms: AlarmFactory, dashboard: DashboardBuilder, name: str, fn: lambda_.IFunction
) -> None:
    """Errors and throttles of one of vigil's functions page vigil's own route."""
    made = [
        alarms.for_self(
            scope,
            f"{name}-errors",
            FUNCTION_RULE,
            fn.metric_errors(period=Duration.minutes(5)),
            f"the {name} function failed",
        ),
        alarms.for_self(
            scope,
            f"{name}-throttles",
            FUNCTION_RULE,
            fn.metric_throttles(period=Duration.minutes(5)),
            f"the {name} function was throttled",
        ),
    ]
    dashboard.add_self(name, [a.metric for a in made], made)
