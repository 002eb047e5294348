"""Notifier Lambda: alarm state change in, one SNS publish per route out.

Environment:
    TOPIC_ARN_PREFIX  route topic ARN = prefix + route name ("arn:aws:sns:eu-west-1:123456789012:vigil-prod-")
    FALLBACK_ROUTE    route for alarms without vigil metadata, and for events that could not be read
    DASHBOARD_NAME    CloudWatch dashboard linked from emails (optional)
    VIGIL_ENV         environment name, for the logs (optional)

Delivery rules: something always goes out (a plain fallback when parsing or rendering fails), and a
failed publish raises after every target was tried, so Lambda's retries and on-failure destination
keep the event. A retry may repeat a publish that had succeeded: a duplicate beats a lost alert.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from vigil.notifier import evidence
from vigil.notifier.events import AlarmEvent, AlarmState, parse_alarm, salvage, split_event
from vigil.notifier.render import LinkContext, Notification, render, render_fallback, sns_message

logger = Logger(service="vigil-notifier")

# boto3 costs ~200 ms to import: pay it on the first publish, not on every cold start's import.
_clients: dict[str, Any] = {}


def _client(service: str, **config: Any) -> Any:
    """One client per service and container; `config` (botocore Config options) on first creation."""
    if service not in _clients:
        import boto3
        from botocore.config import Config

        _clients[service] = boto3.client(service, config=Config(**config) if config else None)
    return _clients[service]


def _sns() -> Any:
    return _client("sns")


def _logs() -> Any:
    # Evidence is a nicety: a slow Logs API must not hold an alert back (evidence.fetch also stops
    # at its own deadline). One attempt: total_max_attempts counts the first call.
    return _client("logs", connect_timeout=1, read_timeout=3, retries={"total_max_attempts": 1})


class PublishError(RuntimeError):
    """At least one route topic did not accept its notification."""


@dataclass(frozen=True)
class Settings:
    topic_arn_prefix: str
    fallback_route: str
    dashboard_name: str | None
    env: str | None
    region: str | None

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
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
        )


@dataclass(frozen=True)
class Outgoing:
    """One rendered notification and the routes it goes to."""

    routes: tuple[str, ...]
    notification: Notification
    fallback: bool


def handler(event: Any, context: Any) -> dict[str, Any]:
    settings = Settings.from_env()
    logger.append_keys(env=settings.env, request_id=getattr(context, "aws_request_id", None))
    links = LinkContext(console_region=settings.region, dashboard_name=settings.dashboard_name)

    failures: list[str] = []
    published = 0
    fallbacks = 0
    for payload in split_event(event):
        outgoing = prepare(payload, settings, links)
        fallbacks += outgoing.fallback
        subject, message = sns_message(outgoing.notification)
        for route in outgoing.routes:
            topic_arn = settings.topic_arn_prefix + route
            try:
                _sns().publish(TopicArn=topic_arn, Subject=subject, Message=message, MessageStructure="json")
            except Exception as exc:  # keep going: the other routes still deserve their alert
                failures.append(f"{route}: {type(exc).__name__}: {exc}")
                logger.exception(
                    "publish failed",
                    extra={"route": route, "topic_arn": topic_arn, "alarm": outgoing.notification.alarm_name},
                )
            else:
                published += 1
                logger.info(
                    "notification published",
                    extra={
                        "route": route,
                        "alarm": outgoing.notification.alarm_name,
                        "state": outgoing.notification.state,
                        "fallback": outgoing.fallback,
                    },
                )
    if failures:
        raise PublishError(f"{len(failures)} publish(es) failed: " + "; ".join(failures))
    return {"published": published, "fallbacks": fallbacks}


def prepare(payload: Any, settings: Settings, links: LinkContext) -> Outgoing:
    """Parse and render one alarm payload; on any failure, the plain fallback. Never raises."""
    event: AlarmEvent | None = None
    try:
        event = parse_alarm(payload)
        notification = render(event, links, checker_evidence(event))
    except Exception as exc:
        return _fallback(payload, exc, event, settings, links)
    routes = tuple(event.meta.routes) if event.meta else ()
    return Outgoing(routes=_routes(routes, settings), notification=notification, fallback=False)


def checker_evidence(event: AlarmEvent) -> evidence.Evidence | None:
    """On ALARM of a checker's signal, its last run's reason and samples; None otherwise or on any trouble."""
    meta = event.meta
    if event.state != AlarmState.alarm or meta is None or not meta.logs or event.state_time is None:
        return None
    return evidence.fetch(_logs(), meta.logs, meta.check, event.state_time)


def _fallback(
    payload: Any, exc: Exception, event: AlarmEvent | None, settings: Settings, links: LinkContext
) -> Outgoing:
    found = salvage(payload)
    notification = render_fallback(payload, exc, links, found)
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
    return Outgoing(routes=_routes(routes, settings), notification=notification, fallback=True)


def _routes(routes: tuple[str, ...], settings: Settings) -> tuple[str, ...]:
    """Each route once, in order; an alarm that names none still reaches the fallback route."""
    unique = tuple(dict.fromkeys(r for r in routes if r))
    return unique or (settings.fallback_route,)
