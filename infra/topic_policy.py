"""Which AWS services may publish to vigil's topics, and use the key that encrypts them.

A topic with an AWS::SNS::TopicPolicy loses SNS's default policy, the one that lets the account's
own services publish. CDK's `enforce_ssl` makes such a policy holding only the SSL deny, so unless
it also allows them, CloudWatch alarms cannot publish ("... is not authorized to perform:
SNS:Publish" in the alarm's history) and nobody is paged. Every topic an alarm action or an
EventBridge rule targets gets an explicit grant here, for that service and this environment only:

- CloudWatch alarms (cloudwatch.amazonaws.com): sns:Publish with aws:SourceAccount = this account
  and aws:SourceArn ArnLike this environment's alarms, arn:<partition>:cloudwatch:<region>:
  <account>:alarm:vigil-<env>-* (SNS developer guide, "Example cases for Amazon SNS access
  control": https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html; and
  https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger). Its KMS request
  carries the same source keys, so the key grant has the same conditions.
- EventBridge rules (events.amazonaws.com): sns:Publish with aws:SourceArn = the rule's ARN
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions).
  Older versions of that page said SNS topic policies for EventBridge could not use Condition
  blocks: no vigil rule targets a topic yet, so prove it on a real account before the first does.
  The key grant carries no condition: the SNS developer guide says aws:SourceAccount and
  aws:SourceArn are not supported in a KMS key policy for EventBridge-to-encrypted topics; a
  condition there would drop every event.
- Both need kms:GenerateDataKey* and kms:Decrypt on the topic's key ("Enable compatibility between
  event sources from AWS services and encrypted topics",
  https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).

tests/support/policy_walk.py checks every alarm action and rule target of a synthesized app
against these rules.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns

CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTBRIDGE = "events.amazonaws.com"
KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]


def alarm_arns(env: str) -> str:
    """Every alarm of this environment: their names all start vigil-<env>- (vigil.alarm_meta.alarm_name)."""
    return f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:vigil-{env}-*"


class TopicPublishers:
    """Grants services publish on topics encrypted with one key, and that key's use, once per service."""

    def __init__(self, key: kms.IKey, env: str) -> None:
        self._key = key
        self._env = env
        self._key_granted: set[str] = set()

    def allow_alarms(self, *topics: sns.ITopic) -> None:
        """This environment's CloudWatch alarms may publish to each topic (their ALARM/OK actions)."""
        conditions = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": alarm_arns(self._env)},
        }
        for topic in topics:
            topic.add_to_resource_policy(_publish(CLOUDWATCH, topic, conditions))
        self._grant_key("CloudWatchAlarmsUseTheKey", CLOUDWATCH, conditions)

    def allow_rule(self, rule_arn: str, topic: sns.ITopic) -> None:
        """One EventBridge rule may publish to the topic (its target).

        aws_events_targets.SnsTopic adds a grant of its own with no condition (any rule may then
        publish); a target declared without it (events.CfnRule's targets) plus this grant admits
        only this rule. A rule ARN built from the rule's name (rule/<name>) avoids a reference
        cycle when the rule and the topic live in different (nested) stacks.
        """
        topic.add_to_resource_policy(_publish(EVENTBRIDGE, topic, {"ArnEquals": {"aws:SourceArn": rule_arn}}))
        self._grant_key("EventBridgeRulesUseTheKey", EVENTBRIDGE, {})

    def _grant_key(self, sid: str, service: str, conditions: dict[str, Any]) -> None:
        if service in self._key_granted:
            return
        self._key_granted.add(service)
        self._key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(service)],
                actions=KEY_ACTIONS,
                resources=["*"],
                conditions=conditions or None,
            )
        )


def _publish(service: str, topic: sns.ITopic, conditions: dict[str, Any]) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        principals=[iam.ServicePrincipal(service)],
        actions=["sns:Publish"],
        resources=[topic.topic_arn],
        conditions=conditions,
    )
