"""`make demo` end to end: deploy to moto_server, run the checks, notify, recover, stop everything."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from pathlib import Path

import pytest

from infra.demo import run_demo

REPO_ROOT = Path(__file__).resolve().parents[2]


def _cwd(pid: str) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve()
    except OSError:  # gone already, or not ours to read
        return None


def _moto_processes() -> list[str]:
    """This checkout's moto servers: the demo starts them in the repository (infra.local_aws), while
    other checkouts on the machine may start and stop their own at any time."""
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [
        line
        for line in listing.splitlines()
        if ("infra.local_aws" in line or "moto_server" in line) and _cwd(line.split()[0]) == REPO_ROOT
    ]


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
    assert_ecs_tasks_oom_killed_page_with_reason_and_exit_code(text)
    assert_a_missed_heartbeat_pages_did_not_run(text)
    assert_window_silences_an_alarm(text)
    assert_servicenow_incident_created_updated_resolved(text)
    assert_a_burst_of_four_alarms_becomes_one_grouped_page(text)
    assert_a_repeat_fires_twice_then_stops_on_acknowledgement(text)
    assert_an_alarm_still_in_alarm_at_its_silences_end_pages_then(text)
    assert _moto_processes() == before


def email(text: str, heading: str) -> str:
    """The full e-mail the demo printed under '== the full e-mail of the first ALARM of <heading>'."""
    after = text.split(f"== the full e-mail of the first ALARM of {heading} ")[1].splitlines()[1:]
    return "\n".join(line.removeprefix("   | ") for line in itertools.takewhile(lambda x: x.startswith("   |"), after))


def assert_ecs_tasks_oom_killed_page_with_reason_and_exit_code(text: str) -> None:
    """Issue 12: a task that stops with exit code 137 (OOMKilled), through the documented event."""
    assert "== ECS service demo-cluster/campaign-worker in moto ECS, 2 tasks" in text
    assert re.search(
        r"-- minute 2: 2 tasks of campaign-worker OOM-killed \(exit 137, OutOfMemoryError\), ECS started new ones: "
        r"2 of 2 running",
        text,
    )
    received = text.split("what on-call received")[1]
    assert re.search(r"e-mail subject: \[ALARM\]\[critical\] campaign-worker-ecs tasks_crashed - campaigns", received)
    assert re.search(
        r"SMS \(\d+ chars\): ALARM crit campaign-worker-ecs tasks_crashed: 2 >=2 since \d\d:\d\dZ\. "
        r"exit 137 OutOfMemoryError\.",
        received,
    )
    assert re.search(r"e-mail subject: \[OK\]\[critical\] campaign-worker-ecs tasks_crashed recovered", received)
    # ECS replaced every task at once: the task count never looked short, only the crashes page.
    assert "campaign-worker-ecs tasks_short" not in received
    crash = email(text, "campaign-worker-ecs tasks_crashed")
    assert "Stopped tasks of campaign-worker, newest first (ECS task state change events):" in crash
    assert crash.count("EssentialContainerExited: Essential container in task exited") == 2
    assert crash.count("container worker: exit 137: OutOfMemoryError: Container killed due to memory usage") == 2


def assert_a_missed_heartbeat_pages_did_not_run(text: str) -> None:
    """Issue 12: a job pings on time through the real endpoint, misses a run, and the page says so."""
    assert re.search(r"== heartbeat report-export: .* pings go to the deployed table Vigil-demo-\S*Pings", text)
    for minute in (1, 3, 7, 9):
        assert f"-- minute {minute}: job report-export ran and pinged POST /ping/report-export/0: 200 OK" in text
    assert "-- minute 5: job report-export did not run" in text
    received = text.split("what on-call received")[1]
    assert re.search(
        r"-- minute 6 → vigil-demo-oncall\n   e-mail subject: \[ALARM\]\[warning\] report-export missed", received
    )
    assert re.search(r"e-mail subject: \[OK\]\[warning\] report-export missed recovered", received)
    assert "report-export failed" not in received
    missed = email(text, "report-export missed")
    assert re.search(
        r"Last check run \(\S+\): measured: did not run: expected every 2m \+ 1m grace, so by \S+Z; last ping \S+Z",
        missed,
    )


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


def assert_a_burst_of_four_alarms_becomes_one_grouped_page(text: str) -> None:
    """Issue 13: group_wait. Four alarms of one service within the wait: no page during it, then one."""
    step = text.split("\n== a burst of 4 alarms becomes 1 grouped page\n")[1].split("\n== ")[0]
    assert "group_wait 30s; deferred queue" in step
    assert step.count("(alarm action and EventBridge rule): joined the group") == 8
    assert step.count("pages published during the wait: 0; flush messages sent: 1 (DelaySeconds 30)") == 2
    assert re.search(r"e-mail subject: \[ALARM\]\[critical\] 4 alarms - campaigns", step)
    assert re.search(r"SMS \(\d+ chars\): ALARM crit 4 alarms: campaign-db-errors severity-17plus, ", step)
    assert re.search(r"e-mail subject: \[OK\]\[critical\] 4 alarms recovered - campaigns", step)
    assert step.count("grouped page → vigil-demo-oncall") == 2
    assert step.rstrip().endswith("4 alarms, 1 page")


def assert_a_repeat_fires_twice_then_stops_on_acknowledgement(text: str) -> None:
    step = text.split("\n== a repeat fires twice, then stops on acknowledgement\n")[1].split("\n== ")[0]
    alarm = "campaign-api-health down"
    assert re.search(rf"\+  0 min: oncall got '\[ALARM\]\[critical\] {alarm} - campaigns'", step), step
    assert re.search(r"schedules created in vigil-demo-paging: repeat-\S+ at\(\S+\)", step)
    assert re.search(
        rf"\+ 30 min: schedule repeat …-2 fired .*: oncall got 'REPEAT 2: \[ALARM\]\[critical\] {alarm}", step
    )
    assert re.search(
        rf"\+ 60 min: schedule repeat …-3 fired .*: oncall got 'REPEAT 3: \[ALARM\]\[critical\] {alarm}", step
    )
    assert re.search(r"ack link opened \(GET 200: .*\), confirmed by alice \(on call\) \(POST 200: ", step)
    assert re.search(r"\+ 90 min: schedule repeat …-4 fired .*: nothing paged, the alarm was acknowledged", step)
    assert re.search(r"oncall got '\[OK\]\[critical\] .*Acknowledged by alice \(on call\) at ", step)
    assert "repeats paged: 2, then stopped on acknowledgement: True" in step


def assert_an_alarm_still_in_alarm_at_its_silences_end_pages_then(text: str) -> None:
    step = text.split("\n== an ad-hoc silence ends with its alarm still in ALARM\n")[1].split("\n== ")[0]
    alarm = "campaign-api-health down"
    assert re.search(r"\+  5 min: ALARM under the silence: no page; schedules at its end: at\(\S+\)", step), step
    assert re.search(
        rf"\+ 30 min: the silence ended, .*: oncall got 'SILENCE ENDED: \[ALARM\]\[critical\] {alarm}.*"
        r"e-mail: Held by silence demo01 \(bob: deploying the API\) until .* UTC; still in ALARM\.",
        step,
    )
    assert re.search(rf"\+ 40 min: recovered: oncall got '\[OK\]\[critical\] {alarm} recovered", step)
    assert "held quietly: True, paged at the end: True, recovery paged: True" in step
