"""Alarm names and the metadata a vigil alarm carries to the notifier.

The notifier must know, for any alarm, which check and signal it belongs to, the service,
severity, routes, runbook and rule in words. That travels inside the alarm itself (its
description), so adding a check adds one self-contained alarm and touches nothing else.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, ValidationError

from vigil.text import clip

MARKER = "\n--vigil--\n"
SELF_KIND = "self"  # AlarmMeta.kind of vigil's own alarms, which page the self-monitoring route directly
DESCRIPTION_LIMIT = 1024  # CloudWatch's AlarmDescription limit


class EcsEventsRef(BaseModel):
    """Where the notifier finds an ECS service's stopped tasks and failed deployments (kind `ecs`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    cluster: str
    service: str
    tasks: str  # the log group of the watched services' stopped-task events
    deployments: str  # the log group of their failed deployments


class AlarmMeta(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    check: str
    signal: str
    service: str
    severity: str
    routes: list[str]
    summary: str = ""  # what the signal means, "messages waiting in the queue"
    rule: str = ""  # the rule in words, "> 500 messages for 3 of 3 minutes"
    unit: str = ""
    runbook: str | None = None
    kind: str = ""
    # The alarm whose ALARM holds back this signal's pages (docs/catalog.md, Inhibition), how long the
    # notifier holds an ALARM back for it (its N periods: the time it takes to alarm), and how often it
    # looks again while that alarm is in ALARM (this signal's N periods: time to recover with it).
    inhibited_by: str | None = None
    inhibit_wait: int | None = None
    inhibit_extension: int | None = None
    # The log group of the checker's runs, where the notifier finds the last run's reason and samples.
    logs: str | None = None
    # An ECS service's events, which the notifier quotes instead (Lambda-free kind `ecs`).
    ecs: EcsEventsRef | None = None


def alarm_name(env: str, check_id: str, signal: str) -> str:
    return f"vigil-{env}-{check_id}-{signal}"


def encode_description(text: str | None, meta: AlarmMeta) -> str:
    """Human text first (what the console shows), the machine-readable trailer after the marker."""
    trailer = MARKER + json.dumps(meta.model_dump(exclude_none=True), separators=(",", ":"), sort_keys=True)
    room = DESCRIPTION_LIMIT - len(trailer)
    if room < 0:
        raise ValueError(f"alarm metadata for {meta.check}/{meta.signal} is {len(trailer)} characters, over 1024")
    return clip((text or meta.summary or "").strip(), room) + trailer


def decode_description(description: str | None) -> tuple[str, AlarmMeta | None]:
    """(human text, metadata or None when the alarm is not vigil's or the trailer is damaged)."""
    if not description or MARKER not in description:
        return (description or "", None)
    human, _, trailer = description.rpartition(MARKER)
    try:
        return human, AlarmMeta.model_validate_json(trailer)
    except ValidationError:
        return human, None
