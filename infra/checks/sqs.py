"""Kind `sqs`: native alarms on AWS/SQS metrics of an existing queue (and its DLQ); no Lambda runs.

cdk-monitoring-constructs' SqsQueueMonitoring would make these alarms too, but with its own names
and descriptions; vigil's notifier needs the exact alarm_name and the AlarmMeta trailer, so the
alarms come from infra.alarms like every other alarm.
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.checks import CheckContext, alarm_signals
from vigil.spec.common import CheckBase
from vigil.spec.sqs import SqsCheck, queue_name

NAMESPACE = "AWS/SQS"


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, SqsCheck)

    def metric(signal: str) -> cloudwatch.Metric:
        queue = check.dlq if signal == "dlq" else check.queue
        assert queue is not None  # active_signals drops dlq when there is none
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=SqsCheck.signals[signal].metric,
            dimensions_map={"QueueName": queue_name(queue)},
        )

    alarm_signals(scope, check, ctx, metric)
