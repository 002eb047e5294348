"""`python -m infra plan [DIR] [--json] [--environments]`: per check its rules, worst-case detection
time and monthly cost; totals per team, and with --environments per environment of environments.yaml."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from infra.cli.common import load_or_report
from infra.discovery import DiscoveryError, RecordedListing, Targets, resolve
from infra.environments import ENVIRONMENTS_FILE, load_environments
from infra.plan import (
    DASHBOARDS_PER_ENVIRONMENT,
    CheckPlan,
    EnvironmentPlan,
    RoutePlan,
    Totals,
    load_prices,
    plan_catalog,
    plan_routes,
    plan_total,
    price_info,
    team_costs,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", nargs="?", default="checks", help="catalog directory (default: checks)")
    parser.add_argument("--json", action="store_true", help="print JSON: {checks: [...], totals: {...}}")
    parser.add_argument(
        "--environments",
        nargs="?",
        const=ENVIRONMENTS_FILE,
        type=Path,
        metavar="FILE",
        help="also plan every environment of FILE (default: environments.yaml), each with its catalog and dashboard",
    )
    parser.add_argument(
        "--listing",
        type=Path,
        help="a recorded Resource Groups Tagging API listing (JSON): show what each tag selector finds in it",
    )


def run(args: argparse.Namespace) -> int:
    catalog = load_or_report(args.catalog)
    if catalog is None:
        return 1
    targets: Targets | None = None
    if args.listing is not None:
        try:
            targets = resolve(catalog.checks, RecordedListing(args.listing))
        except DiscoveryError as exc:
            print(f"error: {exc}")
            return 1
    rows, totals = plan_catalog(catalog, load_prices(), targets=targets)
    routes = plan_routes(catalog, rows)
    environments: list[EnvironmentPlan] = []
    if getattr(args, "environments", None) is not None:
        for env in load_environments(args.environments).values():
            env_catalog = load_or_report(str(env.catalog))
            if env_catalog is None:
                return 1
            environments.append(plan_total(env.name, env_catalog, dashboards=DASHBOARDS_PER_ENVIRONMENT))
    if args.json:
        print(
            json.dumps(
                {
                    "prices": price_info(),
                    "checks": [r.as_dict() for r in rows],
                    "totals": asdict(totals),
                    "teams": team_costs(catalog, rows),
                    "routes": [r.as_dict() for r in routes],
                    "environments": [e.as_dict() for e in environments],
                },
                indent=2,
            )
        )
    else:
        print(render_table(rows, totals))
        print(render_teams(team_costs(catalog, rows)))
        if environments:
            print(render_environments(environments))
        print()
        print(render_routes(routes, catalog.settings.routing))
    return 0


def render_teams(teams: dict[str, float]) -> str:
    return "per team (USD/month): " + ", ".join(f"{team} {cost:.2f}" for team, cost in teams.items())


def render_environments(environments: list[EnvironmentPlan]) -> str:
    out = ["per environment (USD/month): checks + dashboards beyond the 3 free ones"]
    for e in environments:
        out.append(
            f"  {e.name}: {e.checks.checks} checks {e.checks.cost_usd_month:.2f} + {e.dashboards} dashboard(s) "
            f"{e.dashboards_usd_month:.2f} = {e.cost_usd_month:.2f}"
        )
    out.append(f"  all environments: {sum(e.cost_usd_month for e in environments):.2f}")
    return "\n".join(out)


def render_routes(routes: list[RoutePlan], routing: str) -> str:
    """Who gets what: per route, its people and outputs and the alarms that reach it."""
    out = [f"who gets what (routing: {routing})"]
    for r in routes:
        out.append(f"  {r.name}: {r.matches}")
        out.append(f"    e-mail:  {', '.join(r.email) or '-'}")
        out.append(f"    SMS:     {', '.join(r.sms) or '-'}")
        out.append(f"    outputs: {', '.join(r.outputs) or '-'}")
        out.append(f"    alarms:  {len(r.signals)}" + (f" ({', '.join(r.signals)})" if r.signals else ""))
    return "\n".join(out)


def _found(found: list[str] | None) -> str:
    if found is None:
        return "resolved at synth (give --listing to see what it finds); figures are for one resource"
    return f"found {len(found)}: {', '.join(found)}; figures count each"


def _seconds(value: int) -> str:
    minutes, seconds = divmod(value, 60)
    return f"{value}s ({minutes}m{seconds:02d}s)"


def render_table(rows: list[CheckPlan], totals: Totals) -> str:
    headers = ["check", "kind", "service", "cadence", "severity", "routes", "detect", "USD/month"]
    table = [
        [
            r.id,
            r.kind,
            r.service,
            r.cadence or "native",
            r.severity,
            ",".join(r.routes),
            _seconds(r.detect_seconds),
            f"{r.cost_usd_month:.2f}",
        ]
        for r in rows
    ]
    total = [
        "TOTAL",
        f"{totals.checks} checks",
        "",
        "",
        "",
        f"{totals.alarms} alarms",
        f"worst {_seconds(totals.worst_detect_seconds)}",
        f"{totals.cost_usd_month:.2f}",
    ]
    widths = [max(len(str(line[i])) for line in [headers, *table, total]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i == len(cells) - 1 else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    for r, cells in zip(rows, table, strict=True):
        out.append(line(cells))
        if r.selector is not None:
            out.append(f"    selector {r.selector}: {_found(r.found)}")
        for s in r.signals:
            out.append(
                f"    {s.signal}: {s.rule}  → alarm after {s.periods_to_alarm} period(s), {s.detect_seconds}s"
                f"  → {', '.join(s.routes)}"
            )
    out.append(line(["-" * w for w in widths]))
    out.append(line(total))
    out.append(
        f"{totals.custom_metrics} custom metrics, {totals.runs_per_month:,.0f} checker runs/month; "
        "us-east-1 list prices, no free tier (infra/prices.json); assumptions in infra/plan.py"
    )
    return "\n".join(out)
