"""Idempotency-Key POSTs on the group commit, against a real `ingest-service serve` process:
concurrent requests sharing keys (some with other bodies) end with one job per key and the
answers the rules give; every acknowledged batch survives a kill -9 of the service. Then the
store and the writer against MariaDB directly, and the S3 trigger's redeliveries."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import boto3
import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.testclient import TestClient

from opsctl.local.emulator import MotoServer
from opsctl.local.processes import wait_for
from service import store
from service.app import create_app
from service.db import create_engine
from service.migrate import migrate
from service.settings import Settings
from service.tables import jobs, raw_batches
from service.writer import GroupWriter
from tests.support.dbhelpers import run_db, seed
from tests.support.mariadb import MariaDB
from tests.support.service import FAST, READ, SCHEMA, WRITE, Processes, http, register, unique

pytestmark = pytest.mark.slow

Request = tuple[str, bytes]  # (Idempotency-Key, body)


@pytest.fixture(params=["sqlite", "mariadb"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "mariadb":
        return str(request.getfixturevalue("mariadb_migrated"))
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path}/ingest.db"
    asyncio.run(migrate(Settings(database_url=sqlite_url)))
    return sqlite_url


def body(key: str, variant: int, records: int = 1) -> bytes:
    return orjson.dumps([{"id": variant * 100 + n, "name": key} for n in range(records)])


def the_64_requests(prefix: str) -> list[Request]:
    """24 keys sent once, 12 keys sent twice with the same body, 4 keys sent four times with
    two different bodies (two each): 64 requests, 40 keys. Interleaved, so repeats race."""
    requests: list[Request] = []
    for n in range(24):
        requests.append((f"{prefix}-once-{n}", body(f"once-{n}", 1)))
    for n in range(12):
        requests += [(f"{prefix}-twice-{n}", body(f"twice-{n}", 1, records=2))] * 2
    for n in range(4):
        key = f"{prefix}-mixed-{n}"
        requests += [(key, body(key, 1)), (key, body(key, 2, records=3))] * 2
    order = sorted(range(len(requests)), key=lambda i: (i * 37) % len(requests))
    return [requests[i] for i in order]


async def post_all(
    base: str, dataset: str, requests: list[Request], concurrency: int, on_answer: Any = None
) -> list[httpx.Response | None]:
    """POST every request, `concurrency` at a time; None where the connection failed."""
    answers: list[httpx.Response | None] = [None] * len(requests)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def one(index: int) -> None:
            key, content = requests[index]
            headers = {**WRITE, "Content-Type": "application/json", "Idempotency-Key": key}
            async with gate:
                try:
                    answers[index] = await client.post(
                        f"/v1/datasets/{dataset}/records", content=content, headers=headers
                    )
                except httpx.TransportError:
                    return
            if on_answer is not None:
                on_answer(answers[index])

        await asyncio.gather(*(one(i) for i in range(len(requests))))
    return answers


def stored_jobs(url: str, keys: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Per key: its jobs, each with whether its raw batch is stored."""

    async def work(conn: AsyncConnection) -> dict[str, list[dict[str, Any]]]:
        query = select(jobs.c.id, jobs.c.idempotency_key, jobs.c.records, raw_batches.c.job_id)
        query = query.outerjoin(raw_batches, raw_batches.c.job_id == jobs.c.id)
        found: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
        for row in await conn.execute(query.where(jobs.c.idempotency_key.in_(sorted(keys)))):
            found[row[1]].append({"id": row[0], "records": row[2], "batch": row[3] is not None})
        return found

    result: dict[str, list[dict[str, Any]]] = run_db(url, work)
    return result


def check_answers(requests: list[Request], answers: list[httpx.Response]) -> dict[str, str]:
    """The rules, per key: exactly one 202 (the first to commit); a repeat with its body gets
    200 and its job; a repeat with another body gets 409 naming its job. Returns key -> job."""
    by_key: dict[str, list[tuple[bytes, httpx.Response]]] = {}
    for (key, content), answer in zip(requests, answers, strict=True):
        by_key.setdefault(key, []).append((content, answer))
    winners: dict[str, str] = {}
    for key, group in by_key.items():
        accepted = [(content, a) for content, a in group if a.status_code == 202]
        assert len(accepted) == 1, (key, [a.status_code for _, a in group])
        winning_body, winner = accepted[0]
        job_id = winner.json()["job_id"]
        winners[key] = job_id
        for content, answer in group:
            if answer is winner:
                continue
            if content == winning_body:
                assert answer.status_code == 200, (key, answer.text)
                assert answer.json() == winner.json()
            else:
                assert answer.status_code == 409, (key, answer.text)
                assert answer.json()["error"]["code"] == "idempotency_conflict"
                assert answer.json()["error"]["details"] == {"job_id": job_id}
    return winners


def test_64_concurrent_keyed_posts_give_one_job_per_key(url: str, processes: Processes) -> None:
    _proc, base = processes.serve({**FAST, "database_url": url})
    name = unique("idem")
    with http(base) as client:
        register(client, name)
    requests = the_64_requests(unique("k"))
    answers = asyncio.run(post_all(base, name, requests, concurrency=64))
    assert all(answer is not None for answer in answers)
    winners = check_answers(requests, [a for a in answers if a is not None])
    assert len(winners) == 40
    stored = stored_jobs(url, set(winners))
    for key, job_id in winners.items():
        assert [job["id"] for job in stored[key]] == [job_id], key
        assert stored[key][0]["batch"], f"job {job_id} has no raw batch"


def test_acknowledged_keyed_batches_survive_kill_9(url: str, processes: Processes) -> None:
    settings = {**FAST, "database_url": url}
    proc, base = processes.serve(settings)
    assert proc.process is not None
    name = unique("idem9")
    with http(base) as client:
        register(client, name)
    prefix = unique("k9")
    # 300 keys, each sent twice with the same body (a client retrying), 32 in flight.
    requests = [(f"{prefix}-{n}", body(f"{prefix}-{n}", 1)) for n in range(300)] * 2
    acknowledged: list[httpx.Response] = []

    def on_answer(answer: httpx.Response | None) -> None:
        if answer is not None and answer.status_code in (200, 202):
            acknowledged.append(answer)
        if len(acknowledged) == 100:  # mid-stream: many requests are still in flight
            os.kill(proc.process.pid, signal.SIGKILL)  # type: ignore[union-attr]

    answers = asyncio.run(post_all(base, name, requests, concurrency=32, on_answer=on_answer))
    proc.process.wait()
    assert any(answer is None for answer in answers), "the kill came after the last answer"
    assert all(answer.status_code in (200, 202) for answer in answers if answer is not None)
    keys = {key for key, _ in requests}
    stored = stored_jobs(url, keys)
    for answer in acknowledged:
        key = answer.request.headers["idempotency-key"]
        job_id = answer.json()["job_id"]
        assert [job["id"] for job in stored[key]] == [job_id], f"acknowledged {key} lost"
        assert stored[key][0]["batch"], f"acknowledged job {job_id} has no raw batch"
    assert all(len(found) <= 1 for found in stored.values())

    # The client retries everything that got no answer: each key ends with exactly one job.
    _proc, base = processes.serve(settings)
    unanswered = [
        request for request, answer in zip(requests, answers, strict=True) if answer is None
    ]
    retried = asyncio.run(post_all(base, name, unanswered, concurrency=32))
    assert all(answer is not None and answer.status_code in (200, 202) for answer in retried)
    stored = stored_jobs(url, keys)
    assert all(len(found) == 1 and found[0]["batch"] for found in stored.values())
    for answer in [*acknowledged, *[a for a in retried if a is not None]]:
        key = answer.request.headers["idempotency-key"]
        assert answer.json()["job_id"] == stored[key][0]["id"]


# ---- the store and the writer against MariaDB directly ----------------------------------------


def test_a_key_held_by_an_uncommitted_transaction_is_waited_for_then_taken(
    mariadb: MariaDB, mariadb_migrated: str
) -> None:
    """Across transactions InnoDB makes the later insert of a key wait for the earlier one: the
    later transaction then sees the key taken and still stores its other jobs."""

    async def main() -> None:
        engine = create_engine(Settings(database_url=mariadb_migrated))
        key = unique("race")
        first = store.job_row("ds", records=1, idempotency_key=key, request_hash="a")
        second = store.job_row("ds", records=2, idempotency_key=key, request_hash="b")
        other = store.job_row("ds", records=3, idempotency_key=unique("race"), request_hash="c")
        try:
            async with engine.connect() as holder:
                transaction = await holder.begin()
                assert await store.insert_jobs_once(holder, [first], []) == {}

                async def later() -> dict[str, store.KeyHolder]:
                    async with engine.begin() as conn:
                        return await store.insert_jobs_once(conn, [second, other], [])

                waiting = asyncio.create_task(later())
                probe = (
                    "SELECT COUNT(*) FROM information_schema.INNODB_TRX"
                    " WHERE trx_state = 'LOCK WAIT'"
                )
                while int(await asyncio.to_thread(mariadb.sql, probe)) == 0:
                    await asyncio.sleep(0.02)  # waiting for the condition, not a timing
                assert not waiting.done()
                await transaction.commit()
                taken = await waiting
            assert taken == {second["id"]: store.KeyHolder(first["id"], 1, "a")}
            async with engine.connect() as conn:
                rows = await conn.execute(
                    select(jobs.c.id).where(
                        jobs.c.idempotency_key.in_([key, other["idempotency_key"]])
                    )
                )
                assert sorted(row.id for row in rows) == sorted([first["id"], other["id"]])
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_a_failing_request_costs_the_rest_of_its_batch_nothing(mariadb_migrated: str) -> None:
    """A batch that fails for a reason other than a taken key is committed one by one."""

    async def main() -> None:
        engine = create_engine(Settings(database_url=mariadb_migrated))
        writer = GroupWriter(engine, max_batch=16)
        name = unique("bad")
        good = [store.job_row(name, records=1) for _ in range(5)]
        bad = store.job_row(name, records=1, content_type="x" * 100)  # jobs.content_type: 64
        rows = [*good[:2], bad, *good[2:]]
        batches = [
            {
                "job_id": j["id"],
                "content_type": "a",
                "body": b"{}",
                "encoding": None,
                "created_at": j["created_at"],
            }
            for j in rows
        ]
        # queued before the writer starts, so that all six land in one batch
        futures = [
            asyncio.ensure_future(writer.submit(j, b)) for j, b in zip(rows, batches, strict=True)
        ]
        await asyncio.sleep(0)
        assert writer.queue.qsize() == 6
        writer.start()
        try:
            results = await asyncio.gather(*futures, return_exceptions=True)
        finally:
            await writer.stop()
            async with engine.connect() as conn:
                stored = {
                    row.id
                    for row in await conn.execute(select(jobs.c.id).where(jobs.c.dataset == name))
                }
            await engine.dispose()
        assert isinstance(results[2], DBAPIError)
        assert [r for i, r in enumerate(results) if i != 2] == [None] * 5
        assert stored == {j["id"] for j in good}

    asyncio.run(main())


def test_a_redelivered_s3_event_makes_one_job(
    aws: MotoServer, database_url: str, make_settings: Any
) -> None:
    """Three deliveries of one S3 event, received together: one transaction, one job, and
    every message deleted."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    bucket, name = unique("ingest"), unique("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    queue_url = sqs.create_queue(QueueName=unique("events"))["QueueUrl"]
    key = f"{name}/batch.ndjson"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"id": 1}\n{"id": 2}\n')
    seed(database_url, name, [], SCHEMA)  # the dataset, before the worker sees the event
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "sequencer": "0A1"}},
            }
        ]
    }
    for _ in range(3):  # queued before the worker starts: one receive can take them all
        sqs.send_message(QueueUrl=queue_url, MessageBody=orjson.dumps(event).decode())
    settings = make_settings(
        sqs_queue_url=queue_url, aws_endpoint_url=aws.endpoint, sqs_wait_seconds=0
    )

    def queue_empty() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return all(value == "0" for value in attributes.values())

    source_ref = f"s3://{bucket}/{key}"
    with TestClient(create_app(settings)) as client:
        wait_for(queue_empty, 120, "every SQS message deleted")

        def matching() -> list[dict[str, Any]]:
            page = client.get("/v1/jobs", params={"dataset": name}, headers=READ).json()
            return [job for job in page["items"] if job["source_ref"] == source_ref]

        try:
            wait_for(lambda: [j["status"] for j in matching()] == ["succeeded"], 120, "the job")
        except TimeoutError:
            raise AssertionError(matching()) from None
        assert len(matching()) == 1
