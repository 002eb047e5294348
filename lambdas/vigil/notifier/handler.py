"""Notifier Lambda: alarm state change in, one SNS publish per route out.

Environment:
    TOPIC_ARN_PREFIX  route topic ARN = prefix + route name ("arn:aws:sns:eu-west-1:123456789012:vigil-prod-")
    FALLBACK_ROUTE    route for alarms without vigil metadata, events that could not be read, and
                      notifications a route's topic refused
    DASHBOARD_NAME    CloudWatch dashboard linked from emails (optional)
    STACK_REGION      the stack's region, where that dashboard is (optional: the function's region)
    STATE_TABLE       the notifier's state table (optional: without it no dedup, no stale check)
    VIGIL_ENV         environment name, for the logs and the outputs' correlation ids (optional)
    SILENCE_WINDOWS   the catalog's maintenance windows (vigil.notifier.silencing; optional)
    ROUTE_OUTPUTS, OUTPUT_SECRETS   the routes' outputs and their secrets (vigil.notifier.route_outputs; optional)
    GROUP_WAIT_SECONDS  how long a service's first change waits for others (vigil.notifier.grouping; 0 or unset: no grouping)
    DEFERRED_QUEUE_URL  the queue that brings a group's flush, or an inhibited ALARM, back later
                        (vigil.notifier.deferred; optional: without it nothing waits)

Each payload, in order:
1. parse it; CloudWatch's other events (an alarm created or updated) are ignored and logged; what
   cannot be read becomes the plain fallback;
2. skip what the alarm's own actions would not page (vigil.notifier.paging);
3. drop a state change older than the last one paged, an OK that resolves nothing on-call heard of
   (a new alarm's first evaluation, an inhibited ALARM never paged), hold back one a silence covers
   (vigil.notifier.silencing; an ALARM an ad-hoc silence holds gets a look at the silence's end,
   vigil.notifier.silence_end) and an inhibited signal's ALARM for its inhibitor's wait
   (vigil.notifier.inhibition), and drop one already delivered or being delivered by another
   invocation (vigil.notifier.state);
4. render it (on failure, the plain fallback), with the evidence on ALARM (the checker's last run,
   or an ECS service's stopped tasks and failed deployment), and a footer naming what silences
   held back since the routes' last page;
5. with grouping on, join the service's group: the routes' page waits for the group's flush, which
   arrives through the deferred queue and publishes one page per route listing the group's changes;
   the outputs are delivered at once, one per alarm, as below. Else:
   publish to each route not yet delivered. A route that refuses for good (no topic, no
   permission, unusable key, message refused) is rerouted to the fallback route, plainly when the
   message itself was refused. A failure a retry may fix raises once every route was tried, so
   Lambda retries and, in the end, the on-failure queue keeps the event;
6. deliver it to the routes' outputs not yet delivered (vigil.notifier.route_outputs); an output
   that fails pages the fallback route, which is the self-monitoring route.

A first ALARM page to routes that repeat or escalate also schedules its follow-ups and carries an
acknowledgement link; an OK page says who acknowledged. A follow-up payload from Scheduler goes
through `follow_up` instead (vigil.notifier.repeats; SCHEDULE_GROUP and the variables beside it),
and the look at a silence's end through `silence_ended` (vigil.notifier.silence_end).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from vigil.lambda_time import seconds_left
from vigil.notifier import deferred, ecs_evidence, evidence, inhibition, repeats, route_outputs, silence_end
from vigil.notifier.aws_errors import Failure, classify, describe
from vigil.notifier.events import (
    AlarmEvent,
    AlarmState,
    Delivery,
    NotAStateChange,
    Salvage,
    deliveries,
    parse_alarm,
    salvage,
)
from vigil.notifier.group_render import render_group
from vigil.notifier.grouping import Flush, Groups, Member, by_route, collapse
from vigil.notifier.paging import nothing_to_resolve, why_silent
from vigil.notifier.render import (
    LinkContext,
    Notification,
    render,
    render_fallback,
    render_plain,
    render_rerouted,
    sns_message,
)
from vigil.notifier.silencing import Decision, Silencing, windows_from_env
from vigil.notifier.state import Advance, Claim, ClaimKind, Key, StateTable, alarm_partition, delivery_key
from vigil.silences.active import Silence

logger = Logger(service="vigil-notifier")

# boto3 costs ~200 ms to import: pay it on the first publish, not on every cold start's import.
_clients: dict[str, Any] = {}

# Without a Lambda context (the demo, tests): the function's timeout (30 s) and a margin.
DEFAULT_LEASE_SECONDS = 35.0


def _client(service: str, **config: Any) -> Any:
    """One client per service and container; `config` (botocore Config options) on first creation."""
    if service not in _clients:
        import boto3
        from botocore.config import Config

        _clients[service] = boto3.client(service, config=Config(**config) if config else None)
    return _clients[service]


def _sns() -> Any:
    return _client("sns")


def _sqs() -> Any:
    # Short timeouts: a group's flush that hangs past the function's timeout would strand its members.
    return _client("sqs", connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2})


def _cloudwatch() -> Any:
    # One client for every DescribeAlarms (inhibition checks, follow-ups): a slow answer fails fast,
    # and the caller's own fallback (page, or Lambda's retry of a follow-up) takes over.
    return _client("cloudwatch", connect_timeout=1, read_timeout=3, retries={"total_max_attempts": 2})


def _logs() -> Any:
    # Evidence is a nicety: a slow Logs API must not hold an alert back (evidence.fetch also stops
    # at its own deadline). One attempt: total_max_attempts counts the first call.
    return _client("logs", connect_timeout=1, read_timeout=3, retries={"total_max_attempts": 1})


def _dynamodb() -> Any:
    # The state table must not hold a page back either: short timeouts, one retry, and StateTable
    # stops asking after its first failure.
    return _client("dynamodb", connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2})


class PublishError(RuntimeError):
    """A notification could not be delivered yet; a retry may deliver it."""


@dataclass(frozen=True)
class Settings:
    topic_arn_prefix: str
    fallback_route: str
    dashboard_name: str | None
    env: str | None
    stack_region: str | None
    state_table: str | None
    group_wait: int = 0
    deferred_queue_url: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        missing = [name for name in ("TOPIC_ARN_PREFIX", "FALLBACK_ROUTE") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"notifier misconfigured: {', '.join(missing)} not set")
        return cls(
            topic_arn_prefix=os.environ["TOPIC_ARN_PREFIX"],
            fallback_route=os.environ["FALLBACK_ROUTE"],
            dashboard_name=os.environ.get("DASHBOARD_NAME") or None,
            env=os.environ.get("VIGIL_ENV") or None,
            stack_region=os.environ.get("STACK_REGION")
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or None,
            state_table=os.environ.get("STATE_TABLE") or None,
            group_wait=int(os.environ.get("GROUP_WAIT_SECONDS") or 0),
            deferred_queue_url=os.environ.get(deferred.QUEUE_ENV) or None,
        )


@dataclass(frozen=True)
class Outgoing:
    """One rendered notification, the routes it goes to, and the alarm it is about."""

    routes: tuple[str, ...]
    notification: Notification
    fallback: bool
    alarm: Salvage  # name, state, region and metadata, for a plain form
    event: AlarmEvent | None = None  # what the outputs are told about; None when it could not be read
    note: str | None = None  # the silence step's word for the e-mail (a recovery sent during a silence)
    repeat: bool = False  # a repeat or escalation of an ALARM paged before (a ServiceNow work note)


@dataclass
class Tally:
    published: int = 0
    fallbacks: int = 0
    rerouted: int = 0
    skipped: int = 0
    grouped: int = 0  # changes whose routes' page waits for their group's flush
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        counts = {
            "published": self.published,
            "fallbacks": self.fallbacks,
            "rerouted": self.rerouted,
            "skipped": self.skipped,
        }
        # Only with grouping on, so the summary of a notifier without it reads as before.
        return counts | {"grouped": self.grouped} if self.grouped else counts


@dataclass(frozen=True)
class Run:
    """What every payload of one invocation shares."""

    settings: Settings
    links: LinkContext
    store: StateTable | None
    lease_seconds: float
    tally: Tally
    silencing: Silencing = field(default_factory=lambda: Silencing(None, ()))
    remaining_seconds: Callable[[], float | None] = lambda: None  # the invocation's time left, when known
    groups: Groups | None = None  # with the state table: groups to join (when on) and to flush
    defer: deferred.Send | None = None  # sends a message to the deferred queue, when there is one
    paging: repeats.Paging = field(
        default_factory=lambda: repeats.Paging(repeats.Policy(), None, None, None, None, None)
    )
    function_arn: str | None = None  # this function, which the follow-up schedules invoke


def handler(event: Any, context: Any) -> dict[str, int]:
    settings = Settings.from_env()
    logger.append_keys(env=settings.env, request_id=getattr(context, "aws_request_id", None))
    store = StateTable(_dynamodb(), settings.state_table) if settings.state_table else None
    defer = deferred.sender(_sqs(), settings.deferred_queue_url) if settings.deferred_queue_url else None
    run = Run(
        settings=settings,
        links=LinkContext(stack_region=settings.stack_region, dashboard_name=settings.dashboard_name),
        store=store,
        lease_seconds=_lease_seconds(context),
        tally=Tally(),
        silencing=Silencing(store, windows_from_env()),
        remaining_seconds=lambda: seconds_left(context),
        groups=_groups(settings, defer),
        defer=defer,
        paging=repeats.Paging.from_env(),
        function_arn=getattr(context, "invoked_function_arn", None),
    )
    if repeats.is_followup(event):
        follow_up(event, run)
    elif silence_end.is_silence_end(event):
        silence_ended(event, run)
    else:
        for delivery in deliveries(event):
            handle(delivery, run)
    if run.tally.failures:
        raise PublishError(f"{len(run.tally.failures)} publish(es) failed: " + "; ".join(run.tally.failures))
    return run.tally.summary()


def _groups(settings: Settings, defer: deferred.Send | None) -> Groups | None:
    if not settings.state_table:
        return None
    return Groups(
        _dynamodb(),
        settings.state_table,
        settings.env or "",
        settings.group_wait if defer else 0,
        (lambda flush, delay: defer(deferred.flush_body(flush), delay)) if defer else None,
    )


def _lease_seconds(context: Any) -> float:
    """How long this invocation may hold a state change: until its timeout, and a little."""
    left = seconds_left(context)
    return left + 5 if left is not None else DEFAULT_LEASE_SECONDS


def handle(delivery: Delivery, run: Run) -> None:
    message = deferred.message_of(delivery.payload)
    if isinstance(message, Flush):
        flush_group(message, run)
        return
    if message is not None:
        inhibit_check(message.event, run)
        return
    event: AlarmEvent | None = None
    problem: Exception | None = None
    try:
        event = parse_alarm(delivery.payload)
    except NotAStateChange as other:
        _skip(run, "not a state change", alarm=other.alarm_name, detail_type=other.detail_type)
        return
    except Exception as exc:
        problem = exc
    decision = Decision()
    if event is not None:
        found = _silenced_or_stale(event, run)
        if found is None:
            return
        decision = found
    key = delivery_key(event, delivery.transport_id)
    claim = run.store.claim(key, run.lease_seconds) if run.store and key else Claim(ClaimKind.new)
    if not claim.pages:
        reason = "already delivered" if claim.kind is ClaimKind.done else "being delivered by another invocation"
        _skip(run, reason, alarm=event.alarm_name if event else None, key=f"{key.pk} {key.sk}" if key else None)
        return
    outgoing = replace(prepare(delivery.payload, event, problem, run), note=decision.note)
    first_page(outgoing, key, claim, run)


def first_page(outgoing: Outgoing, key: Key | None, claim: Claim, run: Run, *, group: bool = True) -> None:
    """A state change's page: an ALARM's repeats and acknowledgement link begin, the change joins its
    service's group (when `group` and grouping is on) or is delivered now."""
    if outgoing.event is not None and not outgoing.fallback and claim.kind is ClaimKind.new:
        outgoing = begin_paging(outgoing, outgoing.event, run)
    if group and claim.kind is ClaimKind.new and join_group(outgoing, key, claim, run):
        return
    deliver(outgoing, key, claim, run)


# --- repeats, escalation, acknowledgement (vigil.notifier.repeats) --------------------------------


def begin_paging(outgoing: Outgoing, event: AlarmEvent, run: Run) -> Outgoing:
    """An ALARM's first page: its follow-ups scheduled and its acknowledgement link; an OK: who acknowledged."""
    if run.store is None:
        return outgoing
    line = repeats.begin(run.paging, run.store, _scheduler, event, run.function_arn, outgoing.routes)
    return _with_line(outgoing, line)


def follow_up(payload: dict[str, Any], run: Run) -> None:
    """A repeat or escalation fires: page again if the same ALARM stands unacknowledged and unsilenced;
    a repeat then schedules the next one."""
    try:
        follow = repeats.FollowUp.model_validate(payload)
    except ValidationError as exc:
        _skip(run, "unreadable follow-up payload", level="error", error=str(exc)[:500])
        return
    record = repeats.Record.of(run.store.get(repeats.record_key(follow.alarm_arn))) if run.store else None
    # A failure here raises: Lambda retries the invocation, then sends it to the failure queue.
    alarm = repeats.describe(_cloudwatch(), follow.alarm_arn)
    stop = repeats.why_stop(follow, alarm, record)
    if stop or alarm is None:
        _skip(run, f"{follow.vigil} {follow.count} stops: {stop}", alarm=follow.alarm_arn)
        return
    if run.silencing.silence_for(alarm) is not None:
        _skip(run, f"{follow.vigil} {follow.count} held back by a silence", alarm=alarm.alarm_name)
    else:
        key = Key(alarm_partition(alarm), f"repeat#{repeats.schedule_name(follow)}")
        claim = run.store.claim(key, run.lease_seconds) if run.store else Claim(ClaimKind.new)
        if claim.pages:
            outgoing = prepare(None, alarm, None, run)
            notification = repeats.follow_up_form(outgoing.notification, follow, run.paging.policy)
            outgoing = replace(outgoing, routes=tuple(follow.routes), notification=notification, repeat=True)
            link = run.paging.ack_paragraph(follow.alarm_arn, follow.at, outgoing.routes)
            deliver(_with_line(outgoing, link), key, claim, run)
        else:
            _skip(run, f"{follow.vigil} {follow.count} paged already", alarm=alarm.alarm_name)
    following = repeats.next_repeat(run.paging.policy, follow, alarm, datetime.fromtimestamp(repeats.clock(), UTC))
    if following is not None and run.function_arn:
        run.paging.schedule(_scheduler(), following, run.function_arn)


def _scheduler() -> Any:
    return _client("scheduler")


# --- the page at an ad-hoc silence's end (vigil.notifier.silence_end) ----------------------------


def _arrange_silence_end(event: AlarmEvent, silence: Silence, run: Run) -> None:
    """A held change: when an ad-hoc silence covers it, look at it again at `silence`'s end (the longest
    silence or window covering it). Only for ALARM (vigil.notifier.silence_end.plan)."""
    adhoc = run.silencing.adhoc_for(event)
    if adhoc is not None:  # else a window alone: CloudWatch runs the muted ALARM action at its end
        _arrange(event, silence.end, (adhoc.name, adhoc.end), run)


def _arrange(event: AlarmEvent, end: datetime, held_by: tuple[str, datetime], run: Run) -> None:
    """The follow-up at `end`. One that could not be scheduled fails the invocation, so its retries and,
    in the end, the failure queue's self-monitoring alarm keep the page from being lost silently."""
    planned = silence_end.plan(event, end, held_by, datetime.fromtimestamp(repeats.clock(), UTC))
    if planned is None:
        return
    if not (run.paging.can_schedule and run.function_arn):
        logger.error(
            "no schedule group, role or dead-letter queue: a held ALARM is not looked at again when its silence ends",
            extra={"alarm": event.alarm_name, "silence": held_by[0]},
        )
        return
    when, follow = planned
    if run.paging.create(_scheduler(), silence_end.schedule_name(follow, when), follow, when, run.function_arn):
        logger.info("silence end follow-up scheduled", extra={"alarm": event.alarm_name, "at": when.isoformat()})
    else:
        run.tally.failures.append(f"{event.alarm_name}: the follow-up at its silence's end ({end}) was not scheduled")


def silence_ended(payload: dict[str, Any], run: Run) -> None:
    """The silence that held an ALARM has ended: page it if that ALARM still stands and nothing covers it
    now, arrange again if something does, hold it while its inhibitor is in ALARM, nothing if it is over."""
    try:
        follow = silence_end.SilenceEnd.model_validate(payload)
    except ValidationError as exc:
        _skip(run, "unreadable silence-end payload", level="error", error=str(exc)[:500])
        return
    # A failure here raises: Lambda retries the invocation, then sends it to the failure queue.
    alarm = repeats.describe(_cloudwatch(), follow.alarm_arn)
    over = repeats.episode_over(follow.at, alarm)
    if over or alarm is None:
        _skip(run, f"held ALARM not paged at its silence's end: {over}", alarm=follow.alarm_arn)
        return
    # That ALARM, on the timestamp its held copies carried: the same dedup key, `last` and ack link.
    alarm = alarm.model_copy(update={"state_time": repeats.moment(follow.at)})
    still = run.silencing.silence_at(alarm, datetime.fromtimestamp(repeats.clock(), UTC))
    if still is not None:
        # The page names the ad-hoc silence that held it last; a window is not one.
        held_by = (still.name, still.end) if still.kind == "adhoc" else (follow.silence, follow.until)
        _arrange(alarm, still.end, held_by, run)
        _skip(run, f"held ALARM still silenced by {still.label}", alarm=alarm.alarm_name)
        return
    # An inhibited signal's ALARM waits for its inhibitor as any other does; its wait is long over, so
    # only whether the inhibitor is in ALARM now counts.
    if inhibition.hold_seconds(alarm) and _still_inhibited(alarm, run):
        return
    key = delivery_key(alarm, None)
    claim = run.store.claim(key, run.lease_seconds) if run.store and key else Claim(ClaimKind.new)
    if not claim.pages:
        _skip(run, "held ALARM paged already", alarm=alarm.alarm_name)
        return
    if run.store:
        run.store.mark_held(alarm, held=False)  # paged after all: its recovery pages during a later silence
    outgoing = prepare(None, alarm, None, run)
    line = silence_end.held_line(follow, run.silencing.adhoc(follow.silence))
    first_page(replace(outgoing, notification=silence_end.page_form(outgoing.notification, line)), key, claim, run)


def _with_line(outgoing: Outgoing, line: str | None) -> Outgoing:
    return replace(outgoing, notification=repeats.with_line(outgoing.notification, line)) if line else outgoing


def _silenced_or_stale(event: AlarmEvent, run: Run) -> Decision | None:
    """The silence step's decision for a change that goes on; None for one that stops here."""
    silent = why_silent(event)
    if silent:
        _skip(run, silent, alarm=event.alarm_name, state=event.state.value, source=event.source)
        return None
    silence = run.silencing.silence_for(event)
    advanced = run.store.advance(event) if run.store else Advance()
    stale = advanced.stale
    if stale:
        # Sending it would leave on-call with an older state as the last word about this alarm.
        _skip(
            run,
            "older than the last state change paged",
            level="warning",
            alarm=event.alarm_name,
            state=event.state.value,
            at=event.state_time.isoformat() if event.state_time else None,
            last_state=stale.state,
            last_at=stale.at,
        )
        return None
    unresolved = nothing_to_resolve(event, advanced) or (
        None if silence else inhibition.never_paged(event, advanced.previous)
    )
    if unresolved and run.store:
        # Recorded as done, so its second copy (alarm action or rule) stops at the dedup claim.
        key = delivery_key(event, None)
        if key and run.store.claim(key, run.lease_seconds).pages:
            run.store.finish(key)
        _skip(run, unresolved, alarm=event.alarm_name, state=event.state.value)
        return None
    decision = run.silencing.decide(event, silence, advanced.previous)
    if decision.hold:
        if decision.silence is not None:
            _arrange_silence_end(event, decision.silence, run)
        _skip(run, decision.hold, alarm=event.alarm_name, state=event.state.value)
        return None
    if _held_for_inhibitor(event, run):
        return None
    return decision


def _skip(run: Run, reason: str, level: str = "info", **extra: Any) -> None:
    run.tally.skipped += 1
    getattr(logger, level)(f"nothing to page: {reason}", extra={"reason": reason, **extra})


def prepare(payload: Any, event: AlarmEvent | None, problem: Exception | None, run: Run) -> Outgoing:
    """Render one alarm payload; on any failure, the plain fallback. Never raises."""
    if event is not None:
        try:
            notification = render(event, run.links, alarm_evidence(event))
        except Exception as exc:
            return _fallback(payload, exc, event, run)
        routes = tuple(event.meta.routes) if event.meta else ()
        return Outgoing(
            routes=_routes(routes, run.settings),
            notification=notification,
            fallback=False,
            alarm=Salvage(name=event.alarm_name, state=event.state.value, region=event.region, meta=event.meta),
            event=event,
        )
    return _fallback(payload, problem, None, run)


def alarm_evidence(event: AlarmEvent) -> evidence.Evidence | ecs_evidence.EcsEvidence | None:
    """On ALARM, what stands behind it: a checker's last run (reason, samples), or an ECS service's
    stopped tasks and failed deployment; None otherwise or on any trouble."""
    meta = event.meta
    if event.state != AlarmState.alarm or meta is None or event.state_time is None:
        return None
    if meta.ecs is not None:
        return ecs_evidence.fetch(_logs(), meta.ecs, meta.signal, event.state_time)
    if meta.logs:
        return evidence.fetch(_logs(), meta.logs, meta.check, event.state_time)
    return None


def _fallback(payload: Any, exc: Exception | None, event: AlarmEvent | None, run: Run) -> Outgoing:
    found = salvage(payload)
    notification = render_fallback(payload, exc, run.links, found)
    meta = event.meta if event is not None else found.meta
    # Only names and the error go to the log: the payload is not ours to copy around.
    logger.error(
        "alarm event could not be rendered; sending the plain fallback",
        extra={
            "alarm": notification.alarm_name,
            "state": notification.state,
            "stage": "render" if event is not None else "parse",
            "error_type": type(exc).__name__,
            "error": str(exc)[:500],
        },
    )
    routes = tuple(meta.routes) if meta else ()
    return Outgoing(
        routes=_routes(routes, run.settings), notification=notification, fallback=True, alarm=found, event=event
    )


def _routes(routes: tuple[str, ...], settings: Settings) -> tuple[str, ...]:
    """Each route once, in order; an alarm that names none still reaches the fallback route."""
    unique = tuple(dict.fromkeys(r for r in routes if r))
    return unique or (settings.fallback_route,)


# --- grouping (vigil.notifier.grouping) ---------------------------------------------------------------


def join_group(outgoing: Outgoing, key: Key | None, claim: Claim, run: Run) -> bool:
    """True when the change joined its service's group: its routes' page waits for the group's flush,
    its outputs (one incident per alarm) are delivered now. False: the caller pages it now."""
    groups, event = run.groups, outgoing.event
    # A fallback or a recovery during a silence carries its own words: it goes out alone.
    if groups is None or not groups.enabled or outgoing.fallback or outgoing.note or event is None or not event.meta:
        return False
    joined = groups.join(Member.of(event, outgoing.notification, outgoing.routes))
    if joined.joined:
        run.tally.grouped += 1
        logger.info(
            "change joined its group", extra={"alarm": event.alarm_name, "group": joined.flush and joined.flush.group}
        )
        for route in outgoing.routes:
            _mark(run, key, route)  # the group's page covers them: a retry of this change skips them
        outputs_done = deliver_outputs(outgoing, key, claim, run)
        if run.store and key:
            (run.store.finish if outputs_done else run.store.release)(key)
    if joined.flush is not None and joined.flush_now:
        flush_group(joined.flush, run)
    return joined.joined


def flush_group(flush: Flush, run: Run) -> None:
    """One page per route for the group's changes: a lone change as it was rendered, more as a list."""
    if run.groups is None:
        logger.error("a group flush arrived, but the notifier has no state table", extra={"group": flush.group})
        return
    try:
        members = collapse(run.groups.close(flush))
    except Exception as exc:  # the table is down: the flush message stays for SQS to bring back
        run.tally.failures.append(f"group {flush.group} not flushed: {describe(exc)}")
        return
    logger.info(
        "group flushed",
        extra={"group": flush.group, "group_id": flush.group_id, "alarms": [m.event.alarm_name for m in members]},
    )
    for route, mine in by_route(members).items():
        notification = mine[0].notification if len(mine) == 1 else render_group(mine)
        key = Key(flush.group, f"sent#{flush.group_id}#{route}")
        claim = run.store.claim(key, run.lease_seconds) if run.store else Claim(ClaimKind.new)
        if not claim.pages:
            _skip(run, "group page already delivered", route=route, group=flush.group)
            continue
        first = mine[0].event
        alarm = Salvage(name=notification.alarm_name, state=notification.state, region=first.region, meta=first.meta)
        deliver(Outgoing(routes=(route,), notification=notification, fallback=False, alarm=alarm), key, claim, run)


# --- inhibition (vigil.notifier.inhibition) -------------------------------------------------------


def _held_for_inhibitor(event: AlarmEvent, run: Run, seconds: int | None = None) -> bool:
    """Hold an inhibited signal's ALARM back: look at it again `seconds` (its wait) later. False when it
    cannot be held (no deferred queue, SQS refused): it pages now."""
    meta = event.meta
    seconds = seconds or inhibition.hold_seconds(event)
    if not seconds or run.defer is None or meta is None:
        return False
    try:
        run.defer(deferred.check_body(event), seconds)
    except Exception as exc:
        logger.error("could not hold the ALARM back for its inhibitor: paging it now", extra={"error": describe(exc)})
        return False
    if run.store:
        run.store.mark_held(event)
    _skip(run, f"held back {seconds}s for {meta.inhibited_by}", alarm=event.alarm_name, state=event.state.value)
    return True


def inhibit_check(event: AlarmEvent, run: Run) -> None:
    """A held ALARM's wait is over: page it, hold it again, or let it go (inhibition.verdict)."""
    if _still_inhibited(event, run):
        return
    if run.store:
        run.store.mark_held(event, held=False)
    key = delivery_key(event, None)
    claim = run.store.claim(key, run.lease_seconds) if run.store and key else Claim(ClaimKind.new)
    if not claim.pages:
        _skip(run, "already delivered", alarm=event.alarm_name)
        return
    first_page(prepare(None, event, None, run), key, claim, run, group=False)  # repeats and ack link too


def _still_inhibited(event: AlarmEvent, run: Run) -> bool:
    """An inhibited signal's ALARM whose wait is over: True when it pages nothing now, held again (its
    inhibitor is in ALARM) or let go (inhibition.verdict); False: page it."""
    meta = event.meta
    assert meta is not None and meta.inhibited_by
    try:
        seen = inhibition.describe(_cloudwatch(), [meta.inhibited_by, event.alarm_name])
        verdict = inhibition.verdict(event, seen.get(event.alarm_name), seen.get(meta.inhibited_by))
    except Exception as exc:  # CloudWatch cannot say: page rather than stay quiet
        logger.warning("could not ask CloudWatch about a held ALARM: paging it", extra={"error": describe(exc)})
        verdict = inhibition.Verdict.page
    if verdict is inhibition.Verdict.drop:
        _skip(run, "no longer in ALARM, or in ALARM again since (that change has its own wait)", alarm=event.alarm_name)
        return True
    return verdict is inhibition.Verdict.hold and _held_for_inhibitor(event, run, meta.inhibit_extension)


# --- publishing -----------------------------------------------------------------------------------


def _rerouted_mark(route: str) -> str:
    """The state table's note that the fallback route was told about `route`'s refusal."""
    return f"!rerouted:{route}"


def deliver(outgoing: Outgoing, key: Key | None, claim: Claim, run: Run) -> None:
    """Publish to every route not delivered yet, then deliver to the routes' outputs."""
    tally = run.tally
    tally.fallbacks += outgoing.fallback
    refused: dict[str, tuple[Failure, str]] = {}
    pending = False
    for route in outgoing.routes:
        if route in claim.delivered:
            logger.info("route already has it", extra={"route": route, "alarm": outgoing.alarm.name})
            continue
        # The silence footer: what silences held back since this route's last page.
        notification, told = run.silencing.annotate(outgoing.notification, route, outgoing.note)
        error = _publish(run.settings, route, notification)
        if error is None:
            tally.published += 1
            run.silencing.reported(told, route)
            _mark(run, key, route)
            logger.info(
                "notification published",
                extra={
                    "route": route,
                    "alarm": outgoing.notification.alarm_name,
                    "state": outgoing.notification.state,
                    "fallback": outgoing.fallback,
                },
            )
            continue
        kind = classify(error)
        if kind is Failure.transient:
            tally.failures.append(f"{route}: {describe(error)}")
            pending = True
        else:
            refused[route] = (kind, describe(error))
    unreported = {r: why for r, why in refused.items() if _rerouted_mark(r) not in claim.delivered}
    if unreported and not reroute(outgoing, unreported, key, run):
        pending = True
    if not deliver_outputs(outgoing, key, claim, run):
        pending = True
    if run.store and key:
        if pending:
            run.store.release(key)
        else:
            run.store.finish(key)


def reroute(outgoing: Outgoing, refused: dict[str, tuple[Failure, str]], key: Key | None, run: Run) -> bool:
    """Tell the fallback route which routes refused and why, with the notification; plainly if need be.

    True once the fallback route took it; False when it did not (the caller then raises).
    """
    fallback = run.settings.fallback_route
    reasons = {route: why for route, (_, why) in refused.items()}
    refusals = "; ".join(f"{route}: {why}" for route, why in reasons.items())
    logger.error(
        "route topic refused the notification for good; rerouting to the fallback route",
        extra={"alarm": outgoing.alarm.name, "refused": reasons, "fallback_route": fallback},
    )
    forms: list[Notification] = []
    if refused.get(fallback, (None,))[0] is not Failure.route:  # else its own topic is broken: nothing helps
        if all(kind is Failure.route for kind, _ in refused.values()):
            forms.append(render_rerouted(outgoing.notification, reasons))
        forms.append(
            render_plain(
                outgoing.alarm,
                f"Route {', '.join(refused)} refused the notification for good, so this plain message "
                "comes to the fallback route instead.",
                refusals,
                run.links,
            )
        )
    for form in forms:
        error = _publish(run.settings, fallback, form)
        if error is None:
            run.tally.rerouted += 1
            for route in refused:
                _mark(run, key, _rerouted_mark(route))
            return True
        kind = classify(error)
        if kind is Failure.transient:
            run.tally.failures.append(f"{fallback} (rerouted): {describe(error)}")
            return False
        if kind is Failure.route:
            break
    # Nothing a retry can fix, but the event must not vanish quietly: raising sends it to the
    # notifier's failure queue, whose alarm pages the self-monitoring route without the notifier.
    run.tally.failures.append(f"no route took the notification for {outgoing.alarm.name} ({refusals})")
    return False


def deliver_outputs(outgoing: Outgoing, key: Key | None, claim: Claim, run: Run) -> bool:
    """The routes' outputs not delivered yet; a failed one pages the fallback (self-monitoring) route
    once. False when that page could not go out yet (a retry may send it)."""
    if outgoing.event is None:
        return True  # nothing readable to open an incident about; the plain fallback went by SNS
    todo = route_outputs.pending(outgoing.routes, claim.delivered)
    outcome = route_outputs.run_outputs(
        outgoing.event,
        outgoing.notification,
        todo,
        environment=run.settings.env or "",
        links=run.links,
        repeat=outgoing.repeat,
        budget_seconds=route_outputs.budget(run.remaining_seconds()),
    )
    if outcome is None:
        return True
    for route, output in outcome.delivered():
        _mark(run, key, route_outputs.delivered_mark(route, output))
    page, marks = route_outputs.down_page(outcome, claim.delivered)
    if page is None:
        return True
    error = _publish(run.settings, run.settings.fallback_route, page)
    if error is None:
        run.tally.published += 1
        for mark in marks:
            _mark(run, key, mark)
        return True
    if classify(error) is Failure.transient:
        run.tally.failures.append(f"{run.settings.fallback_route} (output down): {describe(error)}")
        return False
    logger.error("the output-down page was refused", extra={"route": run.settings.fallback_route})
    return True


def _publish(settings: Settings, route: str, notification: Notification) -> Exception | None:
    subject, message = sns_message(notification)
    topic_arn = settings.topic_arn_prefix + route
    try:
        _sns().publish(TopicArn=topic_arn, Subject=subject, Message=message, MessageStructure="json")
    except Exception as exc:  # keep going: the other routes still deserve their alert
        logger.exception(
            "publish failed", extra={"route": route, "topic_arn": topic_arn, "alarm": notification.alarm_name}
        )
        return exc
    return None


def _mark(run: Run, key: Key | None, name: str) -> None:
    if run.store and key:
        run.store.delivered(key, name)
