"""Group commit: concurrent POSTs without an Idempotency-Key share one transaction (one fsync),
and each request is answered only once its batch is committed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service import db, store

log = logging.getLogger("service.writer")
Item = tuple[dict[str, Any], dict[str, Any], asyncio.Future[None]]


class GroupWriter:
    def __init__(self, engine: AsyncEngine, max_batch: int, writers: int = 2) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.writers = writers
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._run()) for _ in range(self.writers)]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self.queue.empty():
            _job, _batch, future = self.queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("the service is stopping"))

    async def submit(self, job: dict[str, Any], batch: dict[str, Any]) -> None:
        """Returns once committed; raises what the commit raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self.queue.put((job, batch, future))
        await future

    async def _run(self) -> None:
        while True:
            items = [await self.queue.get()]
            while len(items) < self.max_batch and not self.queue.empty():
                items.append(self.queue.get_nowait())
            items = [item for item in items if not item[2].done()]  # the caller gave up
            if not items:
                continue
            try:
                job_rows = [item[0] for item in items]
                batch_rows = [item[1] for item in items]

                async def work(conn: AsyncConnection) -> None:
                    await store.insert_jobs(conn, job_rows, batch_rows)  # noqa: B023

                await db.transaction(self.engine, work, attempts=2, failover_retry=True)
            except Exception as error:
                for _job, _batch, future in items:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _job, _batch, future in items:
                    if not future.done():
                        future.set_result(None)
