"""Per-route outputs as `_settings.yaml` declares them: one model per output type.

Synth validates the catalog with these models (infra/settings.py puts a list of them on each
route), and the notifier builds its outputs from the same models at run time, so a route that
deployed is a route the notifier can read.

Credentials are never here: `credentials_secret` names an entry of the settings' `secrets:` map, which
holds a Secrets Manager name or ARN. Webhook URLs are credentials too (anyone holding a Slack or
Teams webhook URL can post to the channel), so they live in the secret, not in the catalog.
What each secret must hold is in docs/outputs.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from vigil.spec.common import Severity, Slug, StrictModel

# The incident fields the ServiceNow output writes itself: `fields` may not set them.
SERVICENOW_MANAGED_FIELDS = frozenset(
    {
        "short_description",
        "description",
        "correlation_id",
        "correlation_display",
        "urgency",
        "impact",
        "priority",
        "state",
        "close_code",
        "close_notes",
        "work_notes",
    }
)
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def check_base_url(url: str) -> str:
    """https://host[:port] with no credentials, path, query or fragment; http only on loopback (tests)."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (user:password@): put them in the credentials secret")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        raise ValueError(f"found {url!r}; allowed: an https:// URL such as https://acme.service-now.com")
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"found {url!r}; allowed: the instance's base URL only, such as https://acme.service-now.com")
    return f"{parts.scheme}://{parts.netloc}"


def _covers_every_severity(value: dict[Severity, object]) -> dict[Severity, object]:
    missing = [s.value for s in Severity if s not in value]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}: map every severity")
    return value


class OutputBase(StrictModel):
    type: str
    name: Slug | None = Field(
        default=None, description="how results and 'output is down' pages name this output; default: its type"
    )
    credentials_secret: Slug = Field(
        description="a name under `secrets:` in _settings.yaml; the secret holds the credentials"
    )

    @property
    def label(self) -> str:
        return self.name or self.type


class ImpactUrgency(StrictModel):
    impact: int = Field(ge=1, le=3, description="1 high, 2 medium, 3 low")
    urgency: int = Field(ge=1, le=3, description="1 high, 2 medium, 3 low")


class ServiceNowOutput(OutputBase):
    """Incidents through the Table API: create on ALARM, work note on repeats, resolve on OK."""

    type: Literal["servicenow"]
    instance: Annotated[str, AfterValidator(check_base_url)] = Field(
        description="the instance's base URL, such as https://acme.service-now.com"
    )
    auth: Literal["basic", "bearer"] = Field(
        default="basic",
        description="basic: the secret holds username and password; bearer: it holds an OAuth access token as token",
    )
    # Base-system priority matrix: impact 2 + urgency 1 is priority 2 (High), 3 + 2 is 4 (Low).
    severity_map: Annotated[dict[Severity, ImpactUrgency], AfterValidator(_covers_every_severity)] = Field(
        default_factory=lambda: {
            Severity.critical: ImpactUrgency(impact=2, urgency=1),
            Severity.warning: ImpactUrgency(impact=3, urgency=2),
        },
        description="impact and urgency per severity; ServiceNow derives the priority from them",
    )
    close_code: str = Field(
        default="Resolved by caller",
        min_length=1,
        max_length=40,
        description="resolution code set on OK (older releases call it 'Closed/Resolved by Caller')",
    )
    fields: dict[str, Annotated[str, Field(max_length=255)]] = Field(
        default_factory=dict,
        description="fixed incident fields set on create, such as assignment_group, caller_id, category, cmdb_ci",
    )

    @field_validator("fields")
    @classmethod
    def _own_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name in SERVICENOW_MANAGED_FIELDS:
                raise ValueError(f"{name!r} is set by vigil itself; allowed: other incident fields")
            if not _FIELD_NAME.match(name):
                raise ValueError(f"{name!r} is not a field name: use the column name, such as assignment_group")
        return value


class PagerDutyOutput(OutputBase):
    """PagerDuty Events API v2: trigger on ALARM (dedup_key = correlation id), resolve on OK."""

    type: Literal["pagerduty"]
    region: Literal["us", "eu"] = Field(default="us", description="the account's service region (events endpoint)")
    severity_map: Annotated[
        dict[Severity, Literal["critical", "error", "warning", "info"]], AfterValidator(_covers_every_severity)
    ] = Field(
        default_factory=lambda: {Severity.critical: "critical", Severity.warning: "warning"},
        description="PagerDuty severity per vigil severity",
    )


class SlackOutput(OutputBase):
    """A Slack channel through an incoming webhook (its URL is in the secret)."""

    type: Literal["slack"]


class TeamsOutput(OutputBase):
    """A Microsoft Teams channel through a Workflows webhook, as an Adaptive Card (its URL is in the secret)."""

    type: Literal["teams"]


class WebhookOutput(OutputBase):
    """Any HTTPS endpoint, with vigil's versioned JSON body (docs/outputs.md); URL and signing key in the secret."""

    type: Literal["webhook"]


_OUTPUT_MODELS = (ServiceNowOutput, PagerDutyOutput, SlackOutput, TeamsOutput, WebhookOutput)
OUTPUT_TYPE_NAMES = tuple(get_args(model.model_fields["type"].annotation)[0] for model in _OUTPUT_MODELS)


def _known_type(value: Any) -> Any:
    """The catalog's own wording for a missing or misspelt type, before pydantic's tagged-union message."""
    if isinstance(value, dict) and value.get("type") not in OUTPUT_TYPE_NAMES:
        found = repr(value["type"]) if "type" in value else "nothing"
        raise ValueError(f"type: found {found}; allowed: {', '.join(OUTPUT_TYPE_NAMES)}")
    return value


OutputConfig = Annotated[
    ServiceNowOutput | PagerDutyOutput | SlackOutput | TeamsOutput | WebhookOutput,
    Field(discriminator="type"),
    BeforeValidator(_known_type),
]


def _unique_labels(outputs: list[OutputConfig]) -> list[OutputConfig]:
    seen: set[str] = set()
    for output in outputs:
        if output.label in seen:
            raise ValueError(
                f"two outputs are named {output.label!r}: give each a distinct name (name: defaults to the type)"
            )
        seen.add(output.label)
    return outputs


RouteOutputs = Annotated[list[OutputConfig], AfterValidator(_unique_labels)]
