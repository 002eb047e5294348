"""The one place where vigil's CloudWatch alarms are made.

Every alarm gets an explicit name (alarm_name), its rule from an AlarmRule, and a description that
ends with the AlarmMeta trailer the notifier decodes. Where ALARM and OK go is decided by an
AlarmActions strategy (after cdk-monitoring-constructs' IAlarmActionStrategy), so check alarms go
through the notifier while self-monitoring alarms page the on-call route directly.
"""

from __future__ import annotations

from typing import Protocol

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.catalog import Catalog
from vigil.alarm_meta import AlarmMeta, alarm_name, encode_description
from vigil.spec.common import AlarmRule, CheckBase, Comparison, MissingData, Severity

# The CDK's Python enums are keyed by constant name, not by CloudFormation value.
_COMPARISON = {
    Comparison.gt: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    Comparison.ge: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    Comparison.lt: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    Comparison.le: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
}
_MISSING_DATA = {
    MissingData.breaching: cloudwatch.TreatMissingData.BREACHING,
    MissingData.not_breaching: cloudwatch.TreatMissingData.NOT_BREACHING,
    MissingData.ignore: cloudwatch.TreatMissingData.IGNORE,
    MissingData.missing: cloudwatch.TreatMissingData.MISSING,
}

SELF_CHECK = "self"  # the pseudo check id of vigil's own alarms: vigil-<env>-self-<signal>


class AlarmActions(Protocol):
    def apply(self, alarm: cloudwatch.Alarm) -> None: ...


class TopicActions:
    """ALARM and OK both go to one topic: a resolve must never be lost."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._action = cw_actions.SnsAction(topic)

    def apply(self, alarm: cloudwatch.Alarm) -> None:
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)


class AlarmFactory:
    def __init__(self, env: str, catalog: Catalog, check_actions: AlarmActions, self_actions: AlarmActions) -> None:
        self.env = env
        self.catalog = catalog
        self.check_actions = check_actions
        self.self_actions = self_actions
        self.alarms: list[cloudwatch.Alarm] = []

    def for_check(self, scope: Construct, check: CheckBase, signal: str, metric: cloudwatch.Metric) -> cloudwatch.Alarm:
        """The alarm of one check signal; its construct id is the signal, under the check's scope."""
        spec = type(check).signals[signal]
        rule = check.rule(signal)
        meta = AlarmMeta(
            check=check.id,
            signal=signal,
            service=check.service,
            severity=check.severity.value,
            routes=self.catalog.routes_for(check),
            summary=spec.summary,
            rule=rule.describe(spec.unit),
            unit=spec.unit,
            runbook=check.runbook,
            kind=check.kind,
        )
        return self._alarm(scope, signal, check.id, rule, metric, meta, check.description, self.check_actions)

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
        return self._alarm(scope, signal, SELF_CHECK, rule, metric, meta, None, self.self_actions)

    def _alarm(
        self,
        scope: Construct,
        construct_id: str,
        check_id: str,
        rule: AlarmRule,
        metric: cloudwatch.Metric,
        meta: AlarmMeta,
        text: str | None,
        actions: AlarmActions,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            scope,
            construct_id,
            alarm_name=alarm_name(self.env, check_id, meta.signal),
            alarm_description=encode_description(text, meta),
            metric=metric.with_(statistic=rule.statistic.value, period=Duration.seconds(rule.period)),
            threshold=rule.threshold,
            comparison_operator=_COMPARISON[rule.comparison],
            evaluation_periods=rule.evaluation_periods,
            datapoints_to_alarm=rule.datapoints_to_alarm,
            treat_missing_data=_MISSING_DATA[rule.missing_data],
        )
        actions.apply(alarm)
        self.alarms.append(alarm)
        return alarm
