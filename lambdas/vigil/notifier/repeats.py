"""Repeats, escalations and acknowledgements of an ALARM (issue 13, item 2).

Environment (written by the stack, infra/paging_config.py and infra/paging.py):
    PAGING              JSON Policy: per route, the repeat interval per severity and the escalation
    SCHEDULE_GROUP      the EventBridge Scheduler group the one-shot schedules go in
    SCHEDULER_ROLE_ARN  the role Scheduler invokes the notifier with (the notifier passes it)
    SCHEDULE_DLQ_ARN    the notifier's failure queue: where Scheduler sends an invocation it could not deliver
    ACK_URL             the acknowledgement function's URL (optional: no link without it)
    ACK_SECRET_ARN      the generated secret holding the links' HMAC key (optional, as ACK_URL)

When an ALARM is first paged to routes with a repeat interval for its severity, the notifier
records it (`alarm#<ARN>` / `paging`: the ALARM's timestamp, later who acknowledged), puts an
acknowledgement link in the e-mail, and creates one-shot schedules (`at(...)`, deleted after they
fire) that invoke the notifier with a FollowUp: the next repeat, and each route's escalation.
A FollowUp re-reads the alarm (DescribeAlarms) and the record, and pages only while the alarm is
still in the same ALARM, unacknowledged and not silenced; a repeat then schedules the next, up to
max_repeats. Nothing is cancelled on OK or acknowledgement: the next follow-up finds out and stops,
which costs one invocation and needs no DeleteSchedule permission.

Schedule names derive from the ALARM and the follow-up's number, so a retried page or a
redelivered follow-up creates nothing twice (Scheduler answers ConflictException).

Scheduler invokes the notifier asynchronously. An invocation it cannot deliver (throttled, refused)
it retries (RetryPolicy) and then sends to the dead-letter queue, the notifier's failure queue, whose
alarm pages the self-monitoring route; a delivered one that fails inside the notifier is retried by
Lambda and then goes to the function's on-failure destination, the same queue.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.alarm_meta import decode_description
from vigil.notifier import ack_token
from vigil.notifier.aws_errors import error_code
from vigil.notifier.events import AlarmEvent, AlarmState
from vigil.notifier.render import Notification, fit_sms, fit_subject
from vigil.notifier.state import Key, StateTable, alarm_partition, stamp

PAGING_ENV = "PAGING"
SCHEDULE_GROUP_ENV = "SCHEDULE_GROUP"
SCHEDULER_ROLE_ENV = "SCHEDULER_ROLE_ARN"
DEAD_LETTER_ENV = "SCHEDULE_DLQ_ARN"
ACK_URL_ENV = "ACK_URL"
ACK_SECRET_ENV = "ACK_SECRET_ARN"
ENVIRONMENT = (PAGING_ENV, SCHEDULE_GROUP_ENV, SCHEDULER_ROLE_ENV, DEAD_LETTER_ENV, ACK_URL_ENV, ACK_SECRET_ENV)

RECORD = "paging"  # the sort key of an alarm's paging record, beside its `last` and `sent#` items
RECORD_TTL_SECONDS = 14 * 86400  # vigil.notifier.state.LAST_TTL_SECONDS: an OK still finds who acknowledged
# Scheduler retries an invocation it could not deliver, for at most an hour (a repeat that late is
# noise), then sends it to the dead-letter queue.
SCHEDULE_RETRIES = 3
SCHEDULE_MAX_AGE_SECONDS = 3600
# DescribeAlarms and the state change event may word the same moment to different precision (an
# SNS notification to the second, the API to the millisecond); no alarm leaves ALARM and comes back
# within a second (its period is at least 10 s).
SAME_CHANGE_TOLERANCE = timedelta(seconds=1)

logger = logging.getLogger(__name__)

# Epoch seconds now; tests simulate time by replacing it.
clock = time.time


class RoutePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    repeat_every: dict[str, int] = Field(default_factory=dict)  # severity → seconds
    escalate_to: str | None = None
    escalate_after: int | None = None  # seconds


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_repeats: int = 6
    routes: dict[str, RoutePolicy] = Field(default_factory=dict)  # routes without repeats or escalation left out

    def interval(self, routes: list[str], severity: str) -> int | None:
        """The shortest repeat interval among these routes for this severity: one repeat pages them all."""
        found = [p.repeat_every[severity] for r in routes if (p := self.routes.get(r)) and severity in p.repeat_every]
        return min(found, default=None)

    def repeating(self, routes: list[str], severity: str) -> list[str]:
        return [r for r in routes if severity in self.routes.get(r, RoutePolicy()).repeat_every]

    def escalations(self, routes: list[str]) -> list[tuple[str, int]]:
        """(route escalated to, after seconds), each target once, the earliest kept."""
        found: dict[str, int] = {}
        for route in routes:
            p = self.routes.get(route)
            if p and p.escalate_to and p.escalate_after:
                found[p.escalate_to] = min(found.get(p.escalate_to, p.escalate_after), p.escalate_after)
        return sorted(found.items())


@functools.cache
def policy(text: str) -> Policy:
    """The stack's policy; an unreadable one (an error logged) repeats nothing: the first page still goes."""
    if not text:
        return Policy()
    try:
        return Policy.model_validate_json(text)
    except ValidationError as exc:
        logger.error("%s is not a paging policy: %s", PAGING_ENV, str(exc)[:500])
        return Policy()


@dataclass(frozen=True)
class Paging:
    """What the notifier needs to repeat and escalate; `enabled` only with a schedule group, role and
    dead-letter queue."""

    policy: Policy
    group: str | None
    role_arn: str | None
    dead_letter_arn: str | None
    ack_url: str | None
    ack_secret: str | None

    @classmethod
    def from_env(cls) -> Paging:
        return cls(
            policy=policy(os.environ.get(PAGING_ENV, "")),
            group=os.environ.get(SCHEDULE_GROUP_ENV) or None,
            role_arn=os.environ.get(SCHEDULER_ROLE_ENV) or None,
            dead_letter_arn=os.environ.get(DEAD_LETTER_ENV) or None,
            ack_url=os.environ.get(ACK_URL_ENV) or None,
            ack_secret=os.environ.get(ACK_SECRET_ENV) or None,
        )

    @property
    def can_schedule(self) -> bool:
        """The stack gave the notifier a schedule group, a role and a dead-letter queue (every stack does;
        see infra/paging.py): no schedule without the queue, whose alarm keeps an undelivered one from
        being lost silently."""
        return bool(self.group and self.role_arn and self.dead_letter_arn)

    @property
    def enabled(self) -> bool:
        return self.can_schedule and bool(self.policy.routes)

    def schedule(self, client: Any, planned: tuple[datetime, FollowUp], target_arn: str) -> None:
        """Create one follow-up's schedule; never raises (see `schedule`)."""
        when, follow = planned
        if self.create(client, schedule_name(follow), follow, when, target_arn):
            logger.info("follow-up %s %d scheduled at %s", follow.vigil, follow.count, when.isoformat())

    def create(self, client: Any, name: str, payload: BaseModel, when: datetime, target_arn: str) -> bool:
        """One one-shot schedule invoking `target_arn` with `payload` at `when`; True when it exists now."""
        assert self.group and self.role_arn and self.dead_letter_arn
        request = schedule_request(
            name, payload.model_dump_json(), when, target_arn, self.role_arn, self.group, self.dead_letter_arn
        )
        return schedule(client, request)

    def ack_paragraph(self, alarm_arn: str, at: str, routes: Sequence[str]) -> str | None:
        """The e-mail's acknowledgement link, `by` the routes paged (not in the SMS: the link would take
        most of its segment); None without the function or its key, which costs the link, not the page."""
        if not (self.ack_url and self.ack_secret):
            return None
        try:
            key = ack_token.key(self.ack_secret)
        except Exception as exc:
            logger.error("no acknowledgement link: the key could not be read (%s)", str(exc)[:300])
            return None
        url = ack_token.link(self.ack_url, key, alarm_arn, at, ",".join(routes), clock())
        return f"Acknowledge (stops the repeats and escalation; the OK page says who):\n{url}"


def begin(
    paging: Paging,
    store: StateTable,
    scheduler: Callable[[], Any],
    event: AlarmEvent,
    target_arn: str | None,
    routes: Sequence[str],
) -> str | None:
    """A page about to go out: for an ALARM's first page to routes that repeat or escalate, record it,
    schedule its follow-ups and answer the acknowledgement link's paragraph; for an OK, who acknowledged
    the ALARM it ends. None: nothing to add to the e-mail."""
    at = stamp(event)
    if not paging.enabled or event.alarm_arn is None or at is None:
        return None
    if event.state is AlarmState.ok:
        return acknowledged_line(Record.of(store.get(record_key(event.alarm_arn))), event)
    now = clock()
    planned = first_followups(paging.policy, event, datetime.fromtimestamp(now, UTC))
    if not planned or target_arn is None:
        return None
    store.renew(record_item(event, now), same="at", remove=["acked_by", "acked_at"])
    client = scheduler()
    for each in planned:
        paging.schedule(client, each, target_arn)
    return paging.ack_paragraph(event.alarm_arn, at, routes)


class FollowUp(BaseModel):
    """The payload a one-shot schedule invokes the notifier with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vigil: Literal["repeat", "escalate"]
    alarm_arn: str = Field(min_length=1)
    at: str = Field(min_length=1)  # the ALARM's state timestamp (vigil.notifier.state.stamp)
    count: int = Field(ge=1)  # the page's number for this ALARM: the first repeat is 2
    routes: list[str] = Field(min_length=1)
    after: int = 0  # escalations: the minutes without acknowledgement, for the page's words


def is_followup(event: Any) -> bool:
    return isinstance(event, dict) and event.get("vigil") in ("repeat", "escalate")


def first_followups(p: Policy, event: AlarmEvent, now: datetime) -> list[tuple[datetime, FollowUp]]:
    """For an ALARM just paged: when to repeat it and escalate it, if its routes ask for either."""
    at = stamp(event)
    if event.state is not AlarmState.alarm or event.meta is None or event.alarm_arn is None or at is None:
        return []
    routes, severity = event.meta.routes, event.meta.severity
    planned: list[tuple[datetime, FollowUp]] = []
    every = p.interval(routes, severity)
    if every and p.max_repeats:
        repeat = FollowUp(
            vigil="repeat", alarm_arn=event.alarm_arn, at=at, count=2, routes=p.repeating(routes, severity)
        )
        planned.append((now + timedelta(seconds=every), repeat))
    for target, after in p.escalations(routes):
        escalate = FollowUp(
            vigil="escalate", alarm_arn=event.alarm_arn, at=at, count=1, routes=[target], after=after // 60
        )
        planned.append((now + timedelta(seconds=after), escalate))
    return planned


def next_repeat(p: Policy, done: FollowUp, alarm: AlarmEvent, now: datetime) -> tuple[datetime, FollowUp] | None:
    """The repeat after `done`, unless that was the last one."""
    every = p.interval(done.routes, alarm.meta.severity) if alarm.meta else None
    if done.vigil != "repeat" or every is None or done.count > p.max_repeats:
        return None
    return now + timedelta(seconds=every), done.model_copy(update={"count": done.count + 1})


def schedule_name(f: FollowUp) -> str:
    """Unique per ALARM, kind, number and (escalations) target; Scheduler allows 64 characters."""
    digest = hashlib.sha256(f"{f.alarm_arn}\n{f.at}\n{','.join(f.routes)}".encode()).hexdigest()[:40]
    return f"{f.vigil}-{digest}-{f.count}"


def schedule_request(
    name: str, payload: str, when: datetime, target_arn: str, role_arn: str, group: str, dead_letter_arn: str
) -> dict[str, Any]:
    """CreateSchedule's arguments: a one-shot `at()` in UTC, deleted once it has run; what Scheduler
    could not deliver goes to `dead_letter_arn`."""
    return {
        "Name": name,
        "GroupName": group,
        "ScheduleExpression": f"at({when.astimezone(UTC):%Y-%m-%dT%H:%M:%S})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": target_arn,
            "RoleArn": role_arn,
            "Input": payload,
            "DeadLetterConfig": {"Arn": dead_letter_arn},
            "RetryPolicy": {
                "MaximumRetryAttempts": SCHEDULE_RETRIES,
                "MaximumEventAgeInSeconds": SCHEDULE_MAX_AGE_SECONDS,
            },
        },
    }


def schedule(client: Any, request: dict[str, Any]) -> bool:
    """Create the schedule; True when it exists now (created, or by an earlier attempt). Never raises:
    a schedule that could not be made costs a repeat, never the page being sent."""
    try:
        client.create_schedule(**request)
    except Exception as exc:
        if error_code(exc) == "ConflictException":
            return True
        logger.error(
            "could not schedule a follow-up page (%s: %s)",
            type(exc).__name__,
            str(exc)[:300],
            extra={"schedule": request["Name"]},
        )
        return False
    return True


# --- the alarm's paging record --------------------------------------------------------------------


def record_key(alarm_arn: str) -> Key:
    return Key(f"alarm#{alarm_arn}", RECORD)


@dataclass(frozen=True)
class Record:
    at: str  # the ALARM being repeated
    acked_by: str | None = None
    acked_at: str | None = None

    @classmethod
    def of(cls, item: dict[str, Any] | None) -> Record | None:
        if not item or "at" not in item:
            return None
        return cls(
            at=item["at"]["S"],
            acked_by=item.get("acked_by", {}).get("S"),
            acked_at=item.get("acked_at", {}).get("S"),
        )


def record_item(event: AlarmEvent, now: float) -> dict[str, dict[str, str]]:
    at = stamp(event)
    assert at is not None
    return {
        "pk": {"S": alarm_partition(event)},
        "sk": {"S": RECORD},
        "at": {"S": at},
        "expires_at": {"N": str(int(now) + RECORD_TTL_SECONDS)},
    }


def acknowledged_line(record: Record | None, event: AlarmEvent) -> str | None:
    """For a page after an acknowledged ALARM (its OK, or a repeat racing the ack): who and when."""
    at = stamp(event)
    if record is None or record.acked_by is None or at is None or record.at > at:
        return None
    return f"Acknowledged by {record.acked_by} at {record.acked_at} (ALARM of {record.at})."


# --- a follow-up fires ----------------------------------------------------------------------------


def alarm_name_of(arn: str) -> str:
    return arn.split(":alarm:", 1)[-1]


def described_event(alarm: dict[str, Any], arn: str) -> AlarmEvent:
    """The alarm as DescribeAlarms tells it now, in the shape the renderer takes."""
    human, meta = decode_description(alarm.get("AlarmDescription"))
    changed = alarm.get("StateTransitionedTimestamp") or alarm.get("StateUpdatedTimestamp")
    parts = arn.split(":")
    return AlarmEvent(
        source="scheduler",
        alarm_name=alarm["AlarmName"],
        alarm_arn=arn,
        region=parts[3] if len(parts) > 4 else None,
        account=parts[4] if len(parts) > 4 else None,
        state=AlarmState(alarm["StateValue"]),
        reason=alarm.get("StateReason", ""),
        state_time=changed,
        threshold=alarm.get("Threshold"),
        comparison=alarm.get("ComparisonOperator"),
        metric_name=alarm.get("MetricName"),
        namespace=alarm.get("Namespace"),
        statistic=alarm.get("Statistic"),
        period=alarm.get("Period"),
        evaluation_periods=alarm.get("EvaluationPeriods"),
        datapoints_to_alarm=alarm.get("DatapointsToAlarm"),
        treat_missing_data=alarm.get("TreatMissingData"),
        description=human,
        meta=meta,
        alarm_rule=alarm.get("AlarmRule"),
    )


def describe(cloudwatch: Any, arn: str) -> AlarmEvent | None:
    """The alarm now (metric or composite); None when it is gone."""
    answer = cloudwatch.describe_alarms(AlarmNames=[alarm_name_of(arn)], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    found = answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])
    return described_event(found[0], arn) if found else None


def why_stop(f: FollowUp, now: AlarmEvent | None, record: Record | None) -> str | None:
    """Why this follow-up pages no one: the alarm is gone, left that ALARM, or someone acknowledged it."""
    over = episode_over(f.at, now)
    if over:
        return over
    if record is not None and record.at == f.at and record.acked_by:
        return f"acknowledged by {record.acked_by} at {record.acked_at}"
    return None


def episode_over(at: str, now: AlarmEvent | None) -> str | None:
    """Why the ALARM of `at` is over, given the alarm as it is `now`: gone, not in ALARM, or in a newer ALARM."""
    if now is None:
        return "the alarm no longer exists"
    if now.state is not AlarmState.alarm:
        return f"the alarm is {now.state.value} now"
    if now.state_time is not None and now.state_time - moment(at) > SAME_CHANGE_TOLERANCE:
        return f"the alarm entered a newer ALARM at {stamp(now)}, which has its own pages"
    return None


def moment(at: str) -> datetime:
    """A state timestamp (vigil.notifier.state.stamp) back as a datetime."""
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def follow_up_form(notification: Notification, f: FollowUp, p: Policy) -> Notification:
    """The page's text with what kind of page it is in front: REPEAT n, or ESCALATED."""
    if f.vigil == "repeat":
        head = f"REPEAT {f.count}: "
        first = f"REPEAT {f.count} of at most {p.max_repeats + 1}: still in ALARM and not acknowledged."
    else:
        head = "ESCALATED: "
        first = f"ESCALATED: not acknowledged within {f.after} minutes of the ALARM."
    return headed(notification, head, first)


def headed(notification: Notification, head: str, first: str) -> Notification:
    """`head` in front of the subject and SMS, `first` as the e-mail's first paragraph."""
    return notification.model_copy(
        update={
            "subject": fit_subject(head, notification.subject),
            "sms": fit_sms(head, notification.sms, "", []),
            "email": f"{first}\n\n{notification.email}",
        }
    )


def with_line(notification: Notification, line: str) -> Notification:
    """The e-mail with one more paragraph at its end (the SMS stays as it is: one segment)."""
    return notification.model_copy(update={"email": f"{notification.email.rstrip()}\n\n{line}\n"})
