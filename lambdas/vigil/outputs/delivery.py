"""Delivering one alert to every output of a route, each on its own, within one time budget.

An output that fails, hangs or raises never holds back the others: each runs in its own thread
with the same deadline, and whatever has not answered when the budget is spent is reported as
failed. The report says which outputs failed, and `down_notification` renders the page the
notifier sends to the self-monitoring route for them ("output servicenow-l2 is down").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from vigil.notifier import sms as gsm
from vigil.notifier.render import Notification, fit_sms, fit_subject, subject_safe
from vigil.outputs.alert import Alert
from vigil.outputs.retry import Deadline

DEFAULT_BUDGET_SECONDS = 20.0  # the notifier runs for up to 30 s and still has its SNS publishes to make
# A thread gets this long past the budget to report before it is given up on: every output already
# stops at the shared deadline, so this only covers the bookkeeping after it.
_GRACE_SECONDS = 0.5

logger = logging.getLogger("vigil.outputs")


class Delivery(BaseModel):
    """What one output did with one alert. `error` is safe to log and page with: no secret, no URL."""

    model_config = ConfigDict(frozen=True)

    output: str  # its name in the route (default: its type)
    type: str
    ok: bool
    action: str = ""  # "created INC0010001", "triggered", "posted"
    error: str | None = None
    attempts: int = 0
    seconds: float = 0.0


class Output(Protocol):
    name: str
    type: str

    def send(self, alert: Alert, deadline: Deadline) -> Delivery:
        """Deliver, retrying within the deadline; report failure in the Delivery rather than raise."""
        ...


class DeliveryReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    correlation_id: str
    deliveries: list[Delivery]

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.ok]


def deliver_all(outputs: Sequence[Output], alert: Alert, budget: float = DEFAULT_BUDGET_SECONDS) -> DeliveryReport:
    """Send `alert` to every output concurrently; one Delivery per output, in the outputs' order. Never raises."""
    if not outputs:
        return DeliveryReport(correlation_id=alert.correlation_id, deliveries=[])
    deadline = Deadline.after(budget)
    pool = ThreadPoolExecutor(max_workers=len(outputs), thread_name_prefix="vigil-output")
    try:
        futures = [pool.submit(_send, output, alert, deadline) for output in outputs]
        wait(futures, timeout=budget + _GRACE_SECONDS)
    finally:
        # Never wait for a straggler: it stops at the shared deadline on its own (in Lambda, a thread
        # frozen with the container finds the deadline passed when it thaws, and gives up).
        pool.shutdown(wait=False, cancel_futures=True)
    deliveries = [_outcome(output, future, budget) for output, future in zip(outputs, futures, strict=True)]
    return DeliveryReport(correlation_id=alert.correlation_id, deliveries=deliveries)


def _send(output: Output, alert: Alert, deadline: Deadline) -> Delivery:
    try:
        return output.send(alert, deadline)
    except Exception as exc:  # an output's bug is that output's failure, nobody else's
        where = _raised_at(exc)
        logger.error("output %s (%s) raised %s%s", output.name, output.type, type(exc).__name__, where)
        return Delivery(output=output.name, type=output.type, ok=False, error=f"internal error: {type(exc).__name__}")


def _raised_at(exc: BaseException) -> str:
    # File and line, not the message: an unexpected exception's text could quote a secret.
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""


def _outcome(output: Output, future: Future[Delivery], budget: float) -> Delivery:
    if future.done() and not future.cancelled():
        return future.result()
    logger.error("output %s (%s) did not finish within the %gs budget", output.name, output.type, budget)
    return Delivery(
        output=output.name,
        type=output.type,
        ok=False,
        error=f"timeout: no result within the {budget:g}s delivery budget",
        seconds=budget,
    )


def down_notification(report: DeliveryReport, alert: Alert) -> Notification | None:
    """The self-monitoring page for the outputs that failed this alert; None when none did."""
    failed = report.failed
    if not failed:
        return None
    names = ", ".join(d.output for d in failed)
    plural = "s" if len(failed) > 1 else ""
    lines = [
        f"vigil: output{plural} {names} could not deliver an alert.",
        "",
        f"Alert:          {alert.headline}",
        f"Correlation id: {alert.correlation_id}",
        f"Alarm:          {alert.alarm_name}",
        "",
    ]
    for delivery in failed:
        lines.append(f"- {delivery.output} ({delivery.type}): {delivery.error or 'failed'}")
        lines.append(f"  after {delivery.attempts} attempt(s), {delivery.seconds:.1f}s")
    lines += [
        "",
        "Whoever relies on these outputs did not receive this alert from vigil; the route's e-mail",
        "and SMS, and its other outputs, were sent as usual. Check the output's credentials secret",
        "and the service's status; the notifier's logs have each attempt.",
    ]
    subject = fit_subject(
        f"[vigil] output{plural} down: ", subject_safe(names), f" ({subject_safe(alert.environment)})"
    )
    sms = fit_sms(
        gsm.fold(f"vigil output{plural} down:") + " ",  # fold trims the space the name needs
        gsm.fold(names),
        gsm.fold(f". Undelivered: {alert.state} {alert.title}."),
        [],
    )
    return Notification(
        alarm_name=alert.alarm_name,
        state=alert.state,
        subject=subject,
        email="\n".join(lines) + "\n",
        sms=sms,
    )
