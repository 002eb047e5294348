"""The catalog's global settings: contacts, routes, secrets and defaults (checks/_settings.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from infra.paging_settings import Paging
from infra.windows import TeamWindow
from vigil.outputs.config import RouteOutputs
from vigil.spec.common import Duration, Severity, Slug, StrictModel, worded

E164 = worded(
    r"^\+[1-9]\d{6,14}$",
    "an E.164 phone number: + then 7 to 15 digits from the country code on, no spaces, such as +447700900123",
)
EMAIL = worded(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address such as oncall@example.com")
# A reference only: the secret's value stays in Secrets Manager (a value here would be in git and the template).
SECRET_REF = worded(
    r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+|[A-Za-z0-9/_+=.@-]{1,512})$",
    "a Secrets Manager secret name (1 to 512 letters, digits and / _ + = . @ -) or a secret ARN, "
    "starting with arn:aws:secretsmanager:<region>:<12-digit account>:secret:",
)


class Contact(StrictModel):
    email: Annotated[str, Field(pattern=EMAIL)] | None = None
    sms: Annotated[str, Field(pattern=E164, description="E.164 phone number, such as +447700900123")] | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if self.email is None and self.sms is None:
            raise ValueError("a contact needs an email, an sms number, or both")
        return self


class Route(StrictModel):
    """Who gets what: checks of these teams/services and severities go to these contacts."""

    teams: list[Slug] | None = Field(default=None, description="match checks of these teams; omitted: any team")
    services: list[Slug] | None = Field(default=None, description="match these services; omitted: any service")
    severities: list[Severity] = Field(default=[Severity.critical, Severity.warning], min_length=1)
    email: list[Slug] = Field(default=[], description="contacts who receive the full e-mail")
    sms: list[Slug] = Field(default=[], description="contacts who receive the short SMS text")
    outputs: RouteOutputs = Field(
        default=[], description="ServiceNow, PagerDuty, Slack, Teams or webhook outputs (docs/outputs.md)"
    )
    repeat_every: dict[Severity, Duration | None] = Field(
        default_factory=dict,
        description="per severity, overrides paging.repeat_every for this route's alarms; null: no repeats",
    )
    escalate_to: Slug | None = Field(
        default=None, description="route paged when an ALARM sent here is not acknowledged within escalate_after"
    )
    escalate_after: Duration = Field(default=900, description="how long an ALARM may go unacknowledged (default 15m)")
    continue_: bool = Field(
        default=False,
        alias="continue",
        description="routing: first_match only: after this route matches, go on matching the routes below it",
    )

    @model_validator(mode="after")
    def _someone(self) -> Route:
        if not self.email and not self.sms and not self.outputs:
            raise ValueError(
                "a route delivers to no one: give it at least one contact under email or sms, or an entry under outputs"
            )
        return self

    def matches(self, service: str, team: str | None, severity: Severity) -> bool:
        return (
            severity in self.severities
            and (self.services is None or service in self.services)
            and (self.teams is None or (team is not None and team in self.teams))
        )

    def covers(self, other: Route) -> bool:
        """Whether every alarm `other` matches, this route matches too."""
        return (
            set(other.severities) <= set(self.severities)
            and (self.services is None or (other.services is not None and set(other.services) <= set(self.services)))
            and (self.teams is None or (other.teams is not None and set(other.teams) <= set(self.teams)))
        )

    def describe(self) -> str:
        """Its matchers in words: 'teams campaigns, any service, severities critical'."""
        teams = f"teams {', '.join(self.teams)}" if self.teams is not None else "any team"
        services = f"services {', '.join(self.services)}" if self.services is not None else "any service"
        return f"{teams}, {services}, severities {', '.join(s.value for s in self.severities)}"


class AlarmDefaults(StrictModel):
    evaluation_periods: int | None = Field(default=None, ge=1, le=100)
    datapoints_to_alarm: int | None = Field(default=None, ge=1, le=100)


class Defaults(StrictModel):
    cadence: Duration = 300
    alarm: AlarmDefaults = AlarmDefaults()


class Settings(StrictModel):
    defaults: Defaults = Defaults()
    contacts: dict[Slug, Contact] = Field(min_length=1)
    routes: dict[Slug, Route] = Field(min_length=1)
    secrets: dict[Slug, Annotated[str, Field(pattern=SECRET_REF)]] = Field(
        default_factory=dict, description="name → Secrets Manager secret name or ARN; values never live here"
    )
    self_monitoring_route: Slug = Field(description="route that receives vigil's own alarms (always critical)")
    routing: Literal["additive", "first_match"] = Field(
        default="additive",
        description="additive: an alarm goes to every route that matches; first_match: to the first one, "
        "and the ones after it while the matched routes say continue (Alertmanager's routing tree)",
    )
    default_route: Slug | None = Field(
        default=None, description="catch-all: an alarm that no route matches goes to this route"
    )
    windows: dict[Slug, TeamWindow] = Field(
        default_factory=dict, description="maintenance windows for teams or services (docs/catalog.md, Windows)"
    )
    paging: Paging = Field(default_factory=Paging, description="how pages are paced (docs/catalog.md, Paging)")

    def routes_for(self, service: str, team: str | None, severity: Severity) -> list[str]:
        """The routes an alarm of this service, team and severity goes to, in the settings' order."""
        matched: list[str] = []
        for name, route in self.routes.items():
            if route.matches(service, team, severity):
                matched.append(name)
                if self.routing == "first_match" and not route.continue_:
                    break
        if not matched and self.default_route is not None:
            return [self.default_route]
        return matched


def paging_problems(settings: Settings) -> list[tuple[str, str]]:
    """(field, message) for each escalation that cannot work: to an unknown route, or to itself."""
    problems: list[tuple[str, str]] = []
    for name, route in settings.routes.items():
        if route.escalate_to is not None and route.escalate_to not in settings.routes:
            problems.append(
                (
                    f"routes.{name}.escalate_to",
                    f"unknown route {route.escalate_to!r}; routes: {', '.join(settings.routes)}",
                )
            )
        elif route.escalate_to == name:
            problems.append((f"routes.{name}.escalate_to", "a route cannot escalate to itself; name another route"))
    return problems


def routing_problems(settings: Settings) -> list[tuple[str, str]]:
    """(field, message) for each route that cannot work as written: unknown default, stray or useless
    `continue`, and, with first_match, a route no alarm can reach because one above it takes them all."""
    problems: list[tuple[str, str]] = []
    if settings.default_route is not None and settings.default_route not in settings.routes:
        problems.append(
            ("default_route", f"unknown route {settings.default_route!r}; routes: {', '.join(settings.routes)}")
        )
    routes = list(settings.routes.items())
    for index, (name, route) in enumerate(routes):
        if route.continue_ and settings.routing != "first_match":
            problems.append(
                (
                    f"routes.{name}.continue",
                    "continue applies only with routing: first_match (with the default, additive routing, "
                    "an alarm goes to every route that matches anyway)",
                )
            )
        if settings.routing != "first_match":
            continue
        for earlier, before in routes[:index]:
            if not before.continue_ and before.covers(route):
                problems.append(
                    (
                        f"routes.{name}",
                        f"unreachable: route {earlier!r} above it matches every alarm this one matches "
                        f"({route.describe()}) and has no continue, so with routing: first_match nothing reaches "
                        f"{name!r}; move it above {earlier!r}, or give {earlier!r} continue: true",
                    )
                )
                break
    return problems
