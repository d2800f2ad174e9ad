"""Where a job's records come from. A source turns a claimed job into chunks of records (or
`BadInput` for one that cannot be read); the worker looks its source up by `job.source` and
never imports the code behind it (S3, SQS: service.triggers)."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service import db
from service.jobqueue import Permanent
from service.records import BadInput, Dataset, parse_body
from service.settings import Settings
from service.tables import raw_batches

# job, dataset -> chunks of records
Source = Callable[[Row[Any], Dataset], AsyncIterator[list[Any]]]
# Runs beside the worker until `stopping` is set, setting `wake` when it queued jobs.
Feed = Callable[[asyncio.Event, asyncio.Event], Coroutine[Any, Any, None]]


def api_batches(engine: AsyncEngine, settings: Settings) -> Source:
    """Jobs posted to the API: their body is in `raw_batches`."""

    async def chunks(job: Row[Any], dataset: Dataset) -> AsyncIterator[list[Any]]:
        async def first(conn: AsyncConnection) -> Any:
            query = select(raw_batches.c.body, raw_batches.c.encoding).where(
                raw_batches.c.job_id == job.id
            )
            return (await conn.execute(query)).first()

        row = await db.read(engine, first)
        if row is None:
            raise Permanent("the job's raw batch is missing")
        body = zlib.decompress(row.body) if row.encoding == "zlib" else row.body
        try:
            items = parse_body(
                body, job.content_type or "application/json", dataset, settings.max_json_depth
            )
        except BadInput as error:
            raise Permanent(f"the stored batch cannot be read: {error}") from None
        size = settings.chunk_records
        for start in range(0, len(items), size):
            yield items[start : start + size]

    return chunks
