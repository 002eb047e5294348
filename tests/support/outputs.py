"""Shared pieces of the outputs' tests: alerts from the notifier's own fixtures, secrets, a fake sleep."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.notifier.events import parse_alarm, split_event
from vigil.notifier.render import LinkContext, render
from vigil.outputs.alert import Alert, build_alert
from vigil.secrets import SecretError

ALARMS = Path(__file__).resolve().parents[1] / "fixtures" / "alarms"
LINKS = LinkContext(console_region="eu-west-1", dashboard_name="vigil-prod")
# campaign-api-health / down, as the notifier receives it from EventBridge
ALARM_FIXTURE = "eventbridge_alarm.json"
OK_FIXTURE = "eventbridge_ok.json"


def alert_from(fixture: str, *, repeat: bool = False, environment: str = "prod") -> Alert:
    """The Alert the notifier would build for one of its fixture events (parsed and rendered for real)."""
    (payload,) = split_event(json.loads((ALARMS / fixture).read_text()))
    event = parse_alarm(payload)
    alert = build_alert(event, render(event, LINKS), environment=environment, links=LINKS, repeat=repeat)
    assert alert is not None
    return alert


@dataclass
class Secrets:
    """A resolver over a dict: name → secret JSON; records which names were asked for."""

    values: dict[str, dict[str, Any]]
    asked: list[str] = field(default_factory=list)

    def __call__(self, name: str) -> dict[str, Any]:
        self.asked.append(name)
        if name not in self.values:
            raise SecretError(f"secret {name}: ResourceNotFoundException")
        return self.values[name]


@dataclass
class Sleeps:
    """Stands in for time.sleep: records each wait instead of waiting."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
