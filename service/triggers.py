"""S3 -> SQS -> worker: each ObjectCreated event becomes a job that streams the object (NDJSON
or CSV) in chunks, never loading it whole. A malformed event or an unreadable object becomes a
dead job with its reason, never a crash loop."""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import unquote_plus

import orjson
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service import db, store
from service.aws import client
from service.jobqueue import Permanent, take
from service.records import CSV, NDJSON, BadInput, Dataset, iter_csv, iter_ndjson
from service.settings import Settings
from service.sources import Feed, Source

log = logging.getLogger("service.triggers")
PERMANENT_S3_CODES = {
    "NoSuchKey",
    "NoSuchBucket",
    "AccessDenied",
    "404",
    "403",
    "InvalidObjectState",
}


def jobs_from_message(message_id: str, body: str) -> list[dict[str, Any]]:
    """The jobs one SQS message asks for (dead ones for what cannot be read)."""

    def dead(reason: str) -> dict[str, Any]:
        return store.job_row(
            None,
            records=0,
            source="sqs",
            source_ref=f"sqs:{message_id}"[:1024],
            idempotency_key=f"sqs:{message_id}"[:255],
            status="dead",
            last_error=reason,
        )

    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [dead("the SQS message is not JSON")]
    if isinstance(event, dict) and isinstance(event.get("Message"), str):  # via SNS
        try:
            event = orjson.loads(event["Message"])
        except orjson.JSONDecodeError:
            return [dead("the SNS message inside the SQS message is not JSON")]
    if isinstance(event, dict) and event.get("Event") == "s3:TestEvent":
        return []
    entries = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(entries, list) or not entries:
        return [dead("not an S3 event notification (no Records)")]
    result = []
    for number, entry in enumerate(entries):
        try:
            s3 = entry["s3"]
            bucket = str(s3["bucket"]["name"])
            key = unquote_plus(str(s3["object"]["key"]))
            version = s3["object"].get("sequencer") or s3["object"].get("eTag") or message_id
        except (KeyError, TypeError, AttributeError):
            job = dead(f"S3 event record {number} lacks s3.bucket.name or s3.object.key")
            job["idempotency_key"] = f"sqs:{message_id}:{number}"[:255]
            result.append(job)
            continue
        if not str(entry.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
            continue
        dataset = key.split("/", 1)[0] if "/" in key else None
        kind = CSV if key.lower().endswith(".csv") else NDJSON
        result.append(
            store.job_row(
                dataset,
                records=0,
                source="s3",
                source_ref=f"s3://{bucket}/{key}"[:1024],
                content_type=kind,
                idempotency_key=f"s3:{bucket}/{key}:{version}"[:255],
                status="queued" if dataset else "dead",
                last_error=None if dataset else "object key has no dataset prefix (DATASET/...)",
            )
        )
    return result


def sqs_feed(engine: AsyncEngine, settings: Settings) -> Feed:
    """The worker's feed of S3 events: each SQS message becomes jobs (see `poll_sqs`)."""

    async def feed(stopping: asyncio.Event, wake: asyncio.Event) -> None:
        await poll_sqs(engine, settings, stopping, wake)

    return feed


async def poll_sqs(
    engine: AsyncEngine, settings: Settings, stopping: asyncio.Event, wake: asyncio.Event
) -> None:
    sqs = client("sqs", settings)
    url = settings.sqs_queue_url
    pause = 0.0
    while not stopping.is_set():
        if pause:
            await asyncio.sleep(pause)
        try:
            response = await asyncio.to_thread(
                sqs.receive_message,
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=settings.sqs_wait_seconds,
            )
            pause = 0.0
        except (BotoCoreError, ClientError) as error:
            log.warning("SQS receive failed: %s", error)
            pause = min(max(pause * 2, 1.0), 30.0)
            continue
        # The jobs of every message received go in one transaction; a job whose key is held
        # already (SQS delivers at least once) is left out without failing the others.
        messages = response.get("Messages", [])
        if not messages:
            continue
        job_rows = [
            row
            for message in messages
            for row in jobs_from_message(message.get("MessageId", ""), message.get("Body", ""))
        ]

        async def work(conn: AsyncConnection, rows: list[dict[str, Any]] = job_rows) -> Any:
            return await store.insert_jobs_once(conn, rows, [])

        try:
            taken = await db.transaction(engine, work)
        except Exception as error:
            log.warning("could not store jobs for %d SQS messages: %s", len(messages), error)
            pause = 1.0
            continue
        for row in job_rows:
            if row["id"] not in taken:
                log.info(
                    "S3 event -> job %s (%s)",
                    row["id"],
                    row["status"],
                    extra={"source_ref": row["source_ref"]},
                )
        for message in messages:
            await asyncio.to_thread(
                sqs.delete_message, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]
            )
        wake.set()


def _split(source_ref: str) -> tuple[str, str]:
    bucket, _, key = source_ref.removeprefix("s3://").partition("/")
    return bucket, key


def _lines(body: Any) -> Iterator[bytes]:
    yield from body.iter_lines(chunk_size=64 * 1024)


def _records(lines: Iterator[bytes], kind: str, dataset: Dataset, max_depth: int) -> Iterator[Any]:
    """Records, or BadInput for a line that is not one (a per-record error, not a dead job)."""
    if kind == CSV:
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        text_lines = (decoder.decode(line) for line in lines)
        yield from iter_csv(text_lines, dataset)
        return
    yield from iter_ndjson(lines, max_depth, bad_lines="yield")


def s3_objects(settings: Settings) -> Source:
    """The worker's source for `s3` jobs: the object, streamed in chunks."""

    def chunks(job: Row[Any], dataset: Dataset) -> AsyncIterator[list[Any]]:
        return s3_records(job, dataset, settings)

    return chunks


async def s3_records(
    job: Row[Any], dataset: Dataset, settings: Settings
) -> AsyncIterator[list[Any]]:
    bucket, key = _split(job.source_ref or "")
    s3 = client("s3", settings)
    try:
        response = await asyncio.to_thread(s3.get_object, Bucket=bucket, Key=key)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in PERMANENT_S3_CODES:
            raise Permanent(f"cannot read s3://{bucket}/{key}: {code}") from None
        raise
    body = response["Body"]
    iterator = _records(_lines(body), job.content_type or NDJSON, dataset, settings.max_json_depth)
    try:
        while True:
            try:
                chunk = await asyncio.to_thread(take, iterator, settings.chunk_records)
            except BadInput as error:  # CSV header/shape problems concern the whole object
                raise Permanent(f"s3://{bucket}/{key}: {error}") from None
            except UnicodeDecodeError:
                raise Permanent(f"s3://{bucket}/{key}: not UTF-8") from None
            if not chunk:
                return
            yield chunk
    finally:
        body.close()
