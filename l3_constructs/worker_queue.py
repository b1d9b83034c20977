"""WorkerQueue: the SQS queue a worker drains, and its dead-letter queue.

Both are encrypted with a customer-managed key (the cluster's) and refuse requests without
TLS (`aws:SecureTransport`); a message received `max_receive_count` times without being
deleted moves to the dead-letter queue, kept longer for a person to look at. The worker's
task role may receive, delete and extend messages (`grant_consume`); a publisher may only
send (`grant_send`), each on this queue alone.

Knows nothing of environments: every choice arrives in `WorkerQueueProps`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from l3_constructs.compliance import acknowledge, acknowledge_wildcards


@dataclass(frozen=True)
class WorkerQueueProps:
    #: How long a received message stays hidden (at least the worker's stop timeout).
    visibility_timeout_seconds: int = 300
    #: Receives before a message moves to the dead-letter queue.
    max_receive_count: int = 5
    retention_days: int = 4
    dead_letter_retention_days: int = 14


class WorkerQueue(Construct):
    """Exposes `queue`, `dead_letter_queue`, `visible_messages()`, `oldest_message_age()`,
    `grant_consume(grantee)` and `grant_send(grantee)`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, props: WorkerQueueProps, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= props.max_receive_count <= 1000:
            raise ValueError("max_receive_count must be 1-1000")
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(props.dead_letter_retention_days),
            # Messages are work in flight: nothing worth keeping once the stack is gone.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(props.visibility_timeout_seconds),
            retention_period=Duration.days(props.retention_days),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=props.max_receive_count, queue=self.dead_letter_queue
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This is the dead-letter queue of the worker's queue; it has none of its own.",
        )

    def visible_messages(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Messages waiting to be received (what a worker's tasks have to drain)."""
        return self.queue.metric_approximate_number_of_messages_visible(
            period=period or Duration.minutes(1), statistic="Maximum"
        )

    def oldest_message_age(self) -> cloudwatch.Metric:
        return self.queue.metric_approximate_age_of_oldest_message(
            period=Duration.minutes(1), statistic="Maximum"
        )

    def grant_consume(self, role: iam.IRole) -> None:
        """Receive, delete and change the visibility of this queue's messages (and decrypt
        them with its key): what a worker does, written to `role`'s own policy."""
        self.queue.grant_consume_messages(role)
        self._acknowledge(role, "receive and delete this queue's messages")

    def grant_send(self, role: iam.IRole) -> None:
        """Send to this queue only (and encrypt with its key), in `role`'s own policy."""
        self.queue.grant_send_messages(role)
        self._acknowledge(role, "send to this one queue")

    @staticmethod
    def _acknowledge(role: iam.IRole, what: str) -> None:
        reason = (
            f"CDK's SQS grant to {what}, with the queue's KMS key (kms:GenerateDataKey* and "
            "ReEncrypt* are the key actions SQS needs; the key statement names this key only); "
            "the role serves one task definition."
        )
        acknowledge(role, "NIST.800.53.R5-IAMNoInlinePolicy", reason)
        acknowledge_wildcards(
            role, lambda finding: reason if finding.startswith("Action::kms:") else None
        )
