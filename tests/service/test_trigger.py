"""S3 -> SQS -> worker against moto server: objects become jobs and are streamed in; malformed
events and unreadable objects become dead jobs with their reason, and the worker carries on."""

from __future__ import annotations

from typing import Any

import boto3
import orjson
import pytest
from starlette.testclient import TestClient

from opsctl.local import ingest_path
from opsctl.local.emulator import MotoServer
from opsctl.local.processes import wait_for
from service.app import create_app
from tests.support.service import READ, register, unique

pytestmark = pytest.mark.slow


def find_job(client: TestClient, **match: Any) -> dict[str, Any] | None:
    page = client.get("/v1/jobs", params={"limit": "1000"}, headers=READ).json()
    for job in page["items"]:
        if all(job.get(key) == value for key, value in match.items()):
            return dict(job)
    return None


def wait_for_job(client: TestClient, status: str, **match: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def done() -> bool:
        job = find_job(client, **match)
        if job and job["status"] in ("succeeded", "failed", "dead"):
            found.update(job)
            return True
        return False

    wait_for(done, 30, f"a job matching {match}")
    assert found["status"] == status, found
    return found


def test_objects_dropped_in_the_bucket_are_ingested(aws: MotoServer, make_settings: Any) -> None:
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    # The same bucket, queue and notification that `make run` makes (opsctl/local/ingest_path.py).
    path = ingest_path.create(
        aws.endpoint, "eu-west-1", bucket=unique("ingest"), queue=unique("events")
    )
    bucket, queue_url = path.bucket, path.queue_url
    settings = make_settings(
        sqs_queue_url=queue_url, aws_endpoint_url=aws.endpoint, sqs_wait_seconds=0, chunk_records=2
    )
    with TestClient(create_app(settings)) as client:
        name = unique()
        register(client, name)
        lines = [orjson.dumps({"id": n, "name": f"n{n}"}) for n in range(5)] + [
            b"{broken",
            b'{"id": "x"}',
        ]
        s3.put_object(
            Bucket=bucket, Key=f"{name}/2024/batch 1.ndjson", Body=b"\n".join(lines) + b"\n"
        )
        job = wait_for_job(
            client, "succeeded", source_ref=f"s3://{bucket}/{name}/2024/batch 1.ndjson"
        )
        assert (job["dataset"], job["records"], job["processed"], job["failed_records"]) == (
            name,
            7,
            5,
            2,
        )
        errors = client.get(f"/v1/jobs/{job['id']}", headers=READ).json()["errors"]
        assert [error["index"] for error in errors] == [5, 6]
        keys = [
            item["key"]
            for item in client.get(f"/v1/datasets/{name}/records", headers=READ).json()["items"]
        ]
        assert keys == ["0", "1", "2", "3", "4"]

        s3.put_object(Bucket=bucket, Key=f"{name}/more.csv", Body=b"id,name\n10,ten\n11,eleven\n")
        wait_for_job(client, "succeeded", source_ref=f"s3://{bucket}/{name}/more.csv")

        # What cannot be read becomes a dead job with its reason; the worker goes on.
        not_json = sqs.send_message(QueueUrl=queue_url, MessageBody="this is not an event")[
            "MessageId"
        ]
        dead = wait_for_job(client, "dead", source_ref=f"sqs:{not_json}")
        assert dead["last_error"] == "the SQS message is not JSON"
        no_records = sqs.send_message(QueueUrl=queue_url, MessageBody='{"Records": [{"s3": {}}]}')[
            "MessageId"
        ]
        dead = wait_for_job(client, "dead", source_ref=f"sqs:{no_records}")
        assert "lacks s3.bucket.name" in dead["last_error"]
        missing = {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": bucket},
                        "object": {"key": f"{name}/gone.ndjson", "sequencer": "01"},
                    },
                }
            ]
        }
        sqs.send_message(QueueUrl=queue_url, MessageBody=orjson.dumps(missing).decode())
        dead = wait_for_job(client, "dead", source_ref=f"s3://{bucket}/{name}/gone.ndjson")
        assert "NoSuchKey" in dead["last_error"]
        assert dead["attempts"] == 1

        s3.put_object(Bucket=bucket, Key=f"{name}/after.ndjson", Body=b'{"id": 99}\n')
        wait_for_job(client, "succeeded", source_ref=f"s3://{bucket}/{name}/after.ndjson")
        # Every message was consumed (none left to be redelivered in a loop).
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert attributes == {
            "ApproximateNumberOfMessages": "0",
            "ApproximateNumberOfMessagesNotVisible": "0",
        }
