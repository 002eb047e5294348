"""Maintenance windows in the catalog: per team or service in _settings.yaml, per service or check in a
service file; resolved to the compact `Window` list that the stack's mute rules and the notifier share.

    # _settings.yaml                              # checks/campaign-db.yaml
    windows:                                       windows:
      sqlserver-patching:                            nightly-reindex:
        teams: [campaigns]                             cron: 30 1 * * *
        cron: 0 2 * * SUN                              duration: 30m
        duration: 2h                                   checks: [campaign-db-errors]   # omitted: the whole service
        timezone: Europe/London

A team's window covers the services of the files that name that team; a service file's window,
that service or the checks it lists. Names are unique in the catalog: each is the mute rule's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import Field, model_validator

from vigil.silences.windows import Window, WindowTiming
from vigil.spec.common import CheckBase, Slug


class TeamWindow(WindowTiming):
    """A window in _settings.yaml: for every service of some teams, or some services."""

    teams: list[Slug] | None = Field(default=None, description="the services of these teams' files")
    services: list[Slug] | None = Field(default=None, description="these services")
    description: str | None = Field(default=None, max_length=300, description="what happens in the window")

    @model_validator(mode="after")
    def _scoped(self) -> TeamWindow:
        if not self.teams and not self.services:
            raise ValueError("a window in _settings.yaml needs teams or services: what it silences")
        return self


class ServiceWindow(WindowTiming):
    """A window in a service file: for the whole service, or the checks it lists."""

    checks: list[Slug] | None = Field(default=None, description="these checks of the file; omitted: all of them")
    description: str | None = Field(default=None, max_length=300, description="what happens in the window")


@dataclass(frozen=True)
class Declared:
    """A service file's window, with the file it came from."""

    file: str
    service: str
    name: str
    window: ServiceWindow


@dataclass(frozen=True)
class WindowProblem:
    file: str
    field: str
    message: str


def resolve(
    settings_file: str,
    team_windows: dict[str, TeamWindow],
    declared: list[Declared],
    checks: list[CheckBase],
    origin: dict[str, str],
) -> tuple[list[Window], list[WindowProblem]]:
    """Every window with the checks and services it covers, and what is wrong with any of them."""
    problems: list[WindowProblem] = []
    windows: list[Window] = []
    teams = {c.team for c in checks if c.team}
    services = {c.service for c in checks}
    seen: dict[str, str] = {}
    for name, spec in team_windows.items():
        seen[name] = settings_file
        unknown_teams = sorted(set(spec.teams or []) - teams)
        unknown_services = sorted(set(spec.services or []) - services)
        for what, unknown, known in (("teams", unknown_teams, teams), ("services", unknown_services, services)):
            if unknown:
                problems.append(
                    WindowProblem(
                        settings_file,
                        f"windows.{name}.{what}",
                        f"unknown {what[:-1]}(s) {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}",
                    )
                )
        covered = {c.service for c in checks if c.team in (spec.teams or [])} | set(spec.services or [])
        windows.append(_window(name, spec, services=sorted(covered)))
    for entry in declared:
        if entry.name in seen:
            problems.append(
                WindowProblem(
                    entry.file,
                    f"windows.{entry.name}",
                    f"duplicate window name: already defined in {seen[entry.name]} (a name is its mute rule's name)",
                )
            )
            continue
        seen[entry.name] = entry.file
        listed = entry.window.checks
        if listed is None:
            windows.append(_window(entry.name, entry.window, services=[entry.service]))
            continue
        own = sorted(c for c, file in origin.items() if file == entry.file)
        stray = [c for c in listed if c not in own]
        if stray:
            problems.append(
                WindowProblem(
                    entry.file,
                    f"windows.{entry.name}.checks",
                    f"not a check of this file: {', '.join(stray)}; its checks: {', '.join(own) or 'none'}",
                )
            )
        windows.append(_window(entry.name, entry.window, checks=sorted(set(listed))))
    return sorted(windows, key=lambda w: w.name), problems


def _window(
    name: str, spec: WindowTiming, *, checks: list[str] | None = None, services: list[str] | None = None
) -> Window:
    timing = spec.model_dump(include=set(WindowTiming.model_fields))
    return Window(name=name, checks=checks or [], services=services or [], **timing)


def in_force(windows: list[Window], now: datetime) -> list[Window]:
    """The windows still to come or open: a one-time window that has ended mutes nothing any more."""
    return [w for w in windows if not w.ended_by(now)]
