"""The notifier's state table: what it paged, per alarm and per state change (vigil.notifier.state).

One table for everything the notifier remembers (single-table design, items told apart by key
prefix), so the held-back pages, silences, acknowledgements, repeats and groups still to come add
items, not tables. On-demand billing: a few writes per state change, nothing between.
"""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from vigil.notifier.state import table_name
from vigil.silences.adhoc import PARTITION as SILENCES_PARTITION

TTL_ATTRIBUTE = "expires_at"  # epoch seconds; vigil.notifier.state sets it on every item
# The calls vigil.notifier.state makes: every write is one (mostly conditional) UpdateItem; the one
# read is a Query of the silences partition (ad-hoc silences and what they held back).
TABLE_ACTIONS = ["dynamodb:UpdateItem"]
QUERY_ACTIONS = ["dynamodb:Query"]
ALARM_PARTITIONS = "alarm#*"  # IAM's dynamodb:LeadingKeys pattern for the per-alarm partitions


class NotifierState(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, env: str, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.key = key
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=table_name(env),
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # State that outlives the stack is worse than none: with the table's fixed name, a
            # retained table would block the next deploy of the same environment.
            removal_policy=RemovalPolicy.DESTROY,
        )

    def attach(self, function: lambda_.Function) -> None:
        """The function's only access to the table: its one action, and the key through DynamoDB alone."""
        function.add_environment("STATE_TABLE", self.table.table_name)
        self.table.grant(function, *TABLE_ACTIONS)
        # Reads are for the silences partition only (IAM's dynamodb:LeadingKeys is the partition key).
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=QUERY_ACTIONS,
                resources=[self.table.table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [SILENCES_PARTITION]}},
            )
        )
        self._grant_key(function)

    def grant_alarm_partitions(self, function: lambda_.Function, actions: list[str], *, key: bool = False) -> None:
        """Item `actions` on the alarms' partitions only (`alarm#<ARN>`: a paging record, a state change);
        `key`: and the key through DynamoDB, for a function `attach` did not give it to."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=actions,
                resources=[self.table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [ALARM_PARTITIONS]}},
            )
        )
        if key:
            self._grant_key(function)

    def _grant_key(self, function: lambda_.Function) -> None:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Aws.REGION}.amazonaws.com"}},
            )
        )
