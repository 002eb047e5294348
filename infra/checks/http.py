"""Kind `http`: a schedule invoking the shared http checker, and an alarm per signal on Vigil/<metric>."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from infra.checks import CheckContext, alarm_signals
from vigil.result import CHECK_DIMENSION, METRIC_NAMESPACE
from vigil.spec.common import CheckBase

# Scheduler retries a failed invoke (throttle, service error); beyond two, the next run is due anyway.
SCHEDULE_RETRIES = 2


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    schedule(scope, check, ctx)
    checker_alarms(scope, check, ctx)


def schedule(scope: Construct, check: CheckBase, ctx: CheckContext) -> scheduler.Schedule:
    """Any checker kind: invoke its checker every cadence with the spec as input."""
    checker = ctx.checker(check)
    return scheduler.Schedule(
        scope,
        "Schedule",
        schedule=scheduler.ScheduleExpression.rate(Duration.minutes(check.cadence // 60)),
        schedule_group=ctx.schedule_group,
        description=f"vigil {ctx.env}: {check.id} every {check.cadence // 60} min",
        target=targets.LambdaInvoke(
            checker.function,
            input=scheduler.ScheduleTargetInput.from_object(ctx.event(check)),
            retry_attempts=SCHEDULE_RETRIES,
            # A run older than one cadence is superseded by the next one.
            max_event_age=Duration.seconds(max(60, check.cadence)),
            dead_letter_queue=ctx.scheduler_dlq,
            role=checker.scheduler_role,
        ),
    )


def checker_alarms(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    """Any checker kind: one alarm per active signal (the measure signal included) on Vigil metrics."""
    alarm_signals(
        scope,
        check,
        ctx,
        lambda signal: cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=type(check).signals[signal].metric,
            dimensions_map={CHECK_DIMENSION: check.id},
        ),
    )
