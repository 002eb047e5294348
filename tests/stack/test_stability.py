"""Adding a check never renames or changes what exists: logical ids, types and the properties of
alarms, topics, subscriptions and schedules stay the same.

What may change: the dashboard body (a new panel), and the shared checker function's code hash,
timeout or secret grants when the new check is of an existing kind and placement. Here the new
check runs in a VPC, so it gets its own checker function and every existing function is untouched.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SAMPLE, Synth
from test_lint_nag import lint_all

pytestmark = pytest.mark.slow

FROZEN = {"AWS::CloudWatch::Alarm", "AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::Scheduler::Schedule"}
MAY_CHANGE = {"AWS::CloudWatch::Dashboard"}

NEW_SERVICE = """\
service: billing
team: campaigns
checks:
  - id: billing-internal-health
    kind: http
    severity: critical
    cadence: 2m
    url: https://billing.internal:8443/health
    headers_secret: billing-token
    vpc:
      vpc_id: vpc-0123456789abcdef0
      subnet_ids: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
      security_group_ids: [sg-0123456789abcdef0]
"""


@pytest.fixture(scope="module")
def grown(synthesize: Callable[[Path], Synth], tmp_path_factory: pytest.TempPathFactory) -> Synth:
    catalog = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(SAMPLE, catalog)
    (catalog / "billing.yaml").write_text(NEW_SERVICE)
    settings = catalog / "_settings.yaml"
    secret = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:vigil/billing/token-AbCdEf"
    settings.write_text(
        settings.read_text().replace("secrets:\n", f"secrets:\n  billing-token: {secret}\n" + textwrap.dedent(""))
    )
    return synthesize(catalog)


def test_existing_resources_keep_their_ids_and_types(sample: Synth, grown: Synth) -> None:
    for logical_id, resource in sample.resources.items():
        assert logical_id in grown.resources, f"{logical_id} vanished"
        assert grown.resources[logical_id]["Type"] == resource["Type"]
    assert len(grown.resources) > len(sample.resources)


def test_existing_alarms_topics_subscriptions_schedules_are_unchanged(sample: Synth, grown: Synth) -> None:
    for logical_id, resource in sample.resources.items():
        if resource["Type"] in FROZEN:
            assert grown.resources[logical_id]["Properties"] == resource["Properties"], logical_id


def test_only_the_dashboard_changes(sample: Synth, grown: Synth) -> None:
    changed = {
        resource["Type"] for logical_id, resource in sample.resources.items() if grown.resources[logical_id] != resource
    }
    assert changed <= MAY_CHANGE


def test_the_vpc_check_gets_its_own_function_in_its_subnets(sample: Synth, grown: Synth) -> None:
    before = {k for k, f in sample.of_type("AWS::Lambda::Function").items() if "VpcConfig" in f["Properties"]}
    added = [
        f["Properties"]
        for k, f in grown.of_type("AWS::Lambda::Function").items()
        if "VpcConfig" in f["Properties"] and k not in before
    ]
    assert len(added) == 1
    vpc = added[0]["VpcConfig"]
    assert vpc["SubnetIds"] == ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
    assert vpc["SecurityGroupIds"] == ["sg-0123456789abcdef0"]


def test_the_grown_template_lints_and_passes_nag(grown: Synth) -> None:
    assert lint_all(grown) == {}
    assert (grown.outdir / "validation-report.json").exists()
