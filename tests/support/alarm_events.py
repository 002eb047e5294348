"""Alarm state changes as the notifier receives them from the EventBridge rule, and one notifier invocation's
shared state: for tests that drive an alarm of their own through the real notifier (prepare, render)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from vigil.notifier import handler as notifier
from vigil.notifier.render import LinkContext

ALARM_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "alarms" / "eventbridge_alarm.json"
ACCOUNT = "123456789012"
_WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


def threshold_crossed(
    value: float, comparison: str, threshold: float, at: datetime, datapoints: int, periods: int
) -> str:
    """CloudWatch's state reason for an ALARM whose newest datapoint is `value` (the notifier reads the
    comparison and threshold from these words: an EventBridge event carries them nowhere else)."""
    return (
        f"Threshold Crossed: {datapoints} out of the last {periods} datapoints [{value:.1f} ({at:%d/%m/%y %H:%M:%S})] "
        f"were {_WORDS[comparison]} the threshold ({threshold:.1f}) "
        f"(minimum {datapoints} datapoints for OK -> ALARM transition)."
    )


def state_change(
    name: str,
    description: str,
    at: datetime,
    metric: dict[str, Any] | None = None,
    *,
    stat: str | None = None,
    period: int | None = None,
    value: float | None = None,
    threshold: float | None = None,
    reason: str | None = None,
    region: str = "eu-west-1",
) -> dict[str, Any]:
    """The "CloudWatch Alarm State Change" event (OK -> ALARM) of alarm `name` at `at`.

    `description` is the alarm's (its AlarmMeta trailer included); `metric` the metricStat's metric
    ({namespace, name, dimensions}), `stat` and `period` its statistic and period; `value` the newest
    datapoint and `threshold` the alarm's, as reasonData carries them; `reason` CloudWatch's state
    reason. What is not given stays the fixture's.
    """
    event = json.loads(ALARM_FIXTURE.read_text())
    detail = event["detail"]
    detail["alarmName"] = name
    detail["configuration"]["description"] = description
    metric_stat = detail["configuration"]["metrics"][0]["metricStat"]
    given = {"metric": metric, "stat": stat, "period": period}
    metric_stat.update({key: v for key, v in given.items() if v is not None})
    detail["state"]["timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    if reason is not None:
        detail["state"]["reason"] = reason
    reason_data = json.loads(detail["state"]["reasonData"])
    if value is not None:
        reason_data["recentDatapoints"] = [value]
        reason_data["evaluatedDatapoints"] = [{**reason_data["evaluatedDatapoints"][0], "value": value}]
    if threshold is not None:
        reason_data["threshold"] = threshold
    detail["state"]["reasonData"] = json.dumps(reason_data)
    event["region"] = region
    event["resources"] = [f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{name}"]
    return event


def notifier_run(env: str, region: str = "eu-west-1", fallback_route: str = "platform-critical") -> notifier.Run:
    """What one notifier invocation shares, without the state table (dedup is not under test here)."""
    settings = notifier.Settings(
        topic_arn_prefix=f"arn:aws:sns:{region}:{ACCOUNT}:vigil-{env}-",
        fallback_route=fallback_route,
        dashboard_name=None,
        env=env,
        stack_region=region,
        state_table=None,
    )
    links = LinkContext(stack_region=settings.stack_region)
    return notifier.Run(settings=settings, links=links, store=None, lease_seconds=60, tally=notifier.Tally())
