"""`make demo`, step "an ad-hoc silence ends with its alarm still in ALARM".

After the repeats story, on the same alarm and simulated time: `python -m infra silence` would write
an ad-hoc silence of the check to the state table (the demo writes the same item); the alarm enters
ALARM under it and pages nobody, but the notifier creates a one-shot schedule at the silence's end
in moto's Scheduler. The demo plays Scheduler as the repeats step does (infra/demo_repeats.py): at
the schedule's at() time it invokes the notifier with the schedule's Input, and the ALARM, still
standing, pages then, saying which silence held it; its recovery afterwards pages as any does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from infra.alarm_events import eventbridge_event
from infra.demo_repeats import Clock, Stage, email, schedules, set_state, simulated, subjects, when
from vigil.notifier import repeats, silence_end
from vigil.silences.adhoc import AdhocSilence

SILENCE_ID = "demo01"
SILENCE_MINUTES = 30
ALARM_AFTER = timedelta(minutes=5)  # into the silence
RECOVERY_AFTER = timedelta(minutes=10)  # after the silence's end


@dataclass
class Story:
    lines: list[str] = field(default_factory=list)
    held_quietly: bool = False
    paged_at_end: bool = False
    recovered: bool = False

    def log(self, clock: Clock, start: float, text: str) -> None:
        self.lines.append(f"+{round((clock.now - start) / 60):>3} min: {text}")


def run_story(stage: Stage, dynamodb: Any, table: str, check: str, start: datetime) -> Story:
    """Silence `check` from `start`, raise the stage's alarm under it, fire the schedule at its end, then recover."""
    from vigil.notifier import handler as notifier  # after the demo set the notifier's log level

    story = Story()
    context = SimpleNamespace(invoked_function_arn=stage.function_arn, aws_request_id="demo-silence-end")
    group = repeats.Paging.from_env().group
    clock = Clock(start.timestamp())
    silence = AdhocSilence(
        id=SILENCE_ID,
        target="check",
        name=check,
        reason="deploying the API",
        created_by="bob",
        start=start,
        until=start + timedelta(minutes=SILENCE_MINUTES),
    )
    dynamodb.put_item(TableName=table, Item=silence.to_item())
    with simulated(clock):
        story.log(clock, clock.now, f"silence {SILENCE_ID}: check {check} silenced for {SILENCE_MINUTES} min by bob")
        began = clock.now
        clock.now += ALARM_AFTER.total_seconds()
        set_state(stage.cloudwatch, stage.alarm, "ALARM")
        raised = stage.event_for("ALARM", datetime.fromtimestamp(clock.now, UTC))
        before = len(stage.published)
        notifier.handler(raised, context)
        notifier.handler(eventbridge_event(raised), context)
        ends = [s for name, s in schedules(stage.scheduler, group).items() if name.startswith(f"{silence_end.KIND}-")]
        story.held_quietly = len(stage.published) == before and len(ends) == 1
        story.log(
            clock,
            began,
            f"ALARM under the silence: {subjects(stage.published[before:])}; schedules at its end: "
            + ", ".join(s["ScheduleExpression"] for s in ends),
        )
        for schedule in ends:
            clock.now = when(schedule)
            before = len(stage.published)
            notifier.handler(json.loads(schedule["Target"]["Input"]), context)
            pages = stage.published[before:]
            story.paged_at_end = bool(pages) and all(p.get("Subject", "").startswith("SILENCE ENDED: ") for p in pages)
            first = email(pages[0]).splitlines()[0] if pages else "nothing paged"
            story.log(clock, began, f"the silence ended, the alarm still in ALARM: {subjects(pages)}; e-mail: {first}")
        clock.now += RECOVERY_AFTER.total_seconds()
        set_state(stage.cloudwatch, stage.alarm, "OK")
        before = len(stage.published)
        notifier.handler(stage.event_for("OK", datetime.fromtimestamp(clock.now, UTC)), context)
        story.recovered = any(p.get("Subject", "").startswith("[OK]") for p in stage.published[before:])
        story.log(clock, began, f"recovered: {subjects(stage.published[before:])}")
    return story


def print_step(story: Story, out: Any) -> bool:
    """The printed step; True when the ALARM was held, paged at the silence's end, and its OK paged."""
    out("\n== an ad-hoc silence ends with its alarm still in ALARM")
    out("   the notifier schedules a look at the silence's end; the demo plays Scheduler (simulated time)")
    for line in story.lines:
        out(f"   {line}")
    shown = story.held_quietly and story.paged_at_end and story.recovered
    out(
        f"   held quietly: {story.held_quietly}, paged at the end: {story.paged_at_end}, recovery paged: {story.recovered}"
    )
    return shown
