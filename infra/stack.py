"""The Vigil-<env> stack: notifications, one construct per check, self-monitoring, the dashboard.

Logical ids follow construct paths, and each check's resources live under Checks/<check id>, so
adding a check adds resources without renaming any. Were a catalog to outgrow one stack's 500
resources, Checks/<service> scopes could become NestedStacks (one per service file) keeping the
same inner ids; not built yet: the sample needs ~60 resources.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jsii
from aws_cdk import App, CfnResource, Environment, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct, IValidation

from infra import functions, nag, packaging
from infra.alarms import AlarmFactory, TopicActions
from infra.catalog import Catalog, load_catalog
from infra.checks import CheckContext
from infra.dashboard import DashboardBuilder
from infra.discovery import Source, Targets, resolve, selecting, source_for
from infra.environments import Environment as VigilEnvironment
from infra.kinds import KINDS
from infra.mute_rules import MuteRules
from infra.notifications import Notifications, dashboard_name
from infra.selfmon import SelfMonitoring
from infra.windows import in_force

# CloudFormation's limit per stack. A template over it is refused at deploy; synth (and so the
# pull request's CI) says so first, with what to do.
STACK_RESOURCE_LIMIT = 500


def resource_budget(env: str, count: int) -> str | None:
    """The synth error when the stack holds more resources than CloudFormation allows; else None."""
    if count <= STACK_RESOURCE_LIMIT:
        return None
    return (
        f"{stack_name(env)} would hold {count} CloudFormation resources, more than the {STACK_RESOURCE_LIMIT} "
        "a stack allows: split the catalog into two environments with their own catalog directories "
        "(environments.yaml; docs/operations.md, Limits)"
    )


@jsii.implements(IValidation)
class _ResourceBudget:
    def __init__(self, stack: Stack, env: str) -> None:
        self._stack = stack
        self._env = env

    def validate(self) -> list[str]:
        count = sum(1 for c in self._stack.node.find_all() if isinstance(c, CfnResource))
        problem = resource_budget(self._env, count)
        return [problem] if problem else []


def stack_name(env: str) -> str:
    return f"Vigil-{env}"


class VigilStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        catalog: Catalog,
        code: lambda_.Code,
        kind_code: dict[str, lambda_.Code] | None = None,
        targets: Targets | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, description=f"vigil monitoring ({env_name})", **kwargs)
        settings = catalog.settings
        notifications = Notifications(
            self, "Notifications", env=env_name, settings=settings, windows=catalog.windows, code=code
        )
        alarms = AlarmFactory(
            env_name,
            catalog,
            check_actions=TopicActions(notifications.alarm_events),
            self_actions=TopicActions(notifications.routes[settings.self_monitoring_route]),
        )
        dashboard = DashboardBuilder()

        shared = Construct(self, "Checkers")
        ctx = CheckContext(
            env=env_name,
            catalog=catalog,
            alarms=alarms,
            dashboard=dashboard,
            code=code,
            kind_code=dict(kind_code or {}),
            scope=shared,
            checker_failures=functions.failure_queue(shared, "Failures"),
            scheduler_dlq=functions.failure_queue(shared, "SchedulerDlq"),
            key=notifications.key,
            schedule_group=scheduler.ScheduleGroup(shared, "Schedules", schedule_group_name=f"vigil-{env_name}"),
            targets=dict(targets or {}),
        )
        checks_scope = Construct(self, "Checks")
        for check in sorted(catalog.checks, key=lambda c: c.id):
            KINDS[check.kind].constructs().build(Construct(checks_scope, check.id), check, ctx)
        MuteRules(
            self,
            "Windows",
            env=env_name,
            windows=in_force(catalog.windows, datetime.now(UTC)),
            checks=catalog.checks,
            alarms=alarms.by_check,
        )

        SelfMonitoring(
            self,
            "SelfMonitoring",
            alarms=alarms,
            dashboard=dashboard,
            functions={
                "notifier": notifications.function,
                **{
                    f"checker-{kind}" if pkey == "public" else f"checker-{kind}-{pkey}": checker.function
                    for (kind, pkey), checker in sorted(ctx.checkers.items())
                },
            },
            queues={
                "notifier-failures": notifications.failures,
                "delivery-failures": notifications.delivery_failures,
                "checker-failures": ctx.checker_failures,
                "scheduler-dlq": ctx.scheduler_dlq,
            },
        )
        dashboard.build(self, "Dashboard", dashboard_name(env_name))
        Tags.of(self).add("vigil:env", env_name)
        self.node.add_validation(_ResourceBudget(self, env_name))


def build_app(
    environment: VigilEnvironment,
    *,
    catalog: Catalog | None = None,
    code: lambda_.Code | None = None,
    kind_code: dict[str, lambda_.Code] | None = None,
    app: App | None = None,
    outdir: Path | str | None = None,
    discovery: Source | None = None,
) -> tuple[App, VigilStack]:
    """The whole app, nag packs included; `app.synth()` raises on any unacknowledged finding.

    `code` is the asset every function shares; `kind_code` the kinds' own (packaging.KIND_REQUIREMENTS:
    consistency adds pyarrow). Each defaults to packaging's build, only for the kinds the catalog uses.
    Tag selectors are resolved first, before any construct (infra.discovery.DiscoveryError says why
    not): from `discovery`, else the environment's recorded listing, else the Tagging API.
    """
    app = app or App(outdir=str(outdir) if outdir else None)
    catalog = catalog or load_catalog(environment.catalog)
    targets: Targets = {}
    if selecting(catalog.checks):
        targets = resolve(catalog.checks, discovery or source_for(environment.listing, environment.region))
    stack = VigilStack(
        app,
        stack_name(environment.name),
        env_name=environment.name,
        catalog=catalog,
        code=code or packaging.code(),
        kind_code=kind_code
        if kind_code is not None
        else {
            kind: packaging.code(kind)
            for kind in packaging.KIND_REQUIREMENTS
            if kind in {c.kind for c in catalog.checks}
        },
        targets=targets,
        env=Environment(account=environment.account, region=environment.region)
        if environment.account or environment.region
        else None,
    )
    nag.apply(app)
    return app, stack
