"""Kind `log_pattern`: a metric filter per pattern on an existing log group, and an alarm per pattern.

No Lambda runs: CloudWatch Logs counts the matching lines. Metric filters on term patterns cannot
publish dimensions (AWS allows them only for JSON and space-delimited patterns), so each pattern
gets its own metric name, `<check-id>.<pattern>`, in the namespace Vigil/Logs. Each matching line
adds 1 and a minute with log events but no match publishes 0, so the graph shows a quiet log as
zero; a minute without any log event publishes nothing, which the alarm treats as not breaching.
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.checks import CheckContext, alarm_signals
from vigil.alarm_meta import alarm_name
from vigil.spec.common import CheckBase
from vigil.spec.log_pattern import LogPatternCheck

NAMESPACE = "Vigil/Logs"


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, LogPatternCheck)
    log_group = logs.LogGroup.from_log_group_name(scope, "LogGroup", check.log_group)
    filters = Construct(scope, "Filters")
    signals = check.signals
    metrics: dict[str, cloudwatch.Metric] = {}
    for pattern in check.all_patterns():
        metric_filter = logs.MetricFilter(
            filters,
            pattern.name,
            log_group=log_group,
            # Named like the pattern's alarm, so the console shows which filter feeds which alarm.
            filter_name=alarm_name(ctx.env, check.id, pattern.name),
            filter_pattern=logs.FilterPattern.literal(pattern.pattern),
            metric_namespace=NAMESPACE,
            metric_name=signals[pattern.name].metric,
            metric_value="1",
            default_value=0,
        )
        metrics[pattern.name] = metric_filter.metric()
    alarm_signals(scope, check, ctx, metrics.__getitem__)
