"""Queries on datasets, jobs and records (parameterised SQLAlchemy Core only)."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db import utcnow
from service.records import Dataset
from service.tables import datasets, job_events, jobs, raw_batches, records

STATUSES = ("queued", "running", "succeeded", "failed", "dead")


def new_job_id() -> str:
    """Sortable by creation time (nanoseconds, hex) and unique (random suffix)."""
    return f"{time.time_ns():016x}{os.urandom(4).hex()}"


def request_hash(dataset: str, content_type: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{dataset}\n{content_type}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="microseconds") + "Z"


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    padded = cursor + "=" * (-len(cursor) % 4)
    return orjson.loads(base64.urlsafe_b64decode(padded.encode()))


# ---- datasets --------------------------------------------------------------------------------


_compiled: dict[tuple[Any, ...], Dataset] = {}


def dataset_from_row(row: Row[Any]) -> Dataset:
    """The dataset with its compiled validators, reused while its version (updated_at) holds:
    compiling a schema costs milliseconds, and every job and POST needs one."""
    key = (row.name, row.updated_at, bytes(row.json_schema), row.key_fields)
    dataset = _compiled.get(key)
    if dataset is None:
        if len(_compiled) > 1000:
            _compiled.clear()
        dataset = Dataset.build(
            row.name, orjson.loads(row.json_schema), orjson.loads(row.key_fields), row.updated_at
        )
        _compiled[key] = dataset
    return dataset


def dataset_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "name": row.name,
        "schema": orjson.loads(row.json_schema),
        "key_fields": orjson.loads(row.key_fields),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


async def get_dataset_row(conn: AsyncConnection, name: str) -> Row[Any] | None:
    return (await conn.execute(select(datasets).where(datasets.c.name == name))).first()


async def put_dataset(
    conn: AsyncConnection, name: str, schema: dict[str, Any], key_fields: list[str]
) -> tuple[bool, Row[Any]]:
    """Create or update; True when created."""
    now = utcnow()
    values = {"json_schema": orjson.dumps(schema), "key_fields": orjson.dumps(key_fields).decode()}
    existing = await get_dataset_row(conn, name)
    if existing is None:
        await conn.execute(
            insert(datasets).values(name=name, created_at=now, updated_at=now, **values)
        )
    else:
        await conn.execute(
            update(datasets).where(datasets.c.name == name).values(updated_at=now, **values)
        )
    row = await get_dataset_row(conn, name)
    assert row is not None
    return existing is None, row


# ---- jobs ------------------------------------------------------------------------------------


def job_row(
    dataset: str | None,
    *,
    records: int,
    source: str = "api",
    source_ref: str | None = None,
    content_type: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    schema_version: datetime | None = None,
    status: str = "queued",
    last_error: str | None = None,
) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_job_id(),
        "dataset": dataset,
        "status": status,
        "source": source,
        "source_ref": source_ref,
        "content_type": content_type,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "schema_version": schema_version,
        "records": records,
        "processed": 0,
        "failed_records": 0,
        "attempts": 0,
        "lease_owner": None,
        "lease_expires_at": None,
        "available_at": now,
        "last_error": last_error,
        "created_at": now,
        "updated_at": now,
        "started_at": None,
        "finished_at": now if status == "dead" else None,
    }


async def insert_jobs(
    conn: AsyncConnection, job_rows: list[dict[str, Any]], batch_rows: list[dict[str, Any]]
) -> None:
    await conn.execute(insert(jobs), job_rows)
    if batch_rows:
        await conn.execute(insert(raw_batches), batch_rows)


class KeyHolder(NamedTuple):
    """The job that holds an Idempotency-Key: what a repeated request is answered with."""

    id: str
    records: int
    request_hash: str | None


def _insert_unless_key_taken(dialect: str) -> Any:
    """INSERT that skips a row whose idempotency key exists (or comes earlier in the same
    statement) instead of failing the whole statement. On MySQL the clause is a no-op update;
    InnoDB waits for an uncommitted holder of the key, so the later request sees it committed."""
    if dialect == "mysql":
        return mysql_insert(jobs).on_duplicate_key_update(idempotency_key=jobs.c.idempotency_key)
    return sqlite_insert(jobs).on_conflict_do_nothing(index_elements=["idempotency_key"])


async def insert_jobs_once(
    conn: AsyncConnection, job_rows: list[dict[str, Any]], batch_rows: list[dict[str, Any]]
) -> dict[str, KeyHolder]:
    """Insert jobs (and their raw batches) in the caller's transaction. A job whose idempotency
    key is already held, by a committed job or by an earlier row of `job_rows`, is left out
    with its batch; the others are inserted all the same. Returns, for each job left out, its
    id -> the job holding its key."""
    keyed = sorted(
        (job for job in job_rows if job["idempotency_key"] is not None),
        key=lambda job: job["idempotency_key"],  # one lock order for every writer
    )
    plain = [job for job in job_rows if job["idempotency_key"] is None]
    taken: dict[str, KeyHolder] = {}
    if keyed:
        await conn.execute(_insert_unless_key_taken(conn.dialect.name), keyed)
        keys = sorted({job["idempotency_key"] for job in keyed})
        query = select(jobs.c.id, jobs.c.idempotency_key, jobs.c.records, jobs.c.request_hash)
        holders = {
            row.idempotency_key: KeyHolder(row.id, row.records, row.request_hash)
            for row in await conn.execute(query.where(jobs.c.idempotency_key.in_(keys)))
        }
        for job in keyed:
            holder = holders.get(job["idempotency_key"])
            if holder is None:  # only if the random job id itself collided
                raise RuntimeError(f"job {job['id']} was neither inserted nor found")
            if holder.id != job["id"]:
                taken[job["id"]] = holder
    if plain:
        await conn.execute(insert(jobs), plain)
    batches = [batch for batch in batch_rows if batch["job_id"] not in taken]
    if batches:
        await conn.execute(insert(raw_batches), batches)
    return taken


async def get_job(conn: AsyncConnection, job_id: str) -> Row[Any] | None:
    return (await conn.execute(select(jobs).where(jobs.c.id == job_id))).first()


def job_json(row: Row[Any] | dict[str, Any]) -> dict[str, Any]:
    m = row if isinstance(row, dict) else row._mapping
    return {
        "id": m["id"],
        "status": m["status"],
        "dataset": m["dataset"],
        "records": m["records"],
        "processed": m["processed"],
        "failed_records": m["failed_records"],
        "attempts": m["attempts"],
        "last_error": m["last_error"],
        "source": m["source"],
        "source_ref": m["source_ref"],
        "created_at": iso(m["created_at"]),
        "updated_at": iso(m["updated_at"]),
        "started_at": iso(m["started_at"]),
        "finished_at": iso(m["finished_at"]),
    }


async def record_errors(conn: AsyncConnection, job_id: str, limit: int) -> list[Any]:
    rows = await conn.execute(
        select(job_events.c.detail)
        .where(job_events.c.job_id == job_id, job_events.c.kind == "record_error")
        .order_by(job_events.c.id)
        .limit(limit)
    )
    return [orjson.loads(row.detail) for row in rows]


async def list_jobs(
    conn: AsyncConnection,
    *,
    status: str | None,
    dataset: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Row[Any]], str | None]:
    """Newest first."""
    query = select(jobs)
    if status:
        query = query.where(jobs.c.status == status)
    if dataset:
        query = query.where(jobs.c.dataset == dataset)
    if cursor:
        query = query.where(jobs.c.id < cursor)
    rows = list(await conn.execute(query.order_by(jobs.c.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


async def retry_job(conn: AsyncConnection, job_id: str) -> int:
    now = utcnow()
    result = await conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status.in_(("dead", "failed")))
        .values(
            status="queued",
            attempts=0,
            available_at=now,
            updated_at=now,
            finished_at=None,
            lease_owner=None,
            lease_expires_at=None,
        )
    )
    if result.rowcount:
        await add_events(conn, [(job_id, "retry_requested", None)])
    return int(result.rowcount or 0)


async def add_events(conn: AsyncConnection, events: list[tuple[str, str, Any]]) -> None:
    if not events:
        return
    now = utcnow()
    await conn.execute(
        insert(job_events),
        [
            {
                "job_id": job_id,
                "kind": kind,
                "detail": None if detail is None else orjson.dumps(detail).decode(),
                "created_at": now,
            }
            for job_id, kind, detail in events
        ],
    )


async def clear_record_errors(conn: AsyncConnection, job_id: str) -> None:
    await conn.execute(
        delete(job_events).where(job_events.c.job_id == job_id, job_events.c.kind == "record_error")
    )


async def counts_by_status(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status))
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({row[0]: int(row[1]) for row in rows})
    return counts


async def queue_depth(conn: AsyncConnection) -> int:
    query = select(func.count()).where(
        and_(jobs.c.status == "queued", jobs.c.available_at <= utcnow())
    )
    return int((await conn.execute(query)).scalar() or 0)


# ---- records ---------------------------------------------------------------------------------


async def list_records(
    conn: AsyncConnection,
    dataset: str,
    *,
    key: str | None,
    since: datetime | None,
    cursor: int | None,
    limit: int,
) -> tuple[list[Row[Any]], int | None]:
    query = select(records).where(records.c.dataset == dataset)
    if key is not None:
        query = query.where(records.c.record_key == key)
    if since is not None:
        query = query.where(records.c.updated_at >= since)
    if cursor is not None:
        query = query.where(records.c.id > cursor)
    rows = list(await conn.execute(query.order_by(records.c.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (int(rows[-1].id) if more and rows else None)


def record_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "key": row.record_key,
        "data": orjson.loads(row.data),
        "job_id": row.job_id,
        "updated_at": iso(row.updated_at),
    }
