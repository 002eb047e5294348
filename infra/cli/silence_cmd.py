"""`python -m infra silence`: ad-hoc silences in the notifier's state table.

    python -m infra silence CHECK|SERVICE --for 2h --reason "SQL Server patching" [--env prod]
    python -m infra silence list [--all] [--env prod]
    python -m infra silence expire ID [--env prod]

A silence holds back the pages of one check, or of every check of one service, from now for the
given time (at most 15 days), on both of the notifier's paths; recoveries of alarms it paged
before still go out (docs/operations.md, Silences). The catalog (the environment's, or --catalog)
says whether the name is a check or a service. The command talks to the environment's table,
`vigil-<env>-notifier-state`, with the caller's AWS credentials (AWS_ENDPOINT_URL for a local
stand-in): dynamodb:PutItem and dynamodb:Query on it, sts:GetCallerIdentity without --by. No aws_cdk here.
"""

from __future__ import annotations

import argparse
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.catalog import Catalog
from infra.cli.common import load_or_report
from infra.environments import get_environment
from vigil.notifier.state import table_name
from vigil.silences.adhoc import MAX_SECONDS, PARTITION, AdhocSilence, Target, is_adhoc
from vigil.silences.held import Held, is_held
from vigil.spec.common import format_duration, parse_duration

FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", help="the check id or service to silence; or 'list', or 'expire'")
    parser.add_argument("id", nargs="?", help="with expire: the id of the silence to end")
    parser.add_argument("--for", dest="duration", help="how long: 30m, 2h, 36h (at most 360h)")
    parser.add_argument("--reason", help="why: shown in `silence list` and in the next page's footer")
    parser.add_argument("--by", help="who sets or ends it (default: the caller's AWS identity)")
    parser.add_argument("--env", default=None, help="environment (environments.yaml; default: demo)")
    parser.add_argument("--catalog", default=None, help="catalog directory (default: the environment's)")
    parser.add_argument("--all", action="store_true", help="with list: also silences that have ended")


def run(args: argparse.Namespace) -> int:
    try:
        environment = get_environment(args.env)
    except ValueError as exc:
        print(f"error: {exc}")
        return FAILED
    table = Table(table_name(environment.name), environment.region)
    try:
        return _act(args, environment.catalog, table, datetime.now(UTC))
    except Exception as exc:
        if type(exc).__module__.split(".")[0] != "botocore":
            raise
        # botocore's messages name the operation, the table and the error code: enough to act on.
        print(
            f"error: {table.name}: {exc} (check the AWS credentials and region, and that the stack is "
            "deployed for this environment there)"
        )
        return FAILED


def _act(args: argparse.Namespace, default_catalog: Path, table: Table, now: datetime) -> int:
    if args.what == "list":
        return list_silences(table, now, show_all=args.all)
    if args.what == "expire":
        if not args.id:
            print("error: expire needs the id of a silence (python -m infra silence list shows them)")
            return FAILED
        return expire(table, args.id, args.by or caller(), now)
    catalog = load_or_report(args.catalog or str(default_catalog))
    if catalog is None:
        return FAILED
    return create(table, catalog, args, now)


def caller() -> str:
    """Who is calling: the last part of the AWS identity's ARN (a user, or a role session)."""
    import boto3

    return str(boto3.client("sts").get_caller_identity()["Arn"]).rsplit("/", 1)[-1]


def target_of(catalog: Catalog, name: str) -> Target | None:
    if any(c.id == name for c in catalog.checks):
        return "check"
    if any(c.service == name for c in catalog.checks):
        return "service"
    return None


def create(table: Table, catalog: Catalog, args: argparse.Namespace, now: datetime) -> int:
    target = target_of(catalog, args.what)
    if target is None:
        services = sorted({c.service for c in catalog.checks})
        print(
            f"error: {args.what!r} is neither a check nor a service of {catalog.root}; "
            f"services: {', '.join(services)} (`python -m infra plan` lists the checks)"
        )
        return FAILED
    if not args.duration or not args.reason:
        print("error: give --for (how long, such as 2h) and --reason (why)")
        return FAILED
    try:
        seconds = int(parse_duration(args.duration))
    except ValueError as exc:
        print(f"error: --for: {exc}")
        return FAILED
    if not 60 <= seconds <= MAX_SECONDS:
        print(f"error: --for {args.duration}: from 1m to {format_duration(MAX_SECONDS)}")
        return FAILED
    silence = AdhocSilence(
        id=secrets.token_hex(3),
        target=target,
        name=args.what,
        reason=args.reason.strip()[:300] or "-",
        created_by=args.by or caller(),
        start=now,
        until=now + timedelta(seconds=seconds),
    )
    table.client.put_item(TableName=table.name, Item=silence.to_item())
    print(
        f"silence {silence.id}: {target} {silence.name} silenced until {_at(silence.until)} by {silence.created_by} "
        f"({silence.reason}); end it early with: python -m infra silence expire {silence.id}"
    )
    return 0


def list_silences(table: Table, now: datetime, *, show_all: bool) -> int:
    adhoc, held = table.read()
    shown = [s for s in adhoc if show_all or s.until > now]
    if not shown:
        print("no silences" + ("" if show_all else " in force (--all shows those that ended)"))
        return 0
    for silence in sorted(shown, key=lambda s: s.start):
        state = "in force" if silence.active_at(now) else "ended"
        if silence.expired_by:
            state = f"expired early by {silence.expired_by}"
        alarms = sorted({h.title for h in held if h.silence_name == silence.id})
        print(
            f"{silence.id}  {silence.target} {silence.name}  {_at(silence.start)} → {_at(silence.until)}  {state}  "
            f"by {silence.created_by}: {silence.reason}"
        )
        if alarms:
            print(f"    held back: {', '.join(alarms)}")
    return 0


def expire(table: Table, silence_id: str, by: str, now: datetime) -> int:
    adhoc, _ = table.read()
    found = next((s for s in adhoc if s.id == silence_id), None)
    if found is None:
        print(f"error: no silence {silence_id!r} (python -m infra silence list --all shows them)")
        return FAILED
    if found.until <= now:
        print(f"silence {silence_id} already ended at {_at(found.until)}")
        return 0
    ended = found.model_copy(update={"until": now, "expired_by": by})
    table.client.put_item(TableName=table.name, Item=ended.to_item())
    print(f"silence {silence_id} ({found.target} {found.name}) ended at {_at(now)} by {by}")
    # The notifier's look at the silence's end stays where it was scheduled (docs/operations.md, Silences).
    print(
        f"  an alarm it held that is still in ALARM pages at {_at(found.until)}, its planned end, or at its next change"
    )
    return 0


class Table:
    """The silences partition of the environment's state table; the client is made on first use, so
    that a missing region or credentials is an error the command reports, like any AWS error."""

    def __init__(self, name: str, region: str | None) -> None:
        self.name = name
        self._region = region
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = (
                boto3.client("dynamodb", region_name=self._region) if self._region else boto3.client("dynamodb")
            )
        return self._client

    def read(self) -> tuple[list[AdhocSilence], list[Held]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PARTITION}},
        }
        while True:
            page = self.client.query(**request)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return (
            [AdhocSilence.from_item(i) for i in items if is_adhoc(i)],
            [Held.from_item(i) for i in items if is_held(i)],
        )


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
