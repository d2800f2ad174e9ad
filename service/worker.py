"""The worker: claims queued jobs in batches, holds a lease with a heartbeat, reads each job's
records from the source it is given for the job's kind (service.sources), validates and upserts
them by key, completes with a fenced update, retries with backoff, reaps expired leases, and on
SIGTERM finishes (or releases) what it holds. The lease machinery is service.jobqueue."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service import db, logs, metrics, store
from service.jobqueue import LeaseLost, Leases, Permanent, backoff
from service.records import BadInput, Dataset, record_key, validation_errors
from service.schema_gate import Gate
from service.settings import Settings
from service.sources import Feed, Source, api_batches
from service.tables import jobs, records

__all__ = ["LeaseLost", "Permanent", "Worker", "backoff"]
log = logging.getLogger("service.worker")


@dataclass
class Outcome:
    processed: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


class Abandoned(Exception):
    """The worker stops and the grace period is over: the job ends between two chunks."""

    def __init__(self, done: int) -> None:
        super().__init__(f"stopped after {done} record(s)")
        self.done = done


class Worker:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        *,
        concurrency: int | None = None,
        wake: asyncio.Event | None = None,
        sources: Mapping[str, Source] | None = None,
        feeds: Sequence[Feed] = (),
    ) -> None:
        """`sources` maps a job's `source` to where its records are read from (default: only
        API batches); `feeds` run beside the worker and queue jobs (e.g. the SQS poller)."""
        self.engine = engine
        self.settings = settings
        self.concurrency = concurrency or settings.worker_concurrency
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{os.urandom(3).hex()}"
        self.wake = wake or asyncio.Event()
        self.inflight: dict[str, asyncio.Task[None]] = {}
        self.stopping = asyncio.Event()
        self.abandoning = asyncio.Event()  # the grace period is over: stop at a chunk boundary
        self.is_mysql = engine.dialect.name != "sqlite"
        self.leases = Leases(engine, settings, self.owner)
        self.sources = (
            dict(sources) if sources is not None else {"api": api_batches(engine, settings)}
        )
        self.feeds = list(feeds)

    # ---- the loops ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Until `stop()`; then finish in-flight jobs within the grace period, release the rest.
        Nothing is claimed before the database has the schema this code needs."""
        if not await Gate(self.engine).wait(self.stopping):
            return
        log.info("worker %s started (concurrency %d)", self.owner, self.concurrency)
        helpers = [
            asyncio.create_task(self._every(self.settings.heartbeat_seconds, self.heartbeat)),
            asyncio.create_task(self._every(self.settings.reaper_seconds, self.reap)),
            asyncio.create_task(self._every(self.settings.metrics_interval_seconds, self.report)),
        ]
        helpers += [asyncio.create_task(feed(self.stopping, self.wake)) for feed in self.feeds]
        try:
            await self._claim_loop()
        finally:
            await self._drain()
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            log.info("worker %s stopped", self.owner)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    async def _every(self, seconds: float, action: Any) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), seconds)
            if self.stopping.is_set():
                return
            try:
                await action()
            except Exception as error:
                log.warning("%s failed: %s", action.__name__, error)

    async def _claim_loop(self) -> None:
        pause = self.settings.poll_seconds
        while not self.stopping.is_set():
            free = self.concurrency - len(self.inflight)
            claimed: list[Row[Any]] = []
            if free > 0:
                try:
                    claimed = await self.claim(free)
                    pause = self.settings.poll_seconds
                except Exception as error:
                    log.warning("claim failed: %s", error)
                    pause = min(pause * 2, 5.0)
            for job in claimed:
                task = asyncio.create_task(self._run_job(job))
                self.inflight[job.id] = task
                task.add_done_callback(functools.partial(self._done, job.id))
            if claimed and len(self.inflight) < self.concurrency:
                continue  # there may be more
            self.wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), pause)

    def _done(self, ident: str, _task: asyncio.Task[None]) -> None:
        self.inflight.pop(ident, None)
        self.wake.set()

    async def _drain(self) -> None:
        if not self.inflight:
            return
        tasks = list(self.inflight.values())
        log.info(
            "finishing %d job(s) (grace %.0f s)", len(tasks), self.settings.shutdown_grace_seconds
        )
        _done, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_seconds)
        if not pending:
            return
        left = [ident for ident, task in self.inflight.items() if task in pending]
        # Past the grace period each job stops at its next chunk boundary. Cancelling it would
        # cut a transaction mid-statement: the chunk rolls back, and on SQLite the force-closed
        # connection keeps the write lock, so the release below would fail. Only a job that
        # reaches no boundary within a lease (stuck reading its source) is cancelled.
        self.abandoning.set()
        _done, stuck = await asyncio.wait(pending, timeout=self.settings.lease_seconds)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
        try:
            await self.release(left)
        except Exception as error:
            log.warning(
                "could not release %d job(s) (%s); they run again when their lease expires",
                len(left),
                error,
            )

    # ---- claim, heartbeat, reap, release ------------------------------------------------------

    async def claim(self, limit: int) -> list[Row[Any]]:
        return await self.leases.claim(limit)

    async def heartbeat(self) -> None:
        await self.leases.heartbeat(list(self.inflight))

    async def reap(self) -> None:
        count = await self.leases.reap()
        if count:
            log.warning("re-queued %d job(s) whose lease expired", count)
            self.wake.set()

    async def release(self, ids: list[str]) -> None:
        await self.leases.release(ids)
        if ids:
            log.info("released %d job(s)", len(ids))

    async def report(self) -> None:
        async def work(conn: AsyncConnection) -> tuple[dict[str, int], int]:
            return await store.counts_by_status(conn), await store.queue_depth(conn)

        counts, depth = await db.read(self.engine, work)
        await metrics.put_emf(
            self.settings.emf_namespace,
            self.settings.env,
            self.settings.emf_service_name,
            {"QueueDepth": depth, "DeadJobs": counts["dead"], "RunningJobs": counts["running"]},
        )

    # ---- one job ------------------------------------------------------------------------------

    async def _run_job(self, job: Row[Any]) -> None:
        job_token = logs.job_id.set(job.id)
        dataset_token = logs.dataset.set(job.dataset)
        try:
            await self.process(job)
        except LeaseLost:
            log.warning("lease lost: another worker owns the job now; nothing written")
        except Abandoned as stop:
            log.info("stopped at a chunk boundary after %d record(s); released", stop.done)
        except asyncio.CancelledError:
            raise
        except Permanent as error:
            await self._finish_failed(job, str(error), permanent=True)
        except Exception as error:
            log.warning("attempt %d failed: %s", job.attempts, error)
            await self._finish_failed(
                job, f"{type(error).__name__}: {error}"[:2000], permanent=False
            )
        finally:
            logs.job_id.reset(job_token)
            logs.dataset.reset(dataset_token)

    async def _finish_failed(self, job: Row[Any], reason: str, *, permanent: bool) -> None:
        try:
            dead = await self.leases.fail(job, reason, permanent=permanent)
        except Exception as error:
            log.warning("could not record the failure (%s); the lease will expire", error)
            return
        if dead:
            log.error("job dead: %s", reason)

    async def process(self, job: Row[Any]) -> None:
        dataset = await self._dataset(job.dataset)
        chunks = self._chunks(job, dataset)
        total = Outcome()
        first = True
        # The API validated the batch against this very schema version: no need to again.
        validated = (
            job.source == "api"
            and dataset.version is not None
            and job.schema_version == dataset.version
        )
        current = await anext(chunks, None)
        while True:
            if self.abandoning.is_set():
                raise Abandoned(total.processed + total.failed)
            following = await anext(chunks, None) if current is not None else None
            last = following is None
            outcome = self._prepare(
                current or [], dataset, job.id, total.processed + total.failed, validated
            )
            total.processed += outcome.processed
            total.failed += outcome.failed
            await db.transaction(
                self.engine,
                functools.partial(
                    self._commit, job=job, outcome=outcome, total=total, first=first, last=last
                ),
            )
            first = False
            if last:
                break
            current = following
        metrics.RECORDS_PROCESSED.inc(total.processed)
        metrics.RECORDS_FAILED.inc(total.failed)
        log.info("job done: %d stored, %d rejected", total.processed, total.failed)

    async def _dataset(self, name: str | None) -> Dataset:
        if not name:
            raise Permanent("the job names no dataset")
        row = await db.read(self.engine, lambda conn: store.get_dataset_row(conn, name))
        if row is None:
            raise Permanent(f"dataset {name!r} is not registered")
        return store.dataset_from_row(row)

    def _chunks(self, job: Row[Any], dataset: Dataset) -> Any:
        source = self.sources.get(job.source or "api")
        if source is None:
            raise Permanent(f"no source reads {job.source!r} jobs here")
        return source(job, dataset)

    def _prepare(
        self, items: list[Any], dataset: Dataset, job_id: str, offset: int, validated: bool
    ) -> Outcome:
        outcome = Outcome()
        rows: dict[str, dict[str, Any]] = {}
        now = db.utcnow()
        for index, item in enumerate(items, start=offset):
            if isinstance(item, BadInput):
                problems = [str(item)]
            elif not isinstance(item, dict):
                problems = ["a record must be a JSON object"]
            elif validated:
                problems = []
            else:
                problems = validation_errors(item, dataset)
            key = None
            if not problems:
                try:
                    key = record_key(item, dataset.key_fields)
                except BadInput as error:
                    problems = [str(error)]
            if problems or key is None:
                outcome.failed += 1
                if len(outcome.errors) < self.settings.max_record_errors_kept:
                    outcome.errors.append({"index": index, "errors": problems})
                continue
            outcome.processed += 1
            rows[key] = {  # the last record with a key wins
                "dataset": dataset.name,
                "record_key": key,
                "data": orjson.dumps(item, option=orjson.OPT_SORT_KEYS),
                "job_id": job_id,
                "updated_at": now,
            }
        outcome.rows = list(rows.values())
        return outcome

    async def _commit(
        self,
        conn: AsyncConnection,
        job: Row[Any],
        outcome: Outcome,
        total: Outcome,
        first: bool,
        last: bool,
    ) -> None:
        """One chunk, atomically: the fence (and lease extension) first, then the upserts."""
        now = db.utcnow()
        values: dict[str, Any] = {
            "processed": total.processed,
            "failed_records": total.failed,
            "updated_at": now,
            "lease_expires_at": now + timedelta(seconds=self.settings.lease_seconds),
        }
        if last:
            seen = total.processed + total.failed
            values.update(
                status="succeeded" if total.processed or not seen else "failed",
                finished_at=now,
                lease_owner=None,
                lease_expires_at=None,
                records=seen,
                last_error=None if total.processed or not seen else "every record was rejected",
            )
        result = await conn.execute(update(jobs).where(self.leases.fence(job.id)).values(**values))
        if result.rowcount != 1:
            raise LeaseLost(job.id)
        if first:
            await store.clear_record_errors(conn, job.id)
        if outcome.rows:
            await conn.execute(self._upsert(), outcome.rows)
        await store.add_events(conn, [(job.id, "record_error", e) for e in outcome.errors])
        if last:
            await store.add_events(
                conn,
                [(job.id, values["status"], {"stored": total.processed, "rejected": total.failed})],
            )

    def _upsert(self) -> Any:
        if self.is_mysql:
            stmt = mysql_insert(records)
            return stmt.on_duplicate_key_update(
                data=stmt.inserted.data,
                job_id=stmt.inserted.job_id,
                updated_at=stmt.inserted.updated_at,
            )
        stmt2 = sqlite_insert(records)
        return stmt2.on_conflict_do_update(
            index_elements=["dataset", "record_key"],
            set_={
                "data": stmt2.excluded.data,
                "job_id": stmt2.excluded.job_id,
                "updated_at": stmt2.excluded.updated_at,
            },
        )
