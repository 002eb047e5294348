"""`make demo`, step "a maintenance window silences an alarm".

The demo catalog gives the SQL Server error-log check a one-time window over simulated minutes
WINDOW_FROM to WINDOW_TO, in which its 823 I/O error alarms and recovers. The stack turns the window
into an alarm mute rule, which moto does not model, so `CloudWatchMutes` plays CloudWatch's part as
the demo plays its alarm evaluation: while the window is open an alarm's actions do not run; when it
ends, an alarm still in the state its action was muted in runs that action then ("How alarm mute
rules work", CloudWatch user guide). The EventBridge copy of every change reaches the notifier
regardless, and the notifier holds it back itself (vigil.notifier.silencing): the ALARM and its
recovery are summarized in the footer of the next page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.silences.windows import Window
from vigil.spec.common import CheckBase

WINDOW = "sqlserver-patching"
WINDOW_FROM, WINDOW_TO = 2, 5  # simulated minutes; the I/O error comes at minute 3


def window_spec(start: datetime, check_id: str) -> dict[str, Any]:
    """The demo catalog's window: the service file's `windows` entry (wall times in UTC)."""
    return {
        "start": (start + timedelta(minutes=WINDOW_FROM)).strftime("%Y-%m-%dT%H:%M"),
        "end": (start + timedelta(minutes=WINDOW_TO)).strftime("%Y-%m-%dT%H:%M"),
        "checks": [check_id],
        "description": "SQL Server patching: the instance restarts and logs I/O errors on the way",
    }


@dataclass
class Muted:
    window: Window
    state: str  # the state whose action was muted
    action: dict[str, Any]  # that action's SNS notification, to run when the window ends


@dataclass
class CloudWatchMutes:
    """CloudWatch's mute rules for the demo's windows, and what happened under them, for the printed step."""

    windows: Sequence[Window]
    muted: dict[str, Muted] = field(default_factory=dict)  # alarm name → its muted action
    log: list[str] = field(default_factory=list)

    def window_for(self, check: CheckBase, now: datetime) -> Window | None:
        return next((w for w in self.windows if w.covers(check.id, check.service) and w.opening(now) is not None), None)

    def act(self, check: CheckBase, alarm: str, state: str, action: dict[str, Any], minute: int, now: datetime) -> bool:
        """Whether the alarm's action runs now; a muted one is kept for the window's end."""
        window = self.window_for(check, now)
        if window is None:
            return True
        self.muted[alarm] = Muted(window, state, action)
        self.log.append(f"minute {minute}: {alarm} {state}: action muted by window {window.name}")
        return False

    def held(self, minute: int, alarm: str) -> None:
        """The notifier held back the EventBridge copy of a change whose action was muted."""
        self.log.append(f"minute {minute}: the notifier held back the EventBridge copy of {alarm}'s change")

    def ended(self, state_of: Callable[[str], str], minute: int, now: datetime) -> list[dict[str, Any]]:
        """The muted actions CloudWatch runs as windows close: alarms still in the state they were muted in."""
        due = []
        for alarm, muted in list(self.muted.items()):
            if muted.window.opening(now) is not None:
                continue
            del self.muted[alarm]
            if state_of(alarm) == muted.state:
                self.log.append(
                    f"minute {minute}: window {muted.window.name} ended, {alarm} still {muted.state}: "
                    "CloudWatch runs the muted action now"
                )
                due.append(muted.action)
        return due


def print_window_step(mutes: CloudWatchMutes, footers: list[tuple[int, str]], out: Any) -> bool:
    """The printed step; True when the window held something back and a later page's footer told of it.

    `footers`: (minute, footer line) of the pages sent from the window's start on.
    """
    out("\n== a maintenance window silences an alarm")
    for window in mutes.windows:
        span = window.opening(window.start.replace(tzinfo=UTC)) if window.start else None
        when = f"{span.start:%H:%M}–{span.end:%H:%M} UTC" if span else window.expression()
        out(
            f"   window {window.name}: {when}, checks {', '.join(window.checks)}; the stack makes it mute rule "
            f"vigil-<env>-window-{window.name}-<service file>-1 (moto does not model mute rules: the demo plays "
            "CloudWatch's part)"
        )
    for line in mutes.log:
        out(f"   {line}")
    for minute, footer in footers:
        out(f"   e-mail footer of a page at minute {minute}: {footer}")
    held = any("held back" in line for line in mutes.log)
    return held and any("held" in footer for _, footer in footers)


def footer_of(email: str) -> str | None:
    """The silence footer of a page's e-mail, as one line."""
    _, found, rest = email.partition("\nSilences:\n")
    return " ".join(line.strip() for line in rest.splitlines() if line.strip()) if found else None


def footers(emails: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """(minute, footer) of each page whose e-mail has a silence footer, the same footer once."""
    found: dict[str, int] = {}
    for minute, email in emails:
        footer = footer_of(email)
        if footer:
            found.setdefault(footer, minute)
    return [(minute, footer) for footer, minute in found.items()]
