"""`make demo` end to end: deploy to moto_server, run the checks, notify, recover, stop everything."""

from __future__ import annotations

import re
import subprocess

import pytest

from infra.demo import run_demo


def _moto_processes() -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if "infra.local_aws" in line or "moto_server" in line]


@pytest.mark.slow
def test_demo_alarms_recovers_and_cleans_up():
    before = _moto_processes()
    lines: list[str] = []
    assert run_demo(out=lines.append) == 0
    text = "\n".join(lines)
    # The failing service and the backlog both page, then recover.
    assert re.search(r"e-mail subject: \[ALARM\]\[critical\] campaign-api-health down", text)
    assert re.search(r"e-mail subject: \[ALARM\]\[critical\] orders-queue backlog", text)
    assert re.search(r"e-mail subject: \[OK\]\[critical\] campaign-api-health down recovered", text)
    assert re.search(r"e-mail subject: \[OK\]\[critical\] orders-queue backlog recovered", text)
    sms = [int(n) for n in re.findall(r"SMS \((\d+) chars\)", text)]
    assert sms and max(sms) <= 160
    # Both paths bring every state change; the state table makes it one page.
    assert re.search(
        r"each of the \d+ state changes reached the notifier twice .*second copies that paged again: 0", text
    )
    # The healthy service never pages.
    assert "checkout-health down" not in text.split("what on-call received")[1]
    assert_window_silences_an_alarm(text)
    assert_servicenow_incident_created_updated_resolved(text)
    # Nothing of the demo's is left running (others' moto servers may come and go meanwhile).
    assert set(_moto_processes()) <= set(before)


def assert_window_silences_an_alarm(text: str) -> None:
    step = text.split("\n== a maintenance window silences an alarm\n")[1].split("\n== ")[0]
    io_error = "vigil-demo-campaign-db-errors-io-error-823"
    assert f"minute 3: {io_error} ALARM: action muted by window sqlserver-patching" in step
    assert f"minute 3: the notifier held back the EventBridge copy of {io_error}'s change" in step
    assert f"minute 4: {io_error} OK: action muted by window sqlserver-patching" in step
    assert (
        f"minute 5: window sqlserver-patching ended, {io_error} still OK: CloudWatch runs the muted action now" in step
    )
    # Nobody was paged for it, and a later page's footer says what the window held.
    received = text.split("what on-call received")[1].split("\n== ")[0]
    assert "campaign-db-errors io-error-823" not in received
    held = re.findall(r"by maintenance window sqlserver-patching: \d+ alarms? held: [^\n]*", step)
    assert any(re.search(r"campaign-db-errors io-error-823 \(ALARM \d\d:\d\d", line) for line in held)
    assert any(
        re.search(r"campaign-db-errors io-error-823 \((ALARM \d\d:\d\d, )?OK \d\d:\d\d\)", line) for line in held
    )


def assert_servicenow_incident_created_updated_resolved(text: str) -> None:
    step = text.split("\n== a ServiceNow incident is created, updated and resolved on the fake server")[1]
    step = step.split("\n== ")[0]
    created = re.search(r"minute \d+: OK -> ALARM: created (INC\d{7}) ", step)
    assert created, step
    number = created.group(1)
    assert re.search(rf"INSUFFICIENT_DATA -> ALARM: work note on {number}: vigil: ALARM again at ", step)
    assert re.search(rf"ALARM -> OK: resolved {number} \(Resolved by caller\)", step)
    assert "problems the fake found in them: 0" in step
    # The simulation's own alarms opened incidents too, and their recoveries resolved them.
    assert re.search(r"INC\d{7} resolved: \[vigil demo\] orders-queue backlog", step)
