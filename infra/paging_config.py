"""The notifier's repeat and escalation policy, from _settings.yaml's `paging` and the routes' overrides.

One environment variable, PAGING, compact JSON of vigil.notifier.repeats.Policy: per route, the repeat
interval per severity (paging.repeat_every, with the route's own repeat_every over it; null turns
a severity off) and the escalation. Routes that neither repeat nor escalate are left out, so a
catalog without either writes nothing and the stack builds no acknowledgement function or key (the
Scheduler group and role are always built: the page at a silence's end uses them). No aws_cdk here:
validate and plan may use it.
"""

from __future__ import annotations

from infra.settings import Route, Settings
from vigil.notifier.repeats import Policy, RoutePolicy


def route_policy(settings: Settings, route: Route) -> RoutePolicy:
    every = {**settings.paging.repeat_every, **route.repeat_every}
    carried = {severity: seconds for severity, seconds in every.items() if seconds and severity in route.severities}
    escalate = route.escalate_to is not None
    return RoutePolicy(
        repeat_every={str(severity): seconds for severity, seconds in carried.items()},
        escalate_to=route.escalate_to,
        escalate_after=route.escalate_after if escalate else None,
    )


def paging_policy(settings: Settings) -> Policy:
    policies = {name: route_policy(settings, route) for name, route in settings.routes.items()}
    return Policy(
        max_repeats=settings.paging.max_repeats,
        routes={name: p for name, p in policies.items() if p.repeat_every or p.escalate_to},
    )
