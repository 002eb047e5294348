"""Maintenance windows as CloudWatch alarm mute rules: AWS::CloudWatch::AlarmMuteRule.

A mute rule mutes the actions (ALARM, OK and INSUFFICIENT_DATA alike) of the alarms it names while
its schedule is active; the alarms still evaluate and change state, and an alarm still in the state
it was muted in when the window ends runs that state's actions then ("How alarm mute rules work",
CloudWatch user guide). One rule targets at most 100 alarms by name (MuteTargets, CloudWatch API
reference), so a window over more alarms becomes several rules in each service file's stack, `<window>/1`, `<window>/2`, ...,
each over the next 100 names in sorted order: ids and names stay put, only targets move between
rules as checks come and go. Each window covers every alarm of its checks.

The rules name their alarms through references, so CloudFormation creates the alarms first ("The
alarm names must match existing alarms").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from vigil.silences.windows import MAX_ALARMS_PER_RULE, Window
from vigil.spec.common import CheckBase

T = TypeVar("T")


def rule_name(env: str, window: str, service_file: str, part: int) -> str:
    return f"vigil-{env}-window-{window}-{service_file}-{part}"


def chunks(items: Sequence[T], size: int = MAX_ALARMS_PER_RULE) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class MuteRules(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: str,
        windows: Sequence[Window],
        checks: Sequence[CheckBase],
        alarms: dict[str, list[cloudwatch.AlarmBase]],
        part_of: str,
    ) -> None:
        """`alarms`: each check's alarms by check id (AlarmFactory.by_check); `part_of`: the service
        file whose stack holds these rules (its name is in theirs, so each stack names its own)."""
        super().__init__(scope, construct_id)
        self.rules: list[cloudwatch.CfnAlarmMuteRule] = []
        service_of = {c.id: c.service for c in checks}
        for window in windows:
            # Sorted by construct path (derived from check ids and signals, like the alarm names): stable.
            covered = sorted(
                (
                    alarm
                    for check_id, found in alarms.items()
                    if check_id in service_of and window.covers(check_id, service_of[check_id])
                    for alarm in found
                ),
                key=lambda alarm: alarm.node.path,
            )
            holder = Construct(self, window.name)
            for part, chunk in enumerate(chunks(covered), start=1):
                self.rules.append(
                    cloudwatch.CfnAlarmMuteRule(
                        holder,
                        str(part),
                        name=rule_name(env, window.name, part_of, part),
                        description=f"vigil {env}: maintenance window {window.name}",
                        rule=cloudwatch.CfnAlarmMuteRule.RuleProperty(
                            schedule=cloudwatch.CfnAlarmMuteRule.ScheduleProperty(
                                expression=window.expression(),
                                duration=window.iso_duration(),
                                timezone=window.timezone,
                            )
                        ),
                        # References, not names: CloudFormation then creates the alarms first.
                        mute_targets=cloudwatch.CfnAlarmMuteRule.MuteTargetsProperty(
                            alarm_names=[alarm.alarm_name for alarm in chunk]
                        ),
                    )
                )
