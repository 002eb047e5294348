"""Kind `rabbitmq`: a schedule invoking the rabbitmq checker, and an alarm per active signal.

Broker signals and the rollup of pattern-selected queues alarm on Vigil/<metric> with Check=<id>;
each queue listed in the catalog has its own alarms (`<signal>@<queue>`) on Check=<id>, Queue=<name>.
The checker function runs in the catalog's VPC placement and may read the credentials secret
(both through CheckContext, like http's headers_secret).
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.checks import CheckContext, alarm_signals, schedule
from vigil.result import CHECK_DIMENSION, METRIC_NAMESPACE
from vigil.spec.common import CheckBase
from vigil.spec.rabbitmq import QUEUE_DIMENSION, RabbitmqCheck, split_signal


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, RabbitmqCheck)
    schedule(scope, check, ctx)
    alarm_signals(scope, check, ctx, lambda signal: signal_metric(check, signal))


def signal_metric(check: RabbitmqCheck, signal: str) -> cloudwatch.Metric:
    base, queue = split_signal(signal)
    dimensions = {CHECK_DIMENSION: check.id} | ({QUEUE_DIMENSION: queue} if queue is not None else {})
    return cloudwatch.Metric(
        namespace=METRIC_NAMESPACE, metric_name=RabbitmqCheck.signals[base].metric, dimensions_map=dimensions
    )
