"""Kind `amazonmq`: native alarms on AWS/AmazonMQ metrics of a RabbitMQ broker; no Lambda runs.

Broker and queue signals read metrics with known dimensions. Memory and disk are per-node metrics
whose Node values exist only once the broker runs, so each reads ONE Metrics Insights query over
the broker's nodes (the busiest node's memory, the fullest node's free disk), scaled to GiB by
metric math over that one query. One query per alarm is all CloudWatch allows ("each GetMetricData
operation can include only one query"), so neither divides by the node's limit metric. Metrics
Insights alarms evaluate the last three hours only, which no rule here exceeds.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.checks import CheckContext, alarm_signals, worst_of
from vigil.spec.amazonmq import AmazonMqCheck
from vigil.spec.common import CheckBase

NAMESPACE = "AWS/AmazonMQ"
GIB = 1024**3  # RabbitMQMemUsed and RabbitMQDiskFree are in Bytes


def waiting_without_consumers(
    messages: cloudwatch.IMetric, consumers: cloudwatch.IMetric, suffix: str = ""
) -> cloudwatch.MathExpression:
    """1 while messages wait and no consumer is connected, else 0."""
    m, c = f"messages{suffix}", f"consumers{suffix}"
    return cloudwatch.MathExpression(
        expression=f"IF({m} > 0 AND {c} < 1, 1, 0)", using_metrics={m: messages, c: consumers}
    )


def node_query(broker: str, metric: str, function: str) -> cloudwatch.MathExpression:
    """One series over every node of the broker (Metrics Insights: = is the only match it has)."""
    return cloudwatch.MathExpression(
        expression=(
            f"SELECT {function}({metric}) FROM SCHEMA(\"{NAMESPACE}\", Broker, Node) WHERE Broker = '{broker}'"
        ),
        using_metrics={},
    )


def node_gib(broker: str, metric: str, function: str, name: str) -> cloudwatch.MathExpression:
    """A node metric in bytes as GiB: math over exactly one Metrics Insights query."""
    return cloudwatch.MathExpression(
        expression=f"{name} / {GIB}", using_metrics={name: node_query(broker, metric, function)}
    )


def signal_metric(check: AmazonMqCheck) -> Callable[[str], cloudwatch.IMetric]:
    def metric(name: str, statistic: str = "Maximum", **dimensions: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=name,
            dimensions_map={"Broker": check.broker, **dimensions},
            statistic=statistic,
        )

    def queue_metric(name: str, index: int, statistic: str = "Maximum") -> cloudwatch.Metric:
        queue = check.queues[index]
        return metric(name, statistic, VirtualHost=queue.vhost, Queue=queue.name)

    def for_signal(signal: str) -> cloudwatch.IMetric:
        if signal == "backlog":
            return metric("MessageCount", check.rule(signal).statistic.value)
        if signal == "no_consumers":
            return waiting_without_consumers(metric("MessageCount"), metric("ConsumerCount", "Minimum"))
        if signal == "memory":
            return node_gib(check.broker, "RabbitMQMemUsed", "MAX", "mem_used")
        if signal == "disk":
            return node_gib(check.broker, "RabbitMQDiskFree", "MIN", "disk_free")
        indexes = range(len(check.queues))
        if signal == "queue_backlog":
            statistic = check.rule(signal).statistic.value
            return worst_of([queue_metric("MessageCount", i, statistic) for i in indexes], signal)
        assert signal == "queue_no_consumers", signal
        return worst_of(
            [
                waiting_without_consumers(
                    queue_metric("MessageCount", i), queue_metric("ConsumerCount", i, "Minimum"), str(i)
                )
                for i in indexes
            ],
            signal,
        )

    return for_signal


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, AmazonMqCheck)
    alarm_signals(scope, check, ctx, signal_metric(check))  # type: ignore[arg-type]
