"""`make demo`, step "a repeat fires twice, then stops on acknowledgement".

The demo's route repeats critical ALARMs every 30 minutes (the default policy), so the deployed
stack has the Scheduler group, the role and the acknowledgement function (infra/paging.py). The
story runs on simulated time: the notifier pages an ALARM and creates its one-shot schedules in
moto's Scheduler, which stores them but runs nothing; the demo plays Scheduler's part, moving the
clock to each schedule's `at()` time and invoking the notifier with the schedule's own Input.
After two repeats, the link in the e-mail is opened and confirmed, invoked in-process with the
event a Lambda function URL sends; the next repeat finds the acknowledgement and stops, and the
recovery page says who acknowledged.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlparse

from infra.alarm_events import eventbridge_event
from vigil.notifier import ack, repeats

ACKNOWLEDGER = "alice (on call)"


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Story:
    lines: list[str] = field(default_factory=list)
    repeats_paged: int = 0
    stopped_on_ack: bool = False
    ok_names_acknowledger: bool = False

    def log(self, clock: Clock, start: float, text: str) -> None:
        self.lines.append(f"+{round((clock.now - start) / 60):>3} min: {text}")


@contextlib.contextmanager
def simulated(clock: Clock) -> Iterator[None]:
    saved = repeats.clock, ack.clock
    repeats.clock = ack.clock = clock
    try:
        yield
    finally:
        repeats.clock, ack.clock = saved


def function_url_event(link: str, method: str, body: str = "") -> dict[str, Any]:
    """What a Lambda function URL hands its function (payload format 2.0) for this link."""
    parsed = urlparse(link)
    return {
        "version": "2.0",
        "rawPath": parsed.path or "/",
        "rawQueryString": parsed.query,
        "queryStringParameters": dict(parse_qsl(parsed.query)),
        "requestContext": {"http": {"method": method, "path": parsed.path or "/"}},
        "body": body,
        "isBase64Encoded": False,
    }


@dataclass(frozen=True)
class Stage:
    """What a Scheduler story plays on: the deployed stack's clients, its story alarm, the notifier's ARN.

    `event_for(state, at)`: CloudWatch's SNS notification of the alarm entering `state` at `at`;
    `published`: every SNS Publish the notifier made so far (grows as it publishes). The alarm's
    state in moto follows the story (moto stamps it with the real time, before the simulated one,
    so it never looks like a newer ALARM to the follow-ups).
    """

    cloudwatch: Any
    scheduler: Any
    alarm: str
    event_for: Callable[[str, datetime], dict[str, Any]]
    published: list[dict[str, Any]]
    function_arn: str


def run_story(stage: Stage, start: datetime) -> Story:
    """Page the stage's alarm at simulated time `start`, fire its repeats, acknowledge, fire the next, recover."""
    # Imported here, as the demo's simulation does: the notifier's logger reads its level
    # (POWERTOOLS_LOG_LEVEL, set by the demo's AWS environment) when the module is imported.
    from vigil.notifier import handler as notifier

    story = Story()
    context = SimpleNamespace(invoked_function_arn=stage.function_arn, aws_request_id="demo-repeats")
    group = repeats.Paging.from_env().group
    clock = Clock(start.timestamp())
    began = clock.now
    with simulated(clock):
        set_state(stage.cloudwatch, stage.alarm, "ALARM")
        first = stage.event_for("ALARM", start)
        before = len(stage.published)
        notifier.handler(first, context)
        notifier.handler(eventbridge_event(first), context)  # the EventBridge twin: deduplicated
        made = schedules(stage.scheduler, group)
        story.log(
            clock,
            began,
            f"{subjects(stage.published[before:])}; schedules created in {group}: "
            + ", ".join(f"{name[:16]}… {s['ScheduleExpression']}" for name, s in made.items()),
        )
        for count in (2, 3, 4):
            schedule = next(
                (s for name, s in schedules(stage.scheduler, group).items() if name.endswith(f"-{count}")), None
            )
            if schedule is None:
                story.log(clock, began, f"no schedule for repeat {count}: the notifier scheduled nothing more")
                break
            clock.now = when(schedule)
            before = len(stage.published)
            result = notifier.handler(json.loads(schedule["Target"]["Input"]), context)
            fired = f"schedule repeat …-{count} fired ({schedule['ActionAfterCompletion']} after completion)"
            if result["published"]:
                story.repeats_paged += 1
                story.log(clock, began, f"{fired}: {subjects(stage.published[before:])}")
            else:
                story.stopped_on_ack = result["skipped"] == 1 and not stage.published[before:]
                story.log(clock, began, f"{fired}: nothing paged, the alarm was acknowledged; no repeat {count + 1}")
            if count == 3:
                clock.now += 60
                link = _ack_link(stage.published[-1])
                if link is None:
                    story.log(clock, began, "the last page's e-mail has no acknowledgement link")
                    break
                opened = ack.handler(function_url_event(link, "GET"), None)
                confirmed = ack.handler(function_url_event(link, "POST", f"by={ACKNOWLEDGER}"), None)
                story.log(
                    clock,
                    began,
                    f"ack link opened (GET {opened['statusCode']}: a confirmation page, nothing written), "
                    f"confirmed by {ACKNOWLEDGER} (POST {confirmed['statusCode']}: {_title(confirmed['body'])})",
                )
        clock.now += 300
        set_state(stage.cloudwatch, stage.alarm, "OK")
        recovered = stage.event_for("OK", datetime.fromtimestamp(clock.now, UTC))
        before = len(stage.published)
        notifier.handler(recovered, context)
        said = [line for p in stage.published[before:] for line in email(p).splitlines() if "Acknowledged by" in line]
        story.ok_names_acknowledger = any(ACKNOWLEDGER in line for line in said)
        story.log(
            clock, began, f"{subjects(stage.published[before:])}; its e-mail: {' '.join(said) or 'no acknowledgement'}"
        )
    return story


def print_repeats_step(story: Story, out: Any) -> bool:
    """The printed step; True when two repeats went out, the third stopped on the ack, and the OK named who."""
    out("\n== a repeat fires twice, then stops on acknowledgement")
    out(
        "   moto's Scheduler stores the one-shot schedules and runs none: the demo plays Scheduler, invoking the "
        "notifier with each schedule's Input at its at() time (simulated)"
    )
    for line in story.lines:
        out(f"   {line}")
    shown = story.repeats_paged == 2 and story.stopped_on_ack and story.ok_names_acknowledger
    out(f"   repeats paged: {story.repeats_paged}, then stopped on acknowledgement: {story.stopped_on_ack}")
    return shown


def set_state(cloudwatch: Any, alarm: str, state: str) -> None:
    """Put the deployed alarm in `state`, as its evaluation would: what DescribeAlarms tells the repeats."""
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue=state, StateReason="demo: repeat story")


def schedules(scheduler: Any, group: str | None) -> dict[str, dict[str, Any]]:
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
    return {name: scheduler.get_schedule(GroupName=group, Name=name) for name in sorted(names)}


def when(schedule: dict[str, Any]) -> float:
    at = re.fullmatch(r"at\((.+)\)", schedule["ScheduleExpression"])
    assert at is not None
    return datetime.fromisoformat(at.group(1)).replace(tzinfo=UTC).timestamp()


def email(params: dict[str, Any]) -> str:
    return str(json.loads(params["Message"])["default"])


def subjects(published: list[dict[str, Any]]) -> str:
    """Which route got which subject (the route is the topic's name after the stack's prefix)."""
    prefix = os.environ.get("TOPIC_ARN_PREFIX", "")
    return (
        "; ".join(f"{p['TopicArn'].removeprefix(prefix)} got {p.get('Subject', '')!r}" for p in published) or "no page"
    )


def _ack_link(params: dict[str, Any]) -> str | None:
    return next((line for line in email(params).splitlines() if ".lambda-url." in line and "?a=" in line), None)


def _title(body: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", body)
    return found.group(1) if found else ""
