"""The notifier's deferred queue: messages it sends itself with a delay, which come back through an
event source mapping (vigil.notifier.deferred): each group's flush, `group_wait` after its first
change (vigil.notifier.grouping), and each ALARM held back for its inhibitor, at the end of its wait
(vigil.notifier.inhibition). Built whatever `group_wait` is: inhibition needs it too.

A message that fails three times goes to the notifier's failure queue, whose alarm pages the
self-monitoring route: a group that cannot be flushed is never lost silently.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from vigil.notifier.deferred import QUEUE_ENV

GROUP_WAIT_ENV = "GROUP_WAIT_SECONDS"
MAX_RECEIVE_COUNT = 3
# Lambda's guidance for SQS event sources: a visibility timeout of at least six times the function's.
VISIBILITY_FACTOR = 6
BATCH_SIZE = 10


class DeferredQueue(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        function_timeout: Duration,
        dead_letter_queue: sqs.IQueue,
        group_wait: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(function_timeout.to_seconds() * VISIBILITY_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT, queue=dead_letter_queue),
        )
        self.queue.grant_send_messages(function)
        self.queue.grant_consume_messages(function)
        mapping = lambda_.EventSourceMapping(
            self, "Mapping", target=function, event_source_arn=self.queue.queue_arn, batch_size=BATCH_SIZE
        )
        nag.acknowledge(
            mapping,
            ["Serverless-LambdaEventSourceMappingDestination"],
            "An SQS event source takes no on-failure destination; the queue's redrive policy moves a message that failed three times to the notifier's failure queue, whose alarm pages.",
        )
        function.add_environment(QUEUE_ENV, self.queue.queue_url)
        function.add_environment(GROUP_WAIT_ENV, str(group_wait))
