"""`make demo`, step "a burst of 4 alarms becomes 1 grouped page".

After the main story, four alarms of the demo's one service (the database error log's patterns, as
a failing disk would match them) go to ALARM within seconds, each
through both paths (alarm action and EventBridge rule), with grouping on as deployed
(`paging.group_wait`, the deferred queue the stack built). The notifier pages nothing during the
wait: each change joins the service's group, and the first one sends the flush message to the
deployed deferred queue with the wait as its delay. The demo records that message and, once the
simulated wait is over, hands it to the notifier as the event source mapping would (moto delays
messages in real time, and nothing in moto invokes a function from a queue). One page per route
comes out, listing the four; then the four recover together, and one recovery page follows.

The main story runs with grouping off (the demo's notifier gets only the windows and outputs of the
deployed environment), so its pages come at the minute of their change.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from infra.alarm_events import eventbridge_event
from infra.alarm_model import AlarmState
from infra.deferred_queue import GROUP_WAIT_ENV
from vigil.notifier.deferred import QUEUE_ENV

BURST = 4
STEP_SECONDS = 5  # between the burst's changes, in simulated time


class SentMessages:
    """Every SQS SendMessage made through the default session, as sent."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.items.append(dict(params))


@contextlib.contextmanager
def grouping_on(deployed: dict[str, str]) -> Iterator[int]:
    """The deployed notifier's grouping variables in this process's environment; yields the wait."""
    variables = {name: deployed[name] for name in (QUEUE_ENV, GROUP_WAIT_ENV)}
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield int(variables[GROUP_WAIT_ENV])
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    """What the event source mapping hands the notifier once the message's delay is over."""
    return {"Records": [{"messageId": "demo-flush", "eventSource": "aws:sqs", "body": message["MessageBody"]}]}


def run_grouping_step(
    notifier: Any,
    publications: Sequence[dict[str, Any]],
    change: Callable[[Any, AlarmState, int], dict[str, Any]],
    burst: Sequence[Any],
    names: Sequence[str],
    deployed: dict[str, str],
    out: Callable[[str], None],
) -> bool:
    """The printed step; True when each burst paged nothing during the wait and one page after it.

    `change(track, new state, seconds into the step)`: the alarm action of one change; `names`: the
    burst's alarm names; `publications`: every SNS Publish, as sent.
    """
    import boto3

    out(f"\n== a burst of {BURST} alarms becomes 1 grouped page")
    if GROUP_WAIT_ENV not in deployed or QUEUE_ENV not in deployed:
        out("   the deployed notifier has no deferred queue (paging.group_wait is 0s): nothing to show")
        return False
    sent = SentMessages()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("provide-client-params.sqs.SendMessage", sent)
    shown = True
    with grouping_on(deployed) as wait:
        out(f"   group_wait {wait}s; deferred queue {deployed[QUEUE_ENV].rsplit('/', 1)[-1]}")
        at = 0
        for new in (AlarmState.ALARM, AlarmState.OK):
            before, messages, opened = len(publications), len(sent.items), at
            for track, name in zip(burst, names, strict=True):
                by_action = change(track, new, at)
                notifier.handler(by_action, None)
                notifier.handler(eventbridge_event(by_action), None)
                out(f"   +{at}s: {name} {new.value} (alarm action and EventBridge rule): joined the group")
                at += STEP_SECONDS
            during = len(publications) - before
            flushes = sent.items[messages:]
            out(
                f"   pages published during the wait: {during}; flush messages sent: {len(flushes)}"
                + (f" (DelaySeconds {flushes[0].get('DelaySeconds')})" if flushes else "")
            )
            at = max(at, opened + wait)
            out(f"   +{at}s: the wait is over: the deferred queue brings the flush to the notifier")
            for message in flushes:
                notifier.handler(sqs_record(message), None)
            pages = list(publications[before + during :])
            for params in pages:
                sms = json.loads(params["Message"])["sms"]
                out(f"   grouped page → {params['TopicArn'].rsplit(':', 1)[-1]}")
                out(f"      e-mail subject: {params.get('Subject', '')}")
                out(f"      SMS ({len(sms)} chars): {sms}")
            shown = shown and during == 0 and len(flushes) == 1 and len(pages) == 1
            at += 60  # a minute later, the other way
    out(f"   {BURST} alarms, 1 page" if shown else "   the burst did not become one page")
    return shown
