"""Direct database helpers for tests: seed jobs, read jobs/records/events (SQLAlchemy Core)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from service import store
from service.db import create_engine
from service.settings import Settings
from service.tables import job_events, jobs, records


def run_db(url: str, work: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        engine = create_engine(Settings(database_url=url))
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def seed(
    url: str,
    dataset: str,
    batches: list[list[dict[str, Any]]],
    schema: dict[str, Any] | None = None,
) -> list[str]:
    """Register `dataset` (if a schema is given) and queue one API job per batch (NDJSON)."""

    async def work(conn: AsyncConnection) -> list[str]:
        if schema is not None:
            await store.put_dataset(conn, dataset, schema, ["id"])
        job_rows, batch_rows = [], []
        for batch in batches:
            job = store.job_row(dataset, records=len(batch), content_type="application/x-ndjson")
            job_rows.append(job)
            body = b"\n".join(orjson.dumps(record) for record in batch)
            batch_rows.append(
                {
                    "job_id": job["id"],
                    "content_type": "application/x-ndjson",
                    "body": body,
                    "created_at": job["created_at"],
                }
            )
        for start in range(0, len(job_rows), 50):
            await store.insert_jobs(
                conn, job_rows[start : start + 50], batch_rows[start : start + 50]
            )
        return [job["id"] for job in job_rows]

    result: list[str] = run_db(url, work)
    return result


def job_table(url: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    async def work(conn: AsyncConnection) -> dict[str, dict[str, Any]]:
        rows = await conn.execute(select(jobs).where(jobs.c.id.in_(ids)))
        return {row.id: dict(row._mapping) for row in rows}

    result: dict[str, dict[str, Any]] = run_db(url, work)
    return result


def statuses(url: str, ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in job_table(url, ids).values():
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def record_keys(url: str, dataset: str) -> list[str]:
    async def work(conn: AsyncConnection) -> list[str]:
        rows = await conn.execute(select(records.c.record_key).where(records.c.dataset == dataset))
        return [row.record_key for row in rows]

    result: list[str] = run_db(url, work)
    return result


def event_counts(url: str, ids: list[str], kind: str) -> dict[str, int]:
    async def work(conn: AsyncConnection) -> dict[str, int]:
        rows = await conn.execute(
            select(job_events.c.job_id, func.count())
            .where(job_events.c.job_id.in_(ids), job_events.c.kind == kind)
            .group_by(job_events.c.job_id)
        )
        return {row[0]: int(row[1]) for row in rows}

    result: dict[str, int] = run_db(url, work)
    return result
