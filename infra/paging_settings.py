"""The `paging:` block of checks/_settings.yaml: how the notifier paces pages (docs/catalog.md, Paging).

Its own module so that other paging fields (repeats, acknowledgements) sit beside `group_wait`
without touching the rest of the settings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from vigil.spec.common import Duration, Severity, StrictModel, parse_duration

# SQS DelaySeconds, which carries the wait, allows at most 15 minutes.
GROUP_WAIT_MAX_SECONDS = 900


class Paging(StrictModel):
    group_wait: Annotated[int, BeforeValidator(parse_duration), Field(ge=0, le=GROUP_WAIT_MAX_SECONDS)] = Field(
        default=30,
        description="how long the first alarm change of a service waits for others of the same service, "
        "so that a burst becomes one page listing them (Alertmanager's group_wait); "
        "0s to 15m (such as 30s), 0 pages every change on its own at once",
    )
    # Repeats of an ALARM still standing, until OK or acknowledged (docs/operations.md, Repeats and
    # acknowledgement); routes may override repeat_every and add an escalation (infra/settings.py Route).
    repeat_every: dict[Severity, Duration | None] = Field(
        default_factory=lambda: {Severity.critical: 1800},
        description="per severity, how often an unacknowledged ALARM pages again; default critical 30m, warning never",
    )
    max_repeats: int = Field(default=6, ge=1, le=48, description="repeats after the first page, at most")
