"""`make demo`, step "a ServiceNow incident is created, updated and resolved on the fake server".

The demo's route has a ServiceNow output pointing at the fake instance (infra/fake_servicenow.py,
the Table API's incident table on 127.0.0.1), its credentials in a Secrets Manager secret in moto.
Every ALARM of the simulation opens an incident and every OK resolves it, through the real notifier
and the real output. Then one more story for one alarm: it fails again (a new incident), its checker
stops reporting (INSUFFICIENT_DATA: nobody is paged and the incident stays open), it reports the
failure again (ALARM again: a work note on the same incident), and it is fixed (resolved).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from infra.alarm_model import AlarmState
from infra.fake_servicenow import FakeServiceNow

OUTPUT = "demo-servicenow"
SECRET_NAME = "demo-servicenow"  # under secrets: in the demo's _settings.yaml
SECRET_ID = "vigil/demo/servicenow"
USER, PASSWORD = "vigil.integration", "demo-only-password"
# The story's states, one a minute; INSUFFICIENT_DATA reaches no one (vigil's alarms have no action
# for it, and the EventBridge rule takes ALARM and OK only).
STORY = (AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA, AlarmState.ALARM, AlarmState.OK)


def authorization() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode("ascii")


def output_spec(instance: str) -> dict[str, Any]:
    """The route's output, as _settings.yaml declares it."""
    return {
        "type": "servicenow",
        "name": OUTPUT,
        "instance": instance,
        "credentials_secret": SECRET_NAME,
        "fields": {"caller_id": "vigil.integration", "assignment_group": "L2 Operations"},
    }


def create_secret(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name=SECRET_ID, SecretString=json.dumps({"username": USER, "password": PASSWORD}))


def _snapshot(fake: FakeServiceNow) -> dict[str, tuple[str, int]]:
    return {i["number"]: (i["state"], len(i["journal"])) for i in fake.incidents.values()}


def _changes(fake: FakeServiceNow, before: dict[str, tuple[str, int]]) -> list[str]:
    """What the instance saw happen to its incidents since `before`, in words."""
    found = []
    for incident in sorted(fake.incidents.values(), key=lambda i: i["number"]):
        number, state, notes = incident["number"], incident["state"], len(incident["journal"])
        if number not in before:
            found.append(f"created {number} ({incident['short_description']})")
            continue
        old_state, old_notes = before[number]
        if notes > old_notes:
            found.append(f"work note on {number}: {incident['journal'][-1]}")
        if state != old_state and state == "6":
            found.append(f"resolved {number} ({incident['close_code']})")
    return found


def run_story(
    notify: Callable[[AlarmState, AlarmState, int], None], fake: FakeServiceNow, first_minute: int
) -> list[str]:
    """Drive one alarm through STORY (notify(new, old, minute) hands each change to the notifier as
    CloudWatch would); what the instance did at each step, in words."""
    lines = []
    previous = AlarmState.OK
    for offset, state in enumerate(STORY):
        minute = first_minute + offset
        before = _snapshot(fake)
        if state is AlarmState.INSUFFICIENT_DATA:
            lines.append(f"minute {minute}: {previous} -> {state}: no action, nobody paged; the incident stays open")
        else:
            notify(state, previous, minute)
            done = "; ".join(_changes(fake, before)) or "nothing"
            lines.append(f"minute {minute}: {previous} -> {state}: {done}")
        previous = state
    return lines


def print_servicenow_step(fake: FakeServiceNow, story: list[str], out: Any) -> bool:
    """The printed step; True when an incident was created, updated and resolved, and the fake found
    nothing wrong in any request."""
    out(f"\n== a ServiceNow incident is created, updated and resolved on the fake server ({fake.base_url})")
    incidents = sorted(fake.incidents.values(), key=lambda i: i["number"])
    for incident in incidents:
        state = "resolved" if incident["state"] == "6" else "open"
        out(f"   {incident['number']} {state}: {incident['short_description']} [{incident['correlation_id']}]")
    out("   one alarm's story:")
    for line in story:
        out(f"   {line}")
    out(f"   {len(fake.requests)} Table API requests; problems the fake found in them: {len(fake.problems)}")
    for problem in fake.problems:
        out(f"   problem: {problem}")
    text = "\n".join(story)
    return not fake.problems and all(word in text for word in ("created INC", "work note on INC", "resolved INC"))
