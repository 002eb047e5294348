"""A minimal CDK app with the resource kinds vigil uses, to prove cdk bootstrap + deploy on moto.

Independent of vigil's real app (app.py at the repo root): if this deploys and the real app does
not, the difference is in vigil's stack, not in the moto/CLI mechanism.
"""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

STACK_NAME = "VigilSmoke-minimal"

app = cdk.App()
stack = cdk.Stack(app, STACK_NAME, env=cdk.Environment(account="123456789012", region="us-east-1"))
key = kms.Key(stack, "Key", enable_key_rotation=True)
topic = sns.Topic(stack, "Topic", master_key=key)
queue = sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.SQS_MANAGED)
function = lambda_.Function(
    stack,
    "Checker",
    runtime=lambda_.Runtime.PYTHON_3_11,
    handler="index.handler",
    code=lambda_.Code.from_asset(str(Path(__file__).parent / "handler")),
)
topic.grant_publish(function)
cloudwatch.Alarm(
    stack,
    "QueueDepth",
    metric=queue.metric_approximate_number_of_messages_visible(),
    threshold=1,
    evaluation_periods=1,
)
scheduler.Schedule(
    stack,
    "Every5Minutes",
    schedule=scheduler.ScheduleExpression.rate(cdk.Duration.minutes(5)),
    target=scheduler_targets.LambdaInvoke(function),
)
events.Rule(
    stack,
    "AlarmStateChange",
    event_pattern=events.EventPattern(source=["aws.cloudwatch"], detail_type=["CloudWatch Alarm State Change"]),
    targets=[events_targets.LambdaFunction(function)],
)
app.synth()
