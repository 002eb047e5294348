"""Every alarm, and every EventBridge rule that targets a topic, may publish there and use its key.

moto models neither topic nor key policies, so tests/support/policy_walk.py reads the synthesized
templates as AWS evaluates them (the AWS pages each rule comes from are cited there and in
infra/topic_policy.py): alarm action -> topic -> TopicPolicy statement for the publishing service,
with conditions matching the alarm's own ARN and account -> the topic's key -> key policy statement.

It runs on the fixture catalog's synth, on copies of it with a grant removed (the walk must name
what is missing), and on a small app with nested stacks and an EventBridge rule targeting a topic
(vigil has no such rule yet; TopicPublishers.allow_rule is ready for one). vigil's own rules
target other things: the alarm-state rule the notifier Lambda (its Lambda permission is asserted
in test_notifier_stack), the ECS deployment rule a log group (its resource policy in
test_native_kinds). The EC2 recover action of an ec2 check is an alarm action but no publish: the
walk accepts it explicitly, on CloudWatch's own terms for EC2 actions.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Aws, Duration, NestedStack, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from conftest import ENV, Synth

from infra.topic_policy import TopicPublishers
from tests.support.policy_walk import ACCOUNT, CLOUDWATCH, REGION, Request, Templates, allows, walk_publishers

pytestmark = pytest.mark.slow

STACK = f"Vigil-{ENV}"
ALARM_EVENTS_POLICY = "NotificationsAlarmEventsPolicy786D5C26"
KEY = "NotificationsKeyADCFA950"


def alarm_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{name}"


def edited_copy(sample: Synth, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """The sample's cloud assembly with its templates changed by `edit`, which sees every resource of
    them all: the core's by logical id, a service stack's as `<template file>/<logical id>`."""
    out = tmp_path / "cdk.out"
    shutil.copytree(sample.outdir, out, ignore=shutil.ignore_patterns("asset.*"))
    templates = {path: json.loads(path.read_text()) for path in out.glob("*.template.json")}
    core = out / f"{STACK}.template.json"
    edit(
        {
            k if path == core else f"{path.name}/{k}": v
            for path, t in templates.items()
            for k, v in t["Resources"].items()
        }
    )
    for path, template in templates.items():
        path.write_text(json.dumps(template))
    return out


def cloudwatch_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if s.get("Principal") == {"Service": CLOUDWATCH}]


def test_every_alarm_may_publish_to_its_topic_and_use_its_key(sample: Synth) -> None:
    walk = walk_publishers(Templates.from_cdk_out(sample.outdir))

    assert walk.problems == []
    names = {arn.rsplit(":", 1)[1] for arn in walk.alarms}
    assert len(names) >= 50, "the fixture catalog's check and self-monitoring alarms"
    assert any(n.startswith(f"vigil-{ENV}-self-") for n in names), "self-monitoring alarms (route topic) too"
    assert walk.ec2_actions == {(alarm_arn(RECOVERING), f"arn:aws:automate:{REGION}:ec2:recover")}


# The fixture's ec2 check with `recover: true` (tests/fixtures/catalog/campaign-runtime.yaml).
RECOVERING = f"vigil-{ENV}-campaign-events-host-system_status"


def alarm_named(resources: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in resources.values() if r["Properties"].get("AlarmName") == name)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda resources: alarm_named(resources, RECOVERING)["Properties"].update(MetricName="CPUUtilization"),
            f"alarm {RECOVERING} (AlarmActions) -> arn:aws:automate:{REGION}:ec2:recover: recover acts only on "
            "StatusCheckFailed_System, not CPUUtilization",
        ),
        (
            lambda resources: alarm_named(resources, f"vigil-{ENV}-self-notifier-errors")["Properties"].update(
                AlarmActions=[f"arn:aws:automate:{REGION}:ec2:reboot"]
            ),
            f"alarm vigil-{ENV}-self-notifier-errors (AlarmActions) -> arn:aws:automate:{REGION}:ec2:reboot: an EC2 "
            "action needs an alarm on an EC2 per-instance metric (AWS/EC2, dimension InstanceId)",
        ),
        (
            lambda resources: alarm_named(resources, RECOVERING)["Properties"].update(
                AlarmActions=["arn:aws:automate:us-east-1:ec2:recover"]
            ),
            f"alarm {RECOVERING} (AlarmActions) -> arn:aws:automate:us-east-1:ec2:recover: an EC2 action in "
            f"us-east-1, not the alarm's region {REGION}",
        ),
        (
            lambda resources: alarm_named(resources, RECOVERING)["Properties"].update(
                AlarmActions=[f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:restart-broker"]
            ),
            f"alarm {RECOVERING} (AlarmActions) -> arn:aws:lambda:{REGION}:{ACCOUNT}:function:restart-broker: not an "
            "SNS topic: this walk checks SNS deliveries only",
        ),
    ],
    ids=["recover-on-another-metric", "ec2-action-on-a-non-ec2-alarm", "ec2-action-in-another-region", "not-a-topic"],
)
def test_an_alarm_action_that_is_not_a_topic_is_accepted_only_as_a_valid_ec2_action(
    sample: Synth, tmp_path: Path, edit: Callable[[dict[str, Any]], None], expected: str
) -> None:
    walk = walk_publishers(Templates.from_cdk_out(edited_copy(sample, tmp_path, edit)))

    assert walk.problems == [expected]


def test_only_this_environments_alarms_in_this_account_are_admitted(sample: Synth) -> None:
    templates = Templates.from_cdk_out(sample.outdir)
    (template,) = [t for t in templates.templates if ALARM_EVENTS_POLICY in t.resources]  # the core
    topic_policy = templates.resolve(template, template.resources[ALARM_EVENTS_POLICY]["Properties"])
    key_policy = templates.resolve(template, template.resources[KEY]["Properties"]["KeyPolicy"])
    (topic_arn,) = topic_policy["Topics"]

    def may_publish(source: str, account: str = ACCOUNT) -> bool:
        context = {"aws:SourceArn": source, "aws:SourceAccount": account, "aws:SecureTransport": "true"}
        return allows(topic_policy["PolicyDocument"], Request(CLOUDWATCH, "sns:Publish", topic_arn, context)) and all(
            allows(key_policy, Request(CLOUDWATCH, action, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k", context))
            for action in ("kms:GenerateDataKey", "kms:Decrypt")
        )

    assert may_publish(alarm_arn(f"vigil-{ENV}-orders-queue-dlq"))
    assert not may_publish(alarm_arn("vigil-prod-orders-queue-dlq")), "another environment's alarm"
    assert not may_publish(alarm_arn("billing-cpu-high")), "an alarm that is not vigil's"
    assert not may_publish(alarm_arn(f"vigil-{ENV}-x", "210987654321"), "210987654321"), "another account"


def test_route_topics_that_no_alarm_targets_admit_no_cloudwatch(sample: Synth) -> None:
    policies = sample.of_type("AWS::SNS::TopicPolicy")
    admitting = {
        lid for lid, r in policies.items() if cloudwatch_statements(r["Properties"]["PolicyDocument"]["Statement"])
    }
    assert admitting == {ALARM_EVENTS_POLICY, "NotificationsRoutesplatformcriticalPolicyD287B949"}


def test_the_walk_names_the_alarm_the_topic_and_a_missing_topic_grant(sample: Synth, tmp_path: Path) -> None:
    def drop_allow(resources: dict[str, Any]) -> None:
        document = resources[ALARM_EVENTS_POLICY]["Properties"]["PolicyDocument"]
        document["Statement"] = [
            s for s in document["Statement"] if s not in cloudwatch_statements(document["Statement"])
        ]

    walk = walk_publishers(Templates.from_cdk_out(edited_copy(sample, tmp_path, drop_allow)))

    assert (
        f"alarm vigil-{ENV}-orders-queue-dlq (AlarmActions) -> arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-NotificationsAlarmEvents95AC5FD5: TopicPolicy {ALARM_EVENTS_POLICY} grants cloudwatch.amazonaws.com no sns:Publish for {alarm_arn(f'vigil-{ENV}-orders-queue-dlq')}"
        in walk.problems
    )
    assert all(ALARM_EVENTS_POLICY in p for p in walk.problems)
    assert not any(f"vigil-{ENV}-self-" in p for p in walk.problems), "the route topic kept its grant"


def test_the_walk_names_a_missing_or_too_narrow_key_grant(sample: Synth, tmp_path: Path) -> None:
    def account_only_on_another_account(resources: dict[str, Any]) -> None:
        (statement,) = cloudwatch_statements(resources[KEY]["Properties"]["KeyPolicy"]["Statement"])
        statement["Condition"]["StringEquals"]["aws:SourceAccount"] = "210987654321"

    walk = walk_publishers(Templates.from_cdk_out(edited_copy(sample, tmp_path, account_only_on_another_account)))

    assert walk.problems and len(walk.problems) == walk.deliveries
    assert all(
        f"key {KEY} grants cloudwatch.amazonaws.com no kms:GenerateDataKey or kms:Decrypt" in p for p in walk.problems
    )


def test_the_walk_refuses_what_it_cannot_check(sample: Synth, tmp_path: Path) -> None:
    def aws_managed_key_and_foreign_topic(resources: dict[str, Any]) -> None:
        resources["NotificationsAlarmEvents95AC5FD5"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
        self_alarm = next(
            r for r in resources.values() if r["Properties"].get("AlarmName") == f"vigil-{ENV}-self-notifier-errors"
        )
        self_alarm["Properties"]["AlarmActions"] = [f"arn:aws:sns:{REGION}:{ACCOUNT}:someone-elses-topic"]

    walk = walk_publishers(Templates.from_cdk_out(edited_copy(sample, tmp_path, aws_managed_key_and_foreign_topic)))

    assert any("encrypted with alias/aws/sns" in p for p in walk.problems)
    assert (
        f"alarm vigil-{ENV}-self-notifier-errors (AlarmActions) -> arn:aws:sns:{REGION}:{ACCOUNT}:someone-elses-topic: a topic outside these templates: its policies cannot be checked here"
        in walk.problems
    )


# A small app shaped like the split to come: the key and topic in one nested stack, an alarm in
# another, an EventBridge rule (declared without CDK's unconditioned target grant) in the parent.
RULE_NAME = "vigil-demo-probe"


def nested_app(outdir: Path, *, alarm_name: str = "vigil-demo-probe-down", grant_rule: bool = True) -> Path:
    app = App(outdir=str(outdir))
    parent = Stack(app, "Parent")
    topics = NestedStack(parent, "Topics")
    key = kms.Key(topics, "Key", enable_key_rotation=True)
    topic = sns.Topic(topics, "Topic", master_key=key, enforce_ssl=True)
    publishers = TopicPublishers(key, "demo")
    publishers.allow_alarms(topic)
    if grant_rule:
        publishers.allow_rule(f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{RULE_NAME}", topic)
    alarms = NestedStack(parent, "Alarms")
    alarm = cloudwatch.Alarm(
        alarms,
        "Probe",
        alarm_name=alarm_name,
        metric=cloudwatch.Metric(namespace="Vigil", metric_name="Healthy", period=Duration.minutes(1)),
        threshold=1,
        comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluation_periods=1,
    )
    alarm.add_alarm_action(cw_actions.SnsAction(topic))
    events.CfnRule(
        parent,
        "Rule",
        name=RULE_NAME,
        event_pattern={"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]},
        targets=[events.CfnRule.TargetProperty(arn=topic.topic_arn, id="topic")],
    )
    app.synth()
    return outdir


def test_nested_stacks_and_a_rule_targeting_a_topic_are_walked(tmp_path: Path) -> None:
    templates = Templates.from_cdk_out(nested_app(tmp_path / "cdk.out"))

    walk = walk_publishers(templates)

    assert len(templates.templates) == 3 and sum(t.parent is not None for t in templates.templates) == 2
    assert walk.problems == []
    assert walk.alarms == {alarm_arn("vigil-demo-probe-down")}
    assert walk.rules == {f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{RULE_NAME}"}


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            {"grant_rule": False},
            [
                f"rule {RULE_NAME} (target topic) -> arn:aws:sns:{REGION}:{ACCOUNT}:",
                f"grants events.amazonaws.com no sns:Publish for arn:aws:events:{REGION}:{ACCOUNT}:rule/{RULE_NAME}",
            ],
        ),
        (
            {"alarm_name": "probe-down"},
            [
                "alarm probe-down (AlarmActions) -> arn:aws:sns:",
                f"grants cloudwatch.amazonaws.com no sns:Publish for {alarm_arn('probe-down')}",
            ],
        ),
    ],
    ids=["rule-not-granted", "alarm-outside-the-environment"],
)
def test_the_walk_catches_a_missing_grant_across_nested_stacks(
    tmp_path: Path, variant: dict, expected: list[str]
) -> None:
    walk = walk_publishers(Templates.from_cdk_out(nested_app(tmp_path / "cdk.out", **variant)))

    (problem,) = walk.problems
    assert all(fragment in problem for fragment in expected), problem
