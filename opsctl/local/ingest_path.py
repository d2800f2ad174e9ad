"""The S3 -> SQS ingest path on the emulator, made with boto3 in seconds (no terraform): the ingest
bucket, its event queue with a dead-letter queue, and the ObjectCreated notification between them.

What the `ingest` Terraform module builds (modules/ingest/queue.tf), minus what the emulator does
not need to show the path (KMS keys, bucket hardening, the insecure-transport deny). `make run` and
the tests both use it, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opsctl import aws

# Apart from the names the applied `local` stack uses (`ingest-local-ingest[-<account>]`), so a
# later `opsctl apply local` against the same emulator does not collide with these.
BUCKET = "ingest-local"
QUEUE = "ingest-local-events"
MAX_RECEIVE_COUNT = 5  # as the module's default


@dataclass(frozen=True)
class IngestPath:
    bucket: str
    queue_url: str
    queue_arn: str
    dlq_url: str


def create(endpoint: str, region: str, *, bucket: str = BUCKET, queue: str = QUEUE) -> IngestPath:
    """Create the bucket, `<queue>` and `<queue>-dlq`, and the notification; return their ids."""
    s3, sqs = aws.client("s3", region, endpoint), aws.client("sqs", region, endpoint)
    dlq_url = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    dlq_arn = _arn(sqs, dlq_url)
    bucket_arn = f"arn:aws:s3:::{bucket}"
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    queue_arn = _arn(sqs, queue_url)
    # On AWS, PutBucketNotificationConfiguration first sends a test notification and fails unless
    # the queue policy lets S3 send to the queue (S3 API reference); moto does not check, we
    # still set it so the path is built as on AWS.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowNotificationsFromTheIngestBucket",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": bucket_arn}},
            }
        ],
    }
    # Policy and redrive policy in one call: moto 5.2.5 drops a queue's Policy on any later
    # SetQueueAttributes that omits it (modules/ingest/queue.tf works around the same).
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "Policy": json.dumps(policy),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            ),
        },
    )
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return IngestPath(bucket=bucket, queue_url=queue_url, queue_arn=queue_arn, dlq_url=dlq_url)


def _arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])
