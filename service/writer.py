"""Group commit: concurrent POSTs share one transaction (one fsync), with or without an
Idempotency-Key, and each request is answered only once its batch is committed.

A keyed job whose key is already held (by a committed job, or by an earlier request in the same
batch) is left out of the batch without failing it: its request learns which job holds the key.
If a batch fails for another reason, its requests are committed one by one, so one bad request
costs no other its commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service import db, store
from service.store import KeyHolder

log = logging.getLogger("service.writer")


@dataclass
class Pending:
    job: dict[str, Any]
    batch: dict[str, Any]
    future: asyncio.Future[KeyHolder | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupWriter:
    def __init__(self, engine: AsyncEngine, max_batch: int, writers: int = 2) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.writers = writers
        self.queue: asyncio.Queue[Pending] = asyncio.Queue()
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
            pending = self.queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("the service is stopping"))

    async def submit(self, job: dict[str, Any], batch: dict[str, Any]) -> KeyHolder | None:
        """Returns once committed: None when this job was stored, else the job that holds its
        Idempotency-Key (nothing of this request was stored). Raises what the commit raised."""
        pending = Pending(job, batch)
        await self.queue.put(pending)
        return await pending.future

    async def _run(self) -> None:
        while True:
            items = [await self.queue.get()]
            while len(items) < self.max_batch and not self.queue.empty():
                items.append(self.queue.get_nowait())
            items = [item for item in items if not item.future.done()]  # the caller gave up
            if items:
                await self._write(items)

    async def _write(self, items: list[Pending]) -> None:
        try:
            taken = await self._commit(items)
        except Exception as error:
            if len(items) == 1 or db.is_unavailable(error):
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(error)
                return
            log.warning("a batch of %d failed (%s): committing one by one", len(items), error)
            for item in items:
                if not item.future.done():
                    await self._write([item])
            return
        for item in items:
            if not item.future.done():
                item.future.set_result(taken.get(item.job["id"]))

    async def _commit(self, items: list[Pending]) -> dict[str, KeyHolder]:
        job_rows = [item.job for item in items]
        batch_rows = [item.batch for item in items]

        async def work(conn: AsyncConnection) -> dict[str, KeyHolder]:
            return await store.insert_jobs_once(conn, job_rows, batch_rows)

        taken: dict[str, KeyHolder] = await db.transaction(
            self.engine, work, attempts=2, failover_retry=True
        )
        return taken
