"""The emulator as opsctl starts it (opsctl/local/moto_fixes.py) answers concurrent calls as AWS
would: without crashing, and without holding every call behind an SQS long poll.

moto is not thread-safe (getmoto/moto#372): on its threaded server, a DescribeParameters that
iterates the parameters while another thread's PutParameter adds one crashed with "dictionary
changed size during iteration" (HTTP 500). The SDKs retry a 500, so a call that had changed
moto's state before crashing was carried out twice, and terraform failed on its own resource
(docs/emulator.md). Retries are off here, so every 500 is seen.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from opsctl.local.emulator import MotoServer

pytestmark = pytest.mark.slow
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=16)


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, config=NO_RETRIES)  # type: ignore[call-overload]


def test_concurrent_writes_and_listings_never_crash_the_emulator(aws: MotoServer) -> None:
    ssm = client("ssm", aws.endpoint)
    crashes: list[str] = []
    for n in range(1000):  # a listing takes long enough for another thread to add one meanwhile
        ssm.put_parameter(Name=f"/seed/{n}", Value="x", Type="String")

    def work(worker: int) -> None:
        for n in range(60):
            try:
                ssm.put_parameter(Name=f"/race/{worker}/{n}", Value="x", Type="String")
                ssm.describe_parameters(MaxResults=50)
            except ClientError as error:
                crashes.append(f"{error.operation_name}: {error.response['Error']}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert crashes == []
    pages = ssm.get_paginator("describe_parameters").paginate()
    assert sum(len(page["Parameters"]) for page in pages) == 1000 + 8 * 60


def test_a_long_poll_holds_no_other_call(aws: MotoServer) -> None:
    """ReceiveMessage waits up to WaitTimeSeconds for a message; a call made meanwhile is
    answered while the poll still waits."""
    sqs, ssm = client("sqs", aws.endpoint), client("ssm", aws.endpoint)
    queue = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    polling = threading.Thread(
        target=lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=20), daemon=True
    )
    polling.start()
    time.sleep(0.5)  # the poll is waiting in moto
    ssm.put_parameter(Name="/during/the/poll", Value="x", Type="String")
    assert polling.is_alive(), "the poll ended before the call it should not hold"
    sqs.send_message(QueueUrl=queue, MessageBody="ends the poll")
    polling.join(timeout=30)
