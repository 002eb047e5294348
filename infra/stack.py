"""The Vigil-<env> stack: the core (notifications, checker functions, queues, self-monitoring) and
one nested stack per service file, holding that file's checks, maintenance-window rules and dashboard.

A service file's checks live in the nested stack `Checks/<file>`, each under its check id: logical
ids follow construct paths, so adding a check adds resources to its own service's template and
renames nothing. The core never lists a service's checks, so it changes only in the one
AWS::CloudFormation::Stack resource that points at the service's template (docs/architecture.md,
"One stack per service file").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import jsii
from aws_cdk import App, CfnResource, Environment, NestedStack, RemovalPolicy, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct, IValidation

from infra import budgets, check_groups, functions, nag, packaging
from infra.alarms import AlarmFactory, TopicActions
from infra.catalog import Catalog, CatalogError, load_catalog
from infra.checks import CheckContext
from infra.dashboard import DashboardBuilder
from infra.discovery import Source, Targets, resolve, selecting, source_for
from infra.environments import Environment as VigilEnvironment
from infra.kinds import KINDS
from infra.mute_rules import MuteRules
from infra.notifications import Notifications, dashboard_name, service_dashboard_name
from infra.selfmon import SelfMonitoring
from infra.split import by_service_file
from infra.windows import in_force
from vigil.silences.windows import Window
from vigil.spec.common import CheckBase


def resource_budget(stack: str, count: int, service_files: int | None = None) -> str | None:
    """The synth error when a stack holds more resources than its budget; else None. `service_files`:
    the core's, whose way out is fewer of them rather than a new one."""
    if count <= budgets.RESOURCE_BUDGET:
        return None
    way_out = (
        "move some of its checks into a new service file, which gets its own stack (docs/operations.md, Limits)"
        if service_files is None
        else budgets.core_way_out(service_files)
    )
    return (
        f"{stack} would hold {count} CloudFormation resources, over the budget of {budgets.RESOURCE_BUDGET} "
        f"(CloudFormation allows {budgets.RESOURCE_LIMIT} per stack): {way_out}"
    )


def _resources(scope: Construct) -> int:
    return sum(1 for c in scope.node.find_all() if isinstance(c, CfnResource))


@jsii.implements(IValidation)
class _ResourceBudget:
    def __init__(self, stack: Stack, name: str) -> None:
        self._stack = stack
        self._name = name

    def validate(self) -> list[str]:
        # A nested stack's resources count against its own budget, not its parent's.
        nested = [c for c in self._stack.node.find_all() if isinstance(c, NestedStack) and c is not self._stack]
        count = _resources(self._stack) - sum(_resources(n) for n in nested)
        problem = resource_budget(self._name, count, None if isinstance(self._stack, NestedStack) else len(nested))
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
        windows = in_force(catalog.windows, datetime.now(UTC))
        services = [
            ServiceStack(checks_scope, file_id, env_name=env_name, checks=checks, ctx=ctx, windows=windows)
            for file_id, checks in by_service_file(catalog).items()
        ]
        for service in services:
            dashboard.link(service.dashboard_name)

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
        self.node.add_validation(_ResourceBudget(self, construct_id))


class ServiceStack(NestedStack):
    """One service file's checks, their maintenance-window rules and their dashboard.

    Nested, not top-level: one `cdk deploy` still deploys everything, and the core's resources reach
    it as parameters, not exports, so the core stays free to change (docs/architecture.md).
    """

    def __init__(
        self,
        scope: Construct,
        file_id: str,
        *,
        env_name: str,
        checks: list[CheckBase],
        ctx: CheckContext,
        windows: list[Window],
    ) -> None:
        super().__init__(scope, file_id, description=f"vigil monitoring ({env_name}): service file {file_id}")
        # The shared checker functions stay in the core (ctx.scope); panels go to this stack's dashboard.
        own = replace(ctx, dashboard=DashboardBuilder())
        for check in checks:
            KINDS[check.kind].constructs().build(Construct(self, check.id), check, own)
        MuteRules(
            self,
            "Windows",
            env=env_name,
            windows=windows,
            checks=checks,
            alarms=ctx.alarms.by_check,
            part_of=file_id,
        )
        self.dashboard_name = service_dashboard_name(env_name, file_id)
        own.dashboard.build(self, "Dashboard", self.dashboard_name)
        self.node.add_validation(_ResourceBudget(self, f"{stack_name(env_name)} service file {file_id}"))


def keep_for_import(core: Stack) -> None:
    """Every service stack resource retained except on a failed create: what CloudFormation's
    auto-import asks of the resources it imports (a migration's second update, docs/operations.md).
    A later plain deploy puts the usual deletion policy back."""
    for construct in core.node.find_all():
        if isinstance(construct, CfnResource) and isinstance(Stack.of(construct), ServiceStack):
            construct.apply_removal_policy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)


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
    # load_catalog checks groups; a catalog built in code must not reach a schedule built for a
    # group that cannot run together (infra.check_groups).
    if problems := check_groups.problems(catalog.checks, catalog.files):
        raise CatalogError(problems)
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
