"""What every kind's `build(scope, check, ctx)` shares: the build context and the checker functions.

Checker kinds get ONE Lambda function per (kind, VPC placement), created on first use and shared
by every check of that kind and placement; each check then adds only a schedule and its alarms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import check_groups, functions, nag, signal_alarms
from infra.alarms import AlarmActions, AlarmFactory
from infra.catalog import Catalog, secret_ids, secret_refs
from infra.dashboard import DashboardBuilder
from infra.discovery import Targets
from infra.jitter import schedule_expression
from infra.kinds import KINDS
from infra.placement import checker_log_group, placement_key, placement_of
from infra.secret_arns import grant_secret_reads
from infra.sizing import checker_groups, checker_memory_mb, checker_timeout, reserved_concurrency
from vigil.checkers.runner import GROUP, make_event
from vigil.spec.common import CheckBase, VpcPlacement
from vigil.text import clip


def alarm_signals(
    scope: Construct,
    check: CheckBase,
    ctx: CheckContext,
    metric_for: Callable[[str], cloudwatch.IMetric],
    extra_for: Callable[[str], AlarmActions | None] = lambda _signal: None,
) -> None:
    """Any kind: one alarm per active signal on the metric the kind names, and the check's dashboard panel.

    `extra_for` gives a signal's own actions beside vigil's (the EC2 recover action), if any.
    """
    alarms = [
        ctx.alarms.for_check(scope, check, signal, metric_for(signal), extra_for(signal))
        for signal in check.active_signals()
    ]
    ctx.dashboard.add(check, [alarm.metric for alarm in alarms], alarms)


def watched(scope: Construct, check: CheckBase, ctx: CheckContext) -> list[tuple[Construct, CheckBase]]:
    """What a check watches: itself, or each resource its tag selector found under a scope named by
    the target's id, so a resource tagged later adds a scope and renames nothing."""
    if check.id not in ctx.targets:
        return [(scope, check)]
    return [(Construct(scope, target.id), target) for target in watched_targets(check, ctx)]


def watched_targets(check: CheckBase, ctx: CheckContext) -> list[CheckBase]:
    """The check itself, or each resource its tag selector found: what `watched` builds for."""
    found = ctx.targets.get(check.id)
    return [check] if found is None else list(found)


@dataclass
class Checker:
    """One shared checker function and what its schedules need."""

    function: lambda_.Function
    timeout: int
    key: str
    scheduler_role: iam.IRole
    # Whether the function's role may assume its kind's access roles (infra.checks.access).
    assumes_access_roles: bool = False


@dataclass
class CheckContext:
    env: str
    catalog: Catalog
    alarms: AlarmFactory
    dashboard: DashboardBuilder
    code: lambda_.Code  # the asset every function shares
    scope: Construct  # where shared checker functions live ("Checkers")
    checker_failures: sqs.IQueue  # on-failure destination of every checker function
    scheduler_dlq: sqs.IQueue  # dead-letter queue of every schedule
    schedule_group: scheduler.ScheduleGroup
    key: kms.IKey  # the stack's customer-managed key (topics; consistency reports)
    checkers: dict[tuple[str, str], Checker] = field(default_factory=dict)
    # Kinds whose checker ships an asset of its own (consistency: + pyarrow); see code_for.
    kind_code: dict[str, lambda_.Code] = field(default_factory=dict)
    # What each check with a tag selector found (infra.discovery.resolve), by the check's id.
    targets: Targets = field(default_factory=dict)
    # Each service stack's access role per checker (infra.checks.access), by (stack path, kind, placement).
    access_roles: dict[tuple[str, str, str], iam.Role] = field(default_factory=dict)

    def code_for(self, kind: str) -> lambda_.Code:
        """The kind's own asset when it has one, else the shared one: pyarrow stays out of the rest."""
        return self.kind_code.get(kind, self.code)

    def event(self, check: CheckBase, access_role: str | None = None) -> dict[str, object]:
        """The checker's input: the spec itself (validated again by the same model), secret ids, and
        the role to read AWS in when the kind needs one."""
        return make_event(check, secret_ids(check, self.catalog), access_role)

    def checker(self, check: CheckBase) -> Checker:
        placement = placement_of(check)
        key = (check.kind, placement_key(placement))
        if key not in self.checkers:
            self.checkers[key] = self._make_checker(check.kind, placement, key[1])
        return self.checkers[key]

    def _make_checker(self, kind: str, placement: VpcPlacement | None, pkey: str) -> Checker:
        # Sized and permitted for every check it will run, not only the first one asking.
        peers = checker_groups(self.catalog.checks)[(kind, pkey)]
        timeout = checker_timeout(peers)
        fastest = min(c.cadence for c in peers)
        handler_module = KINDS[kind].checker_module
        assert handler_module is not None, f"kind {kind} has no checker"
        scope = Construct(self.scope, kind if placement is None else f"{kind}-{pkey}")
        vpc_args: dict[str, object] = {}
        if placement is not None:
            # A subnet known by id only has no route table; the function's VPC config never reads it.
            Annotations.of(scope).acknowledge_warning(
                "@aws-cdk/aws-ec2:noSubnetRouteTableId", "checkers only place their functions in these subnets"
            )
            vpc_args = {
                # Only the ids are known; the AZs matter only when subnets are selected by type.
                "vpc": ec2.Vpc.from_vpc_attributes(scope, "Vpc", vpc_id=placement.vpc_id, availability_zones=["-"]),
                "subnets": [ec2.Subnet.from_subnet_id(scope, s, s) for s in placement.subnet_ids],
                "security_groups": [
                    ec2.SecurityGroup.from_security_group_id(scope, g, g, mutable=False)
                    for g in placement.security_group_ids
                ],
            }
        fn = functions.function(
            scope,
            "Function",
            code=self.code_for(kind),
            handler=f"{handler_module}.handler",
            description=f"vigil {self.env}: {kind} checker ({'public' if placement is None else placement.vpc_id})",
            timeout=Duration.seconds(timeout),
            environment={"VIGIL_ENV": self.env, "POWERTOOLS_SERVICE_NAME": f"vigil-checker-{kind}"},
            log_group_name=checker_log_group(self.env, kind, pkey),
            on_failure=self.checker_failures,
            # A retry later than one cadence would only overlap the next scheduled run.
            retry_attempts=1,
            max_event_age=Duration.seconds(max(60, fastest)),
            memory_size=checker_memory_mb(kind),
            reserved_concurrency=reserved_concurrency(peers, timeout),
            traced=False,
            quiet_logs=True,
            **vpc_args,  # type: ignore[arg-type]
        )
        secrets = self.catalog.settings.secrets
        grant_secret_reads(fn, {secrets[name] for c in peers for name in secret_refs(c).values()})
        # Our own scheduler role per function, so its one finding can be acknowledged right here.
        role = iam.Role(scope, "SchedulerRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"))
        fn_logical_id = Stack.of(scope).resolve(Stack.of(scope).get_logical_id(fn.node.default_child))
        nag.acknowledge(
            role,
            [f"AwsSolutions-IAM5[Resource::<{fn_logical_id}.Arn>:*]"],
            "The LambdaInvoke target grants invoke on this one function's versions; no other function matches.",
        )
        return Checker(function=fn, timeout=timeout, key=pkey, scheduler_role=role)


# Scheduler's Description is at most 512 characters; a group's lists its checks.
SCHEDULE_DESCRIPTION = 512
# Scheduler retries a failed invoke (throttle, service error); beyond two, the next run is due anyway.
SCHEDULE_RETRIES = 2


def schedule(
    scope: Construct, check: CheckBase, ctx: CheckContext, access: iam.IRole | None = None
) -> scheduler.Schedule | None:
    """Any checker kind: invoke its checker every cadence, at the check's own minute (infra.jitter),
    with the spec as input; `access`: the role the checker reads AWS in (infra.checks.access).

    A check in a group (infra.check_groups) has no schedule of its own: the group's, built with its
    first check beside the checks' scopes, runs them all. None for the group's other checks."""
    role_arn = access.role_arn if access is not None else None
    group = check_groups.group_of(check, ctx.catalog.files)
    if group is None:
        return _schedule(scope, check.id, [check], ctx, ctx.event(check, role_arn), access)
    stack = Stack.of(scope)
    if stack.node.try_find_child(group.label) is not None:
        return None
    checks = check_groups.members(check, ctx.catalog.checks, ctx.catalog.files)
    event = {GROUP: [ctx.event(member, role_arn) for member in checks]}
    # Its minute is hashed from the stack and group names: stable, and apart from same-named groups.
    label = f"{stack.node.id}/{group.label}"
    return _schedule(Construct(stack, group.label), label, checks, ctx, event, access)


def _schedule(
    scope: Construct,
    label: str,
    checks: list[CheckBase],
    ctx: CheckContext,
    event: dict[str, object],
    access: iam.IRole | None,
) -> scheduler.Schedule:
    first = checks[0]
    checker = ctx.checker(first)
    slowest = max(float(getattr(c, "timeout", 0)) for c in checks)
    what = label if len(checks) == 1 and label == first.id else f"{label} ({', '.join(c.id for c in checks)})"
    found = scheduler.Schedule(
        scope,
        "Schedule",
        schedule=scheduler.ScheduleExpression.expression(schedule_expression(label, first.cadence, slowest)),
        schedule_group=ctx.schedule_group,
        description=clip(f"vigil {ctx.env}: {what} every {first.cadence // 60} min", SCHEDULE_DESCRIPTION),
        target=targets.LambdaInvoke(
            checker.function,
            input=scheduler.ScheduleTargetInput.from_object(event),
            retry_attempts=SCHEDULE_RETRIES,
            # A run older than one cadence is superseded by the next one.
            max_event_age=Duration.seconds(max(60, first.cadence)),
            dead_letter_queue=ctx.scheduler_dlq,
            role=checker.scheduler_role,
        ),
    )
    if access is not None:
        # The first run must not race the role's grants: a run without them reports AccessDenied and pages.
        found.node.add_dependency(access)
    return found


def checker_alarms(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    """Any checker kind: one alarm per entry of signal_alarms.checker_alarms, the list `python -m infra
    run` judges a run with (the measure signal included), on the series it names."""
    series = {alarm.signal: alarm for alarm in signal_alarms.checker_alarms(check)}
    alarm_signals(
        scope,
        check,
        ctx,
        lambda signal: cloudwatch.Metric(
            namespace=series[signal].namespace,
            metric_name=series[signal].metric,
            dimensions_map=dict(series[signal].dimensions),
        ),
    )


def worst_of(per_item: list[cloudwatch.IMetric], signal: str) -> cloudwatch.IMetric:
    """One series, the highest of the items': the metric itself when there is one item.

    Ids carry the signal: the check's dashboard graph puts all its alarms' metrics side by side,
    and CloudWatch needs every id in one graph to be unique.
    """
    if len(per_item) == 1:
        return per_item[0]
    ids = [f"{signal}{i}" for i in range(len(per_item))]
    return cloudwatch.MathExpression(
        expression=f"MAX([{', '.join(ids)}])", using_metrics=dict(zip(ids, per_item, strict=True))
    )
