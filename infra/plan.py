"""What the catalog will deploy, per check: its rules in words, how fast a fault reaches someone, what it costs.

Pure computation over a loaded catalog and the price list (infra/prices.json); `python -m infra plan`
prints it. Every number is an estimate with stated assumptions (see `Assumptions`), meant to compare
checks and catch an expensive or slow one in review, not to predict the bill.

Worst-case detection time, per alarm signal (the check's figure is its slowest signal):

    checker kinds: cadence            a fault just after a run waits for the next run
                 + checker timeout     that run takes at most its timeout to report
    native kinds:  publish delay       AWS publishes the metric late (SQS: 1-minute metrics, a few
                                       minutes behind); replaces cadence + timeout
    both:        + period × P          P breaching periods until ALARM, from the alarm model: for a
                                       persistent fault P = datapoints_to_alarm (the M of "M of N";
                                       N only sets how long the alarm remembers)
                 + evaluation delay    CloudWatch evaluates alarms once a minute
                 + delivery            EventBridge → notifier Lambda → SNS → e-mail/SMS

For a signal of a checker kind (`measure`, and http's one signal `down`) the slower of "the checker
reports a failure" and "the checker goes silent" is used: with missing data treated as breaching, silence alarms only once no real
data point is left in CloudWatch's evaluation range (see infra.alarm_model), which takes longer.

Monthly cost (730 hours), per check, from prices.json (us-east-1 list prices, no free tier):
    checker kinds: scheduler invocations + Lambda requests + GB-seconds (arm64, at the memory the
                   checker function is built with and a typical duration per kind, both from
                   infra.sizing; one invocation per check and run, or per group and run, shared by
                   the group's checks: infra.check_groups) + the run's log lines + one custom
                   metric per series the checker writes (per distinct metric of its signals, with its
                   dimensions: a RabbitMQ listed queue's own; plus what it writes without an alarm,
                   such as an sqs prefix check's Queues; exact for a kind with a MetricBudget)
    all kinds:     one alarm per active signal (high-resolution price when the period is under 60 s),
                   times the metrics it reads when it is a metric math or Metrics Insights alarm;
                   an anomaly detection alarm counts 3 (the metric and the band's two bounds)
                   + notifications: an assumed number of state changes per alarm per month, each
                   published once and delivered to every e-mail and SMS contact of the routes of
                   that signal's severity (its own, as a log pattern's, else the check's)
    kinds with more:   what the spec's `usage_per_month` lists, priced (heartbeat: its pings through
                   the endpoint, the table's reads and writes, its token secret)
For a deadline kind (heartbeat), detection counts from the deadline's start: the fault waits out its
grace (`deadline_slack`) before the checker can see it.
AWS's own metrics (SQS, ...) are free; alarm state-change events on the default bus are free.

Per environment (EnvironmentPlan, `plan_total`): the checks' sum, plus what the environment has
once: its dashboards (USD 3 each beyond the account's 3 free ones; the one free-tier figure plan
uses, as the issue that asked for it stated). Totals per team sum the checks of each team.

A check with a tag selector costs its figures once per resource found. Given the targets (a
recorded listing resolved by infra.discovery, `plan --listing FILE`), its row says what it found
and counts them; without, the figures are for one resource and `found` is None.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra import check_groups
from infra.alarm_model import periods_to_alarm, periods_to_alarm_when_silent
from infra.catalog import Catalog
from infra.discovery import Targets, found_labels
from infra.sizing import checker_memory_mb, typical_duration_s
from vigil.spec.common import CheckBase, format_duration
from vigil.spec.selector import Selectable

PRICES_FILE = Path(__file__).with_name("prices.json")
HOURS_PER_MONTH = 730  # AWS's pricing pages use 730 hours per month
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
# CloudWatch bills an anomaly detection alarm as 3 alarm metrics: the metric and the band's upper and
# lower bounds (https://aws.amazon.com/cloudwatch/pricing/, Alarms).
ANOMALY_ALARM_METRICS = 3
# CloudWatch's always-free tier includes 3 dashboards (of up to 50 metrics) per account.
FREE_DASHBOARDS = 3
# What one environment's stack builds today (infra.dashboard: vigil-<env>).
DASHBOARDS_PER_ENVIRONMENT = 1


@dataclass(frozen=True)
class Assumptions:
    # When a kind has no `timeout` field: the checker Lambda's own timeout.
    default_checker_timeout_s: float = 30.0
    # AWS-published metrics arrive late; SQS sends 1-minute metrics, typically a few minutes behind.
    native_publish_delay_s: dict[str, int] = field(default_factory=lambda: {"sqs": 180})
    default_native_publish_delay_s: int = 180
    evaluation_delay_s: int = 60
    delivery_s: int = 30
    # A healthy run logs its EMF line alone (Lambda drops START/END/REPORT, infra.functions), plus
    # CloudWatch Logs' 26 bytes per event. http: a 280-330-byte EMF line (one metric; an unhealthy
    # run adds its reason); kinds that write more metrics or quote samples (log lines, hits, keys) more.
    log_bytes_per_run: dict[str, int] = field(default_factory=lambda: {"http": 384})
    default_log_bytes_per_run: int = 2048
    state_changes_per_alarm_month: int = 4  # two incidents: ALARM and OK each


@dataclass(frozen=True)
class SignalPlan:
    signal: str
    rule: str
    period_seconds: int
    periods_to_alarm: int
    detect_seconds: int
    routes: list[str]  # at the signal's own severity (each log pattern has one), as its alarm pages


@dataclass(frozen=True)
class CheckPlan:
    id: str
    kind: str
    service: str
    cadence: str | None  # None: AWS measures, no checker runs
    severity: str
    routes: list[str]
    rules: dict[str, str]
    detect_seconds: int
    cost_usd_month: float
    cost_breakdown: dict[str, float]
    signals: list[SignalPlan]
    # A check with a tag selector: the tags, and what they found (None: not resolved, figures per resource).
    selector: str | None = None
    found: list[str] | None = None

    @property
    def alarms(self) -> int:
        return len(self.signals) * (1 if self.found is None else len(self.found))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RoutePlan:
    """Who gets what: a route's matchers, its people and outputs, and the alarms that reach it."""

    name: str
    matches: str  # its matchers in words, and how the routing treats it
    email: list[str]  # "l2-oncall <l2-oncall@example.com>"
    sms: list[str]
    outputs: list[str]  # "l2-servicenow (servicenow)"
    signals: list[str]  # "campaign-api-health/down", each alarm that pages this route

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Totals:
    checks: int
    alarms: int
    custom_metrics: int
    runs_per_month: float
    cost_usd_month: float
    worst_detect_seconds: int


@dataclass(frozen=True)
class EnvironmentPlan:
    """One environment's month: its checks' totals, per team, and what it has once (dashboards)."""

    name: str
    checks: Totals
    teams: dict[str, float]  # team → USD/month of its checks
    dashboards: int
    dashboards_usd_month: float

    @property
    def cost_usd_month(self) -> float:
        return round(self.checks.cost_usd_month + self.dashboards_usd_month, 4)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cost_usd_month": self.cost_usd_month}


@functools.cache
def _price_list(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def load_prices(path: Path | str = PRICES_FILE) -> dict[str, float]:
    return {name: float(entry["usd"]) for name, entry in _price_list(Path(path))["prices"].items()}


def price_info(path: Path | str = PRICES_FILE) -> dict[str, Any]:
    data = _price_list(Path(path))
    return {"region": data["region"], "currency": data["currency"]}


def detect_seconds(check: CheckBase, signal: str, a: Assumptions) -> tuple[int, int]:
    """(periods until ALARM, worst-case seconds from fault to notification) for one signal."""
    rule = check.rule(signal)
    periods = periods_to_alarm(rule)
    if check.has_checker:  # the checker may go silent: a signal whose missing data breaches then alarms too
        silent = periods_to_alarm_when_silent(rule)
        if silent is not None:
            periods = max(periods, silent)
    if check.has_checker:
        timeout = float(getattr(check, "timeout", None) or a.default_checker_timeout_s)
        lead = check.cadence + timeout
        # A deadline check (heartbeat) counts a fault only once its grace has passed.
        slack = getattr(check, "deadline_slack", None)
        lead += slack(signal) if slack is not None else 0
    else:
        lead = a.native_publish_delay_s.get(check.kind, a.default_native_publish_delay_s)
    total = lead + rule.period * periods + a.evaluation_delay_s + a.delivery_s
    return periods, round(total)


def runs_per_month(check: CheckBase) -> float:
    return SECONDS_PER_MONTH / check.cadence if check.has_checker else 0.0


def custom_metrics(check: CheckBase) -> int:
    """Series the check writes; AWS's own metrics are free. A native kind may publish its own (ecs:
    failed deployments counted by a metric filter)."""
    if not check.has_checker:
        count = getattr(check, "custom_metric_count", None)
        return count() if count is not None else 0
    # Each active signal's metric with the dimensions its alarm reads (a RabbitMQ listed queue has
    # its own), and what the checker writes for no alarm (`unalarmed_metrics`: sqs prefix's Queues).
    # Exact for kinds with a MetricBudget (vigil.result: http, rabbitmq), which write nothing else;
    # other kinds may write a few more values than their alarms read.
    series = {
        (check.signals[s].metric, tuple(sorted(check.alarm_dimensions(s).items()))) for s in check.active_signals()
    }
    unalarmed = getattr(check, "unalarmed_metrics", None)
    return len(series) + (len(unalarmed()) if unalarmed is not None else 0)


def alarm_metrics(check: CheckBase, signal: str) -> int:
    """Metrics one alarm reads: CloudWatch prices a metric math or Metrics Insights alarm per metric."""
    if check.rule(signal).band is not None:
        return ANOMALY_ALARM_METRICS
    count = getattr(check, "alarm_metric_count", None)
    return count(signal) if count is not None else 1


def cost_breakdown(check: CheckBase, catalog: Catalog, prices: dict[str, float], a: Assumptions) -> dict[str, float]:
    runs = runs_per_month(check)
    # A group's checks share each run's schedule invocation, request and compute (its checks measure
    # side by side, so a run lasts about one check's time); each still writes its own EMF line.
    shared_by = len(check_groups.members(check, catalog.checks, catalog.files))
    gb_seconds = runs * typical_duration_s(check.kind) * checker_memory_mb(check.kind) / 1024 / shared_by
    log_bytes = a.log_bytes_per_run.get(check.kind, a.default_log_bytes_per_run)
    alarms = check.rules()
    alarm_cost = sum(
        (prices["alarm_high_resolution_month"] if rule.period < 60 else prices["alarm_standard_month"])
        * alarm_metrics(check, signal)
        for signal, rule in alarms.items()
    )
    # Each alarm's state changes reach the routes of its own signal's severity.
    notifications = 0.0
    for signal in alarms:
        routes = [catalog.settings.routes[name] for name in catalog.routes_for_signal(check, signal)]
        emails = sum(len(route.email) for route in routes)
        sms = sum(len(route.sms) for route in routes)
        notifications += a.state_changes_per_alarm_month * (
            prices["sns_publish"] + emails * prices["sns_email"] + sms * prices["sns_sms"]
        )
    # What a kind uses beyond its checker (heartbeat: the ping endpoint, its table, the token secret).
    usage = getattr(check, "usage_per_month", None)
    extras = sum(prices[name] * amount for name, amount in usage(SECONDS_PER_MONTH).items()) if usage else 0.0
    return {
        "scheduler": runs * prices["scheduler_invocation"] / shared_by,
        "lambda_requests": runs * prices["lambda_request"] / shared_by,
        "lambda_compute": gb_seconds * prices["lambda_gb_second_arm"],
        "logs": runs * log_bytes / 1024**3 * prices["logs_ingest_gb"],
        "custom_metrics": custom_metrics(check) * prices["custom_metric_month"],
        "alarms": alarm_cost,
        "notifications": notifications,
        "kind_extras": extras,
    }


def plan_check(
    check: CheckBase,
    catalog: Catalog,
    prices: dict[str, float],
    a: Assumptions | None = None,
    found: list[str] | None = None,
) -> CheckPlan:
    """One check's plan; `found`: what its tag selector found, and the figures count each of them."""
    a = a or Assumptions()
    signals = []
    for name, rule in check.rules().items():
        periods, seconds = detect_seconds(check, name, a)
        unit = check.signals[name].unit
        routes = catalog.routes_for_signal(check, name)
        signals.append(SignalPlan(name, rule.describe(unit), rule.period, periods, seconds, routes))
    copies = 1 if found is None else len(found)
    breakdown = {key: value * copies for key, value in cost_breakdown(check, catalog, prices, a).items()}
    selector = check.selected_by() if isinstance(check, Selectable) else None
    return CheckPlan(
        id=check.id,
        kind=check.kind,
        service=check.service,
        cadence=format_duration(check.cadence) if check.has_checker else None,
        severity=check.severity.value,
        # Every route any of its signals pages, in settings order: a log pattern may page above the check.
        routes=[r for r in catalog.settings.routes if any(r in s.routes for s in signals)],
        rules={s.signal: s.rule for s in signals},
        detect_seconds=max(s.detect_seconds for s in signals),
        cost_usd_month=round(sum(breakdown.values()), 4),
        cost_breakdown={k: round(v, 6) for k, v in breakdown.items()},
        signals=signals,
        selector=None if selector is None else selector.describe(),
        found=found,
    )


def plan_routes(catalog: Catalog, rows: list[CheckPlan]) -> list[RoutePlan]:
    """Per route, in the settings' order: who receives what, and which alarms go there."""
    settings = catalog.settings
    plans = []
    for name, route in settings.routes.items():
        how = route.describe()
        if settings.routing == "first_match":
            how += ", then goes on (continue)" if route.continue_ else ", and stops there (first match)"
        if name == settings.default_route:
            how += "; catch-all for alarms no route matches"
        if name == settings.self_monitoring_route:
            how += "; vigil's own alarms"
        contacts = settings.contacts
        plans.append(
            RoutePlan(
                name=name,
                matches=how,
                email=[f"{c} <{contacts[c].email}>" for c in route.email],
                sms=[f"{c} {contacts[c].sms}" for c in route.sms],
                outputs=[f"{o.label} ({o.type})" for o in route.outputs],
                signals=[f"{r.id}/{s.signal}" for r in rows for s in r.signals if name in s.routes],
            )
        )
    return plans


def plan_catalog(
    catalog: Catalog,
    prices: dict[str, float] | None = None,
    a: Assumptions | None = None,
    targets: Targets | None = None,
) -> tuple[list[CheckPlan], Totals]:
    """Every check's plan; `targets`: what tag selectors found (infra.discovery.resolve), when known."""
    prices = prices if prices is not None else load_prices()
    rows = [plan_check(check, catalog, prices, a, found_labels(targets or {}, check.id)) for check in catalog.checks]
    return rows, totals_of(catalog, rows)


def totals_of(catalog: Catalog, rows: list[CheckPlan]) -> Totals:
    copies = [1 if r.found is None else len(r.found) for r in rows]
    checks = catalog.checks
    return Totals(
        checks=len(rows),
        alarms=sum(r.alarms for r in rows),
        custom_metrics=sum(custom_metrics(c) * n for c, n in zip(checks, copies, strict=True)),
        runs_per_month=round(sum(runs_per_month(c) * n for c, n in zip(checks, copies, strict=True)), 1),
        cost_usd_month=round(sum(r.cost_usd_month for r in rows), 4),
        worst_detect_seconds=max((r.detect_seconds for r in rows), default=0),
    )


def team_costs(catalog: Catalog, rows: list[CheckPlan]) -> dict[str, float]:
    """USD/month per team (the team of each check's service file), teams sorted."""
    teams: dict[str, float] = {}
    for check, row in zip(catalog.checks, rows, strict=True):
        teams[check.team] = teams.get(check.team, 0.0) + row.cost_usd_month
    return {team: round(teams[team], 4) for team in sorted(teams)}


def dashboards_cost(dashboards: int, prices: dict[str, float]) -> float:
    return max(0, dashboards - FREE_DASHBOARDS) * prices["dashboard_month"]


def plan_total(
    name: str,
    catalog: Catalog,
    dashboards: int = DASHBOARDS_PER_ENVIRONMENT,
    prices: dict[str, float] | None = None,
    a: Assumptions | None = None,
    targets: Targets | None = None,
) -> EnvironmentPlan:
    """One environment's monthly plan: its catalog's checks, per team, and its `dashboards`.

    The stable entry point for callers outside plan (bench/scale, the stack split): give the number
    of dashboards the environment's stacks build (one today, `vigil-<env>`).
    """
    prices = prices if prices is not None else load_prices()
    rows, totals = plan_catalog(catalog, prices, a, targets)
    return EnvironmentPlan(
        name=name,
        checks=totals,
        teams=team_costs(catalog, rows),
        dashboards=dashboards,
        dashboards_usd_month=round(dashboards_cost(dashboards, prices), 4),
    )
