"""AlarmEvent: one CloudWatch alarm state change, whichever way it reached the notifier.

Three wire shapes arrive:
- an SNS alarm-action notification (Lambda record Sns.Message is a JSON string with AlarmName,
  NewStateValue, Trigger…; Region there is a display name such as "EU (Ireland)", so the region
  code comes from AlarmArn; there is no reason data and no previous-state time);
- an EventBridge "CloudWatch Alarm State Change" event (detail.state / previousState / configuration;
  reasonData carries the datapoints, but threshold and comparison are only in words, in the reason);
- the event an alarm's Lambda action sends (CloudWatch user guide, "Invoke a Lambda function from
  an alarm"): alarmArn, accountId, region and alarmData, which holds what EventBridge's detail holds.
All become the same AlarmEvent, so rendering never cares where an event came from. CloudWatch's
other events on the same bus ("CloudWatch Alarm Configuration Change") are not state changes:
parse_alarm says so with NotAStateChange, and nothing pages for them.

A composite alarm (one of the account's own, pointed at the notifier) has no metric in either
shape: SNS carries AlarmRule and TriggeringChildren instead of Trigger, EventBridge carries
configuration.alarmRule / actionsSuppressor and reasonData.triggeringAlarms, and the reason is
"<child arn> transitioned to ALARM at …". The event then names the child alarms that hold the value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vigil.alarm_meta import AlarmMeta, decode_description

STATE_CHANGE = "CloudWatch Alarm State Change"


class AlarmEventError(ValueError):
    """The input is not an alarm state change this notifier can read."""


class NotAStateChange(Exception):
    """A well-formed CloudWatch event that is not a state change (an alarm created, updated, deleted)."""

    def __init__(self, detail_type: str, alarm_name: str | None) -> None:
        super().__init__(f"{detail_type} for {alarm_name or 'an alarm'}")
        self.detail_type = detail_type
        self.alarm_name = alarm_name


class AlarmState(StrEnum):
    alarm = "ALARM"
    ok = "OK"
    insufficient_data = "INSUFFICIENT_DATA"


COMPARISON_SYMBOLS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}


class EvaluatedDatapoint(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    timestamp: datetime | None = None
    value: float | None = None  # absent for missing datapoints


class TriggeringAlarm(BaseModel):
    """A composite alarm's child that set its state, as reasonData.triggeringAlarms lists it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    arn: str


class ReasonData(BaseModel):
    """CloudWatch's stateReasonData (a JSON string inside the event)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # Oldest first; evaluatedDatapoints is newest first (as CloudWatch writes them).
    recent_datapoints: list[float] = Field(default_factory=list, alias="recentDatapoints")
    evaluated_datapoints: list[EvaluatedDatapoint] = Field(default_factory=list, alias="evaluatedDatapoints")
    threshold: float | None = None
    statistic: str | None = None
    period: int | None = None
    triggering_alarms: list[TriggeringAlarm] = Field(default_factory=list, alias="triggeringAlarms")


class AlarmEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    # How it came: an SNS alarm action, the EventBridge rule, or an alarm's direct Lambda action.
    source: Literal["sns", "eventbridge", "lambda", "scheduler"]  # scheduler: a repeat re-read the alarm
    alarm_name: str = Field(min_length=1)
    alarm_arn: str | None = None
    region: str | None = None  # region code (eu-west-1), never a display name
    account: str | None = None
    state: AlarmState
    previous_state: AlarmState | None = None
    reason: str = ""
    reason_data: ReasonData | None = None
    state_time: datetime | None = None
    previous_state_time: datetime | None = None  # when the previous state began (EventBridge only)
    threshold: float | None = None
    comparison: str | None = None  # CloudWatch operator name: GreaterThanThreshold, …
    metric_name: str | None = None
    namespace: str | None = None
    statistic: str | None = None
    period: int | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None
    treat_missing_data: str | None = None
    description: str = ""  # the human part of AlarmDescription, without vigil's trailer
    meta: AlarmMeta | None = None
    alarm_rule: str | None = None  # composite alarms only: they watch alarms, not a metric
    children: list[str] = Field(default_factory=list)  # names of the child alarms that set a composite's state
    actions_suppressor: str | None = None  # EventBridge only; SNS never carries it
    actions_suppressed_by: str | None = None  # EventBridge only: Alarm, WaitPeriod or ExtensionPeriod

    @property
    def is_composite(self) -> bool:
        return self.alarm_rule is not None

    @property
    def comparison_symbol(self) -> str | None:
        if self.comparison is None:
            return None
        return COMPARISON_SYMBOLS.get(self.comparison, self.comparison)

    @property
    def latest_value(self) -> float | None:
        """The newest measured datapoint, from reason data or, failing that, the reason text."""
        data = self.reason_data
        if data is not None:
            measured = [p for p in data.evaluated_datapoints if p.value is not None]
            if measured:
                newest = max(measured, key=lambda p: p.timestamp.timestamp() if p.timestamp else float("-inf"))
                return newest.value
            if data.recent_datapoints:
                return data.recent_datapoints[-1]
        return _latest_from_reason(self.reason)


# --- shared helpers -------------------------------------------------------------------------------


def _to_datetime(value: Any) -> datetime | None:
    # CloudWatch writes "2019-10-02T17:04:40.989+0000"; fromisoformat reads that since 3.11.
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    # CloudWatch times are UTC; a time without an offset is read as UTC, never as local time.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _to_state(value: Any) -> AlarmState | None:
    try:
        return AlarmState(value)
    except ValueError:
        return None


def _parse_reason_data(raw: Any) -> ReasonData | None:
    """Reason data is advisory: a damaged blob loses datapoints, never the notification."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, dict):
        return None
    try:
        return ReasonData.model_validate(raw)
    except ValidationError:
        return None


# "… [1520.0 (02/10/19 16:59:00), 1490.0 (…)] was greater than …": newest datapoint first.
_REASON_VALUE = re.compile(r"\[\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*\(")
_REASON_COMPARISON = re.compile(r"\b(?:was|were) (?:not )?(greater|less) than( or equal to)? the threshold")
_REASON_THRESHOLD = re.compile(r"the threshold \((-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\)")


def _latest_from_reason(reason: str) -> float | None:
    match = _REASON_VALUE.search(reason or "")
    return float(match.group(1)) if match else None


def _comparison_from_reason(reason: str) -> str | None:
    match = _REASON_COMPARISON.search(reason or "")
    if not match:
        return None
    direction = "GreaterThan" if match.group(1) == "greater" else "LessThan"
    return f"{direction}{'OrEqualTo' if match.group(2) else ''}Threshold"


def _threshold_from_reason(reason: str) -> float | None:
    match = _REASON_THRESHOLD.search(reason or "")
    return float(match.group(1)) if match else None


def _arn_parts(arn: str | None) -> tuple[str | None, str | None]:
    """(region, account) from arn:aws:cloudwatch:<region>:<account>:alarm:<name>."""
    if not arn:
        return None, None
    parts = arn.split(":", 6)
    if len(parts) < 7 or parts[0] != "arn":
        return None, None
    return parts[3] or None, parts[4] or None


def _alarm_name_of(arn: str) -> str:
    """arn:aws:cloudwatch:<region>:<account>:alarm:<name> → <name>; anything else as it is."""
    return arn.split(":alarm:", 1)[1] if ":alarm:" in arn else arn


def _missing_data(value: str | None) -> str | None:
    # Older notifications spell it "- TreatMissingData:     NonBreaching".
    if not value:
        return None
    return value.rsplit(":", 1)[-1].strip() or None


# Wire models are built on first use: a deployment sees one shape (EventBridge or SNS), so the
# other's schemas never cost cold-start time.
_WIRE = ConfigDict(extra="ignore", defer_build=True)


# --- SNS alarm action -----------------------------------------------------------------------------


class _SnsTrigger(BaseModel):
    model_config = _WIRE

    MetricName: str | None = None
    Namespace: str | None = None
    Statistic: str | None = None
    Period: int | None = None
    EvaluationPeriods: int | None = None
    DatapointsToAlarm: int | None = None
    ComparisonOperator: str | None = None
    Threshold: float | None = None
    TreatMissingData: str | None = None


class _SnsChild(BaseModel):
    model_config = _WIRE

    Arn: str


class _SnsAlarmMessage(BaseModel):
    model_config = _WIRE

    AlarmName: str = Field(min_length=1)
    AlarmDescription: str | None = None
    AWSAccountId: str | None = None
    NewStateValue: AlarmState
    NewStateReason: str | None = None
    StateChangeTime: str | None = None
    AlarmArn: str | None = None
    OldStateValue: str | None = None
    Trigger: _SnsTrigger | None = None
    AlarmRule: str | None = None
    TriggeringChildren: list[_SnsChild] = Field(default_factory=list)

    @field_validator("Trigger", mode="before")
    @classmethod
    def _trigger_or_none(cls, value: Any) -> Any:
        # A metric-math alarm's trigger has other keys; an odd trigger must not sink the event.
        return value if isinstance(value, dict) else None

    @field_validator("TriggeringChildren", mode="before")
    @classmethod
    def _children_with_arns(cls, value: Any) -> Any:
        # Advisory like reason data: odd entries are dropped, never the notification.
        if not isinstance(value, list):
            return []
        return [c for c in value if isinstance(c, dict) and isinstance(c.get("Arn"), str)]


def from_sns_message(message: dict[str, Any]) -> AlarmEvent:
    msg = _SnsAlarmMessage.model_validate(message)
    trigger = msg.Trigger or _SnsTrigger()
    region, account = _arn_parts(msg.AlarmArn)
    human, meta = decode_description(msg.AlarmDescription)
    reason = msg.NewStateReason or ""
    # SNS says "MAXIMUM" or "SAMPLE_COUNT"; CloudWatch's own name is "Maximum" or "SampleCount".
    statistic = "".join(w.capitalize() for w in trigger.Statistic.split("_")) if trigger.Statistic else None
    return AlarmEvent(
        source="sns",
        alarm_name=msg.AlarmName,
        alarm_arn=msg.AlarmArn,
        region=region,
        account=msg.AWSAccountId or account,
        state=msg.NewStateValue,
        previous_state=_to_state(msg.OldStateValue),
        reason=reason,
        state_time=_to_datetime(msg.StateChangeTime),
        threshold=trigger.Threshold if trigger.Threshold is not None else _threshold_from_reason(reason),
        comparison=trigger.ComparisonOperator or _comparison_from_reason(reason),
        metric_name=trigger.MetricName,
        namespace=trigger.Namespace,
        statistic=statistic,
        period=trigger.Period,
        evaluation_periods=trigger.EvaluationPeriods,
        datapoints_to_alarm=trigger.DatapointsToAlarm,
        treat_missing_data=_missing_data(trigger.TreatMissingData),
        description=human,
        meta=meta,
        alarm_rule=msg.AlarmRule,
        children=[_alarm_name_of(child.Arn) for child in msg.TriggeringChildren],
    )


# --- EventBridge state change ---------------------------------------------------------------------


class _EbState(BaseModel):
    model_config = _WIRE

    value: str
    reason: str | None = None
    reasonData: str | dict[str, Any] | None = None
    timestamp: str | None = None
    actionsSuppressedBy: str | None = None


class _EbConfiguration(BaseModel):
    model_config = _WIRE

    description: str | None = None
    metrics: list[Any] = Field(default_factory=list)
    alarmRule: str | None = None
    actionsSuppressor: str | None = None


class _EbDetail(BaseModel):
    model_config = _WIRE

    alarmName: str = Field(min_length=1)
    state: _EbState
    previousState: _EbState | None = None
    configuration: _EbConfiguration | None = None


class _EbEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    detail_type: str | None = Field(default=None, alias="detail-type")
    account: str | None = None
    region: str | None = None
    resources: list[str] = Field(default_factory=list)
    detail: _EbDetail


def _single_metric(metrics: list[Any]) -> dict[str, Any]:
    """The metricStat of a single-metric alarm; {} for metric math, where no one metric speaks."""
    stats = [m.get("metricStat") for m in metrics if isinstance(m, dict) and isinstance(m.get("metricStat"), dict)]
    return stats[0] if len(stats) == 1 else {}


def from_eventbridge(event: dict[str, Any]) -> AlarmEvent:
    eb = _EbEvent.model_validate(event)
    if eb.detail_type is not None and eb.detail_type != STATE_CHANGE:
        raise AlarmEventError(f"not an alarm state change: detail-type {eb.detail_type!r}")
    arn = next((r for r in eb.resources if ":alarm:" in r), None)
    return _from_detail(eb.detail, "eventbridge", arn, eb.region, eb.account)


class _AlarmActionEvent(BaseModel):
    model_config = _WIRE

    alarmArn: str | None = None
    accountId: str | None = None
    region: str | None = None
    alarmData: _EbDetail


def from_alarm_action(event: dict[str, Any]) -> AlarmEvent:
    """The event an alarm's Lambda action sends: alarmData holds what EventBridge's detail holds."""
    action = _AlarmActionEvent.model_validate(event)
    return _from_detail(action.alarmData, "lambda", action.alarmArn, action.region, action.accountId)


def _from_detail(
    detail: _EbDetail,
    source: Literal["eventbridge", "lambda"],
    arn: str | None,
    region: str | None,
    account: str | None,
) -> AlarmEvent:
    state = _to_state(detail.state.value)
    if state is None:
        raise AlarmEventError(f"unknown alarm state {detail.state.value!r}")
    arn_region, arn_account = _arn_parts(arn)
    config = detail.configuration or _EbConfiguration()
    human, meta = decode_description(config.description)
    reason = detail.state.reason or ""
    reason_data = _parse_reason_data(detail.state.reasonData)
    metric_stat = _single_metric(config.metrics)
    metric = metric_stat.get("metric") if isinstance(metric_stat.get("metric"), dict) else {}
    previous = detail.previousState
    threshold = reason_data.threshold if reason_data and reason_data.threshold is not None else None
    return AlarmEvent(
        source=source,
        alarm_name=detail.alarmName,
        alarm_arn=arn,
        region=region or arn_region,
        account=account or arn_account,
        state=state,
        previous_state=_to_state(previous.value) if previous else None,
        reason=reason,
        reason_data=reason_data,
        state_time=_to_datetime(detail.state.timestamp),
        previous_state_time=_to_datetime(previous.timestamp) if previous else None,
        threshold=threshold if threshold is not None else _threshold_from_reason(reason),
        comparison=_comparison_from_reason(reason),
        metric_name=metric.get("name"),
        namespace=metric.get("namespace"),
        statistic=metric_stat.get("stat") or (reason_data.statistic if reason_data else None),
        period=metric_stat.get("period") or (reason_data.period if reason_data else None),
        description=human,
        meta=meta,
        alarm_rule=config.alarmRule,
        children=[_alarm_name_of(child.arn) for child in reason_data.triggering_alarms] if reason_data else [],
        actions_suppressor=config.actionsSuppressor,
        actions_suppressed_by=detail.state.actionsSuppressedBy,
    )


# --- entry points ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One alarm payload as it arrived, and the transport's own id for it when there is one."""

    payload: Any
    transport_id: str | None = None  # "sns:<MessageId>" or "events:<event id>": the same on a redelivery


def deliveries(event: Any) -> list[Delivery]:
    """The alarm payloads in one Lambda input: one per SNS record, or the event itself."""
    if isinstance(event, dict) and isinstance(event.get("Records"), list) and event["Records"]:
        found: list[Delivery] = []
        for record in event["Records"]:
            sns = record.get("Sns") if isinstance(record, dict) else None
            if isinstance(sns, dict) and "Message" in sns:
                message_id = sns.get("MessageId")
                found.append(Delivery(payload=sns["Message"], transport_id=_tagged("sns", message_id)))
            else:
                found.append(Delivery(payload=record))
        return found
    event_id = event.get("id") if isinstance(event, dict) and "detail" in event else None
    return [Delivery(payload=event, transport_id=_tagged("events", event_id))]


def _tagged(transport: str, value: Any) -> str | None:
    return f"{transport}:{value}" if isinstance(value, str) and value else None


def split_event(event: Any) -> list[Any]:
    """The alarm payloads alone, as `deliveries` finds them."""
    return [delivery.payload for delivery in deliveries(event)]


def parse_alarm(payload: Any) -> AlarmEvent:
    """One payload (SNS Message string or dict, EventBridge event, alarm action event) → AlarmEvent.

    Raises AlarmEventError for anything unreadable, NotAStateChange for CloudWatch's other events.
    """
    if isinstance(payload, bytes | bytearray):
        payload = payload.decode("utf-8", errors="replace")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise AlarmEventError(f"alarm message is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise AlarmEventError(f"alarm message is a {type(payload).__name__}, not a JSON object")
    _refuse_other_cloudwatch_events(payload)
    try:
        if "AlarmName" in payload:
            return from_sns_message(payload)
        if "alarmData" in payload:
            return from_alarm_action(payload)
        if "detail" in payload:
            return from_eventbridge(payload)
    except ValidationError as exc:
        raise AlarmEventError(_first_problem(exc)) from None
    raise AlarmEventError("neither a CloudWatch alarm notification nor an alarm state change event")


def _refuse_other_cloudwatch_events(payload: dict[str, Any]) -> None:
    detail_type = payload.get("detail-type")
    if payload.get("source") != "aws.cloudwatch" or detail_type in (None, STATE_CHANGE):
        return
    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
    name = detail.get("alarmName")
    raise NotAStateChange(str(detail_type), name if isinstance(name, str) else None)


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    return f"{where}: {first['msg']} ({exc.error_count()} problem(s))"


# --- salvage for the fallback ---------------------------------------------------------------------

_NAME_KEYS = ("AlarmName", "alarmName")
_DESCRIPTION_KEYS = ("AlarmDescription", "description")
_STATE_TEXT = re.compile(r'"(?:NewStateValue|value)"\s*:\s*"(ALARM|OK|INSUFFICIENT_DATA)"')
_NAME_TEXT = re.compile(r'"(?:AlarmName|alarmName)"\s*:\s*"((?:[^"\\]|\\.){1,255})"')


class Salvage(BaseModel):
    """What can still be read from input that would not parse."""

    model_config = ConfigDict(defer_build=True)  # only the fallback path needs it

    name: str | None = None
    state: str | None = None
    region: str | None = None
    meta: AlarmMeta | None = None


def salvage(raw: Any) -> Salvage:
    """Alarm name, state, region and vigil metadata found anywhere in raw input. Never raises."""
    try:
        found: dict[str, Any] = {}
        _walk(raw, found, depth=0)
        meta = None
        if isinstance(found.get("description"), str):
            meta = decode_description(found["description"])[1]
        region = found.get("region")
        if region is None:
            region = _arn_parts(found.get("arn"))[0]
        return Salvage(name=found.get("name"), state=found.get("state"), region=region, meta=meta)
    except Exception:
        return Salvage()


def _walk(node: Any, found: dict[str, Any], depth: int) -> None:
    if depth > 8:  # input is untrusted: bound the work
        return
    if isinstance(node, bytes | bytearray):
        node = node.decode("utf-8", errors="replace")
    if isinstance(node, str):
        try:
            decoded = json.loads(node)
        except ValueError:
            _scan_text(node, found)
            return
        if isinstance(decoded, dict | list):
            _walk(decoded, found, depth + 1)
        return
    if isinstance(node, list):
        for item in node[:50]:
            _walk(item, found, depth + 1)
        return
    if not isinstance(node, dict):
        return
    for key in _NAME_KEYS:
        if isinstance(node.get(key), str) and node[key] and "name" not in found:
            found["name"] = node[key]
    for key in _DESCRIPTION_KEYS:
        if isinstance(node.get(key), str) and "description" not in found:
            found["description"] = node[key]
    if isinstance(node.get("NewStateValue"), str) and "state" not in found:
        found["state"] = node["NewStateValue"]
    state = node.get("state")
    if isinstance(state, dict) and isinstance(state.get("value"), str) and "state" not in found:
        found["state"] = state["value"]
    for key in ("AlarmArn", "alarmArn"):
        if isinstance(node.get(key), str) and "arn" not in found:
            found["arn"] = node[key]
    if isinstance(node.get("region"), str) and re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", node["region"]):
        found.setdefault("region", node["region"])
    for value in node.values():
        if isinstance(value, dict | list | str | bytes):
            _walk(value, found, depth + 1)


def _scan_text(text: str, found: dict[str, Any]) -> None:
    """Truncated or damaged JSON: a regex still finds the name and state more often than not."""
    if "name" not in found:
        match = _NAME_TEXT.search(text)
        if match:
            found["name"] = match.group(1).replace('\\"', '"')
    if "state" not in found:
        match = _STATE_TEXT.search(text)
        if match:
            found["state"] = match.group(1)
