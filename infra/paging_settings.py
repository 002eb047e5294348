"""The `paging:` block of checks/_settings.yaml: how the notifier paces pages (docs/catalog.md, Paging).

Its own module so that other paging fields (repeats, acknowledgements) sit beside `group_wait`
without touching the rest of the settings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from vigil.spec.common import StrictModel, parse_duration

# SQS DelaySeconds, which carries the wait, allows at most 15 minutes.
GROUP_WAIT_MAX_SECONDS = 900


class Paging(StrictModel):
    group_wait: Annotated[int, BeforeValidator(parse_duration), Field(ge=0, le=GROUP_WAIT_MAX_SECONDS)] = Field(
        default=30,
        description="how long the first alarm change of a service waits for others of the same service, "
        "so that a burst becomes one page listing them (Alertmanager's group_wait); "
        "0s to 15m (such as 30s), 0 pages every change on its own at once",
    )
