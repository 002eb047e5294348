"""The catalog's global settings: contacts, routes, secrets and defaults (checks/_settings.yaml)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

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
