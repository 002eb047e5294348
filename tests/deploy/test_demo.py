"""`make demo` end to end: deploy to moto_server, run the checks, notify, recover, stop everything."""

from __future__ import annotations

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
    assert _moto_processes() == before
