"""What the stack hands the notifier from the catalog beyond route names: windows, outputs, their secrets.

Three environment variables, compact JSON written from the same models the notifier reads them with:

    SILENCE_WINDOWS  the maintenance windows still in force (vigil.notifier.silencing)
    ROUTE_OUTPUTS    each route's outputs, routes without outputs left out (vigil.notifier.route_outputs)
    OUTPUT_SECRETS   catalog secret name → Secrets Manager id, for the outputs' secrets only

Lambda allows 4 KB for all of a function's environment variables together ("Lambda quotas",
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). The notifier's other
variables take a few hundred bytes, so these three get NOTIFIER_ENV_BUDGET, and `validate` says so
when a catalog needs more. No aws_cdk here: validate and plan use it too.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from infra.settings import Settings
from infra.windows import in_force
from vigil.notifier.route_outputs import OUTPUT_SECRETS_ENV, ROUTE_OUTPUTS_ENV
from vigil.notifier.silencing import WINDOWS_ENV
from vigil.silences.windows import Window

NOTIFIER_ENV_BUDGET = 3072


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def output_secret_names(settings: Settings) -> list[str]:
    """The catalog secret names the routes' outputs read, each once, sorted."""
    return sorted({o.credentials_secret for route in settings.routes.values() for o in route.outputs})


def notifier_environment(settings: Settings, windows: list[Window], now: datetime) -> dict[str, str]:
    """The three variables, each left out when it would be empty."""
    env: dict[str, str] = {}
    current = in_force(windows, now)
    if current:
        env[WINDOWS_ENV] = _compact([w.model_dump(mode="json", exclude_defaults=True) for w in current])
    outputs = {
        name: [o.model_dump(mode="json", exclude_defaults=True, by_alias=True) for o in route.outputs]
        for name, route in settings.routes.items()
        if route.outputs
    }
    if outputs:
        env[ROUTE_OUTPUTS_ENV] = _compact(outputs)
        env[OUTPUT_SECRETS_ENV] = _compact({name: settings.secrets[name] for name in output_secret_names(settings)})
    return env


def environment_problem(env: dict[str, str]) -> str | None:
    """Why these variables do not fit in the notifier's environment, or None."""
    size = sum(len(name) + len(value.encode()) for name, value in env.items())
    if size <= NOTIFIER_ENV_BUDGET:
        return None
    parts = ", ".join(f"{name} {len(value.encode())} bytes" for name, value in env.items())
    return (
        f"maintenance windows and route outputs take {size} bytes of the notifier's environment ({parts}), over "
        f"the {NOTIFIER_ENV_BUDGET} vigil leaves for them (Lambda allows 4 KB for all variables): scope windows "
        "by team or service rather than by many checks, or merge windows that share a schedule"
    )
