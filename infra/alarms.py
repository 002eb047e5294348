"""The one place where vigil's CloudWatch alarms are made.

Every alarm gets an explicit name (alarm_name), its rule from an AlarmRule, and a description that
ends with the AlarmMeta trailer the notifier decodes. Where ALARM and OK go is decided by an
AlarmActions strategy (after cdk-monitoring-constructs' IAlarmActionStrategy), so check alarms go
through the notifier while self-monitoring alarms page the on-call route directly. A kind may add
a strategy of its own for one signal (`extra`: the EC2 recover action on a system status check);
extra actions run at once, even when the notifier holds the page back for inhibition, because they
act on the resource rather than tell anyone.

A rule with a `band` becomes an anomaly detection alarm: ANOMALY_DETECTION_BAND(metric, std_devs)
as the threshold metric and one of CloudWatch's band operators, through the same `_alarm`.

Inhibition: a signal with a suppressor (Catalog.suppressor) pages like any other, ALARM and OK; its
AlarmMeta names the suppressor's alarm and the seconds to wait for it, and the notifier holds the
ALARM back for that long and asks CloudWatch about both alarms before it pages
(vigil.notifier.inhibition). No composite alarm: one fewer alarm per inhibited signal, and a
recovery can never be suppressed.
"""

from __future__ import annotations

import re
from typing import Protocol

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra import ecs_events
from infra.catalog import Catalog
from infra.placement import check_log_group
from vigil.alarm_meta import AlarmMeta, alarm_name, encode_description
from vigil.spec.common import AlarmRule, BandSide, CheckBase, Comparison, MissingData, Severity

# The CDK's Python enums are keyed by constant name, not by CloudFormation value.
_COMPARISON = {
    Comparison.gt: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    Comparison.ge: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    Comparison.lt: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    Comparison.le: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
}
_BAND_COMPARISON = {
    BandSide.outside: cloudwatch.ComparisonOperator.LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD,
    BandSide.above: cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
    BandSide.below: cloudwatch.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
}
_MISSING_DATA = {
    MissingData.breaching: cloudwatch.TreatMissingData.BREACHING,
    MissingData.not_breaching: cloudwatch.TreatMissingData.NOT_BREACHING,
    MissingData.ignore: cloudwatch.TreatMissingData.IGNORE,
    MissingData.missing: cloudwatch.TreatMissingData.MISSING,
}

SELF_CHECK = "self"  # the pseudo check id of vigil's own alarms: vigil-<env>-self-<signal>


class AlarmActions(Protocol):
    def on_alarm(self, alarm: cloudwatch.AlarmBase) -> None: ...
    def on_ok(self, alarm: cloudwatch.AlarmBase) -> None: ...


class TopicActions:
    """ALARM and OK go to one topic: a resolve must never be lost."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._action = cw_actions.SnsAction(topic)

    def on_alarm(self, alarm: cloudwatch.AlarmBase) -> None:
        alarm.add_alarm_action(self._action)

    def on_ok(self, alarm: cloudwatch.AlarmBase) -> None:
        alarm.add_ok_action(self._action)


class Ec2RecoverAction:
    """ALARM recovers the instance onto healthy hardware (arn:aws:automate:<region>:ec2:recover).

    CloudWatch allows it on StatusCheckFailed_System alone ("The recover action can be used only
    with StatusCheckFailed_System", CloudWatch user guide, Adding recover actions); OK does nothing.
    """

    def __init__(self) -> None:
        self._action = cw_actions.Ec2Action(cw_actions.Ec2InstanceAction.RECOVER)

    def on_alarm(self, alarm: cloudwatch.AlarmBase) -> None:
        alarm.add_alarm_action(self._action)

    def on_ok(self, alarm: cloudwatch.AlarmBase) -> None:
        return None


class AlarmFactory:
    def __init__(self, env: str, catalog: Catalog, check_actions: AlarmActions, self_actions: AlarmActions) -> None:
        self.env = env
        self.catalog = catalog
        self.check_actions = check_actions
        self.self_actions = self_actions
        self.alarms: list[cloudwatch.Alarm] = []
        # Each check's alarms by check id: what a maintenance window mutes.
        self.by_check: dict[str, list[cloudwatch.AlarmBase]] = {}

    def for_check(
        self,
        scope: Construct,
        check: CheckBase,
        signal: str,
        metric: cloudwatch.IMetric,
        extra: AlarmActions | None = None,
    ) -> cloudwatch.Alarm:
        """The alarm of one check signal; its construct id is the signal, under the check's scope.

        An inhibited signal's alarm carries its suppressor's name and waits in its metadata, for the
        notifier (vigil.notifier.inhibition). `extra` adds the kind's own actions.
        """
        spec = check.signals[signal]  # from the instance: a log_pattern check has a signal per pattern
        rule = check.rule(signal)
        suppressor = self.catalog.suppressor(check, signal)
        inhibitor = self.catalog.by_id(suppressor[0]).rule(suppressor[1]) if suppressor else None
        # A signal may carry its own severity (each log pattern does); it picks the routes too.
        severity = spec.severity or check.severity
        meta = AlarmMeta(
            check=check.id,
            signal=signal,
            service=check.service,
            severity=severity.value,
            routes=self.catalog.routes_for_signal(check, signal),
            summary=spec.summary,
            rule=rule.describe(spec.unit),
            unit=spec.unit,
            runbook=check.runbook,
            kind=check.kind,
            inhibited_by=alarm_name(self.env, *suppressor) if suppressor else None,
            # The inhibitor alarms within its N periods of the outage; this signal recovers within its own.
            inhibit_wait=inhibitor.period * inhibitor.evaluation_periods if inhibitor else None,
            inhibit_extension=rule.period * rule.evaluation_periods if inhibitor else None,
            logs=check_log_group(self.env, check),
            ecs=ecs_events.alarm_ref(self.env, check),
        )
        description = encode_description(check.description, meta)
        return self._alarm(scope, signal, check.id, rule, metric, description, self.check_actions, extra)

    def for_self(
        self, scope: Construct, signal: str, rule: AlarmRule, metric: cloudwatch.Metric, summary: str
    ) -> cloudwatch.Alarm:
        meta = AlarmMeta(
            check=SELF_CHECK,
            signal=signal,
            service="vigil",
            severity=Severity.critical.value,
            routes=[self.catalog.settings.self_monitoring_route],
            summary=summary,
            rule=rule.describe(),
            kind="self",
        )
        return self._alarm(scope, signal, SELF_CHECK, rule, metric, encode_description(None, meta), self.self_actions)

    def _alarm(
        self,
        scope: Construct,
        signal: str,
        check_id: str,
        rule: AlarmRule,
        metric: cloudwatch.IMetric,
        description: str,
        actions: AlarmActions,
        extra: AlarmActions | None = None,
    ) -> cloudwatch.Alarm:
        # A math expression has no statistic of its own: each metric in it carries its own.
        measured = (
            metric.with_(period=Duration.seconds(rule.period))
            if isinstance(metric, cloudwatch.MathExpression)
            else metric.with_(statistic=rule.statistic.value, period=Duration.seconds(rule.period))  # type: ignore[attr-defined]
        )
        threshold, comparison = rule.threshold, _COMPARISON[rule.comparison]
        if rule.band is not None:
            measured, threshold, comparison = _band(signal, measured, rule), 0, _BAND_COMPARISON[rule.band.side]
        alarm = cloudwatch.Alarm(
            scope,
            signal,  # the construct id: unique under the check's (or self-monitoring's) scope
            alarm_name=alarm_name(self.env, check_id, signal),
            alarm_description=description,
            metric=measured,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=rule.evaluation_periods,
            datapoints_to_alarm=rule.datapoints_to_alarm,
            treat_missing_data=_MISSING_DATA[rule.missing_data],
        )
        actions.on_alarm(alarm)
        actions.on_ok(alarm)
        if extra is not None:
            extra.on_alarm(alarm)
            extra.on_ok(alarm)
        self.alarms.append(alarm)
        self.by_check.setdefault(check_id, []).append(alarm)
        return alarm


def _band(signal: str, metric: cloudwatch.IMetric, rule: AlarmRule) -> cloudwatch.MathExpression:
    """ANOMALY_DETECTION_BAND over the signal's metric, the alarm's threshold metric.

    Built here rather than by the CDK's AnomalyDetectionAlarm, whose ids are always m0: a check's
    dashboard graph holds all its alarms' metrics, and CloudWatch needs every id in one graph unique.
    The signals that take a band read one plain metric (Signal.bands), never an expression.
    """
    assert rule.band is not None and not isinstance(metric, cloudwatch.MathExpression), signal
    metric_id = re.sub(r"[^A-Za-z0-9_]", "_", signal)
    return cloudwatch.MathExpression(
        expression=f"ANOMALY_DETECTION_BAND({metric_id}, {rule.band.std_devs:g})",
        using_metrics={metric_id: metric},
        period=Duration.seconds(rule.period),
        label=f"{signal} expected band",
    )
