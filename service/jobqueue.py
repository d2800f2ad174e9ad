"""The job machinery: leases (claim, heartbeat, reap, release, the completion fence), the
errors that end an attempt, and the backoff between attempts.

Claiming: `SELECT ... FOR UPDATE SKIP LOCKED` on MySQL/MariaDB (READ COMMITTED, so no gap
locks); `BEGIN IMMEDIATE` on SQLite (set by service.db for every write transaction)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service import db, store
from service.settings import Settings
from service.tables import jobs


class LeaseLost(Exception):
    """Another worker owns the job now (our lease expired): drop it, write nothing."""


class Permanent(Exception):
    """Retrying cannot help (unreadable input, unknown dataset): the job is dead."""


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (AWS architecture blog): U(0, min(cap, base*2^n))."""
    return random.uniform(0, min(cap, base * 2 ** max(attempt - 1, 0)))


def take(iterator: Iterator[Any], size: int) -> list[Any]:
    """The next `size` items of `iterator` (fewer at its end)."""
    chunk = []
    for item in iterator:
        chunk.append(item)
        if len(chunk) >= size:
            break
    return chunk


class Leases:
    """One owner's leases on jobs. Every write is fenced on the owner (and, to complete, on an
    unexpired lease), so a worker whose lease expired can never overwrite another's work."""

    def __init__(self, engine: AsyncEngine, settings: Settings, owner: str) -> None:
        self.engine = engine
        self.settings = settings
        self.owner = owner
        self.is_mysql = engine.dialect.name != "sqlite"

    def _expiry(self) -> Any:
        return db.utcnow() + timedelta(seconds=self.settings.lease_seconds)

    def fence(self, job_id: str) -> Any:
        """The WHERE clause of every update to a job we hold."""
        return and_(
            jobs.c.id == job_id,
            jobs.c.lease_owner == self.owner,
            jobs.c.status == "running",
            jobs.c.lease_expires_at > db.utcnow(),
        )

    async def claim(self, limit: int) -> list[Row[Any]]:
        async def work(conn: AsyncConnection) -> list[Row[Any]]:
            now = db.utcnow()
            query = (
                select(jobs.c.id)
                .where(jobs.c.status == "queued", jobs.c.available_at <= now)
                .order_by(jobs.c.available_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = [row.id for row in await conn.execute(query)]
            if not ids:
                return []
            await conn.execute(
                update(jobs)
                .where(jobs.c.id.in_(ids), jobs.c.status == "queued")
                .values(
                    status="running",
                    lease_owner=self.owner,
                    lease_expires_at=now + timedelta(seconds=self.settings.lease_seconds),
                    attempts=jobs.c.attempts + 1,
                    started_at=func.coalesce(jobs.c.started_at, now),
                    updated_at=now,
                )
            )
            rows = list(await conn.execute(select(jobs).where(jobs.c.id.in_(ids))))
            await store.add_events(conn, [(r.id, "claimed", {"owner": self.owner}) for r in rows])
            return rows

        # Safe to retry after a failover: an uncommitted claim changed nothing.
        rows: list[Row[Any]] = await db.transaction(self.engine, work, failover_retry=True)
        return rows

    async def _update_leased(self, ids: list[str], retry: bool, **values: Any) -> None:
        """Update the jobs among `ids` that this worker still holds (running, its lease)."""
        if not ids:
            return
        await db.transaction(
            self.engine,
            lambda conn: conn.execute(
                update(jobs)
                .where(
                    jobs.c.id.in_(ids), jobs.c.lease_owner == self.owner, jobs.c.status == "running"
                )
                .values(**values)
            ),
            failover_retry=retry,
        )

    async def heartbeat(self, ids: list[str]) -> None:
        # Idempotent, so retried after a failover: extending a lease twice is extending it once.
        await self._update_leased(ids, True, lease_expires_at=self._expiry())

    async def reap(self) -> int:
        """Re-queue jobs whose lease expired (their worker died); dead after max attempts."""

        async def work(conn: AsyncConnection) -> int:
            now = db.utcnow()
            query = (
                select(jobs.c.id, jobs.c.lease_owner)
                .where(jobs.c.status == "running", jobs.c.lease_expires_at < now)
                .limit(500)
                .with_for_update(skip_locked=True)
            )
            expired = list(await conn.execute(query))
            if not expired:
                return 0
            ids = [row.id for row in expired]
            await conn.execute(
                update(jobs)
                .where(
                    jobs.c.id.in_(ids), jobs.c.status == "running", jobs.c.lease_expires_at < now
                )
                .values(
                    status=case(
                        (jobs.c.attempts >= self.settings.max_attempts, "dead"), else_="queued"
                    ),
                    finished_at=case(
                        (jobs.c.attempts >= self.settings.max_attempts, now), else_=None
                    ),
                    lease_owner=None,
                    lease_expires_at=None,
                    available_at=now,
                    updated_at=now,
                    last_error=func.concat("lease expired: worker ", jobs.c.lease_owner, " stopped")
                    if self.is_mysql
                    else "lease expired: " + jobs.c.lease_owner + " stopped",
                )
            )
            await store.add_events(
                conn, [(row.id, "lease_expired", {"owner": row.lease_owner}) for row in expired]
            )
            return len(ids)

        count: int = await db.transaction(self.engine, work)
        return count

    async def release(self, ids: list[str]) -> None:
        """Give jobs back (shutdown): queued again, this attempt not counted."""
        now = db.utcnow()
        await self._update_leased(
            ids,
            False,
            status="queued",
            lease_owner=None,
            lease_expires_at=None,
            attempts=jobs.c.attempts - 1,
            available_at=now,
            updated_at=now,
            last_error="released by a stopping worker",
        )

    async def fail(self, job: Row[Any], reason: str, *, permanent: bool) -> bool:
        """Record a failed attempt (queued again after a backoff, or dead). True if dead."""
        now = db.utcnow()
        dead = permanent or job.attempts >= self.settings.max_attempts
        delay = backoff(
            job.attempts, self.settings.retry_base_seconds, self.settings.retry_max_seconds
        )
        values: dict[str, Any] = {
            "status": "dead" if dead else "queued",
            "lease_owner": None,
            "lease_expires_at": None,
            "last_error": reason,
            "updated_at": now,
            "available_at": now if dead else now + timedelta(seconds=delay),
            "finished_at": now if dead else None,
        }

        async def work(conn: AsyncConnection) -> None:
            result = await conn.execute(update(jobs).where(self.fence(job.id)).values(**values))
            if result.rowcount:
                await store.add_events(conn, [(job.id, "dead" if dead else "retry", reason)])

        await db.transaction(self.engine, work)
        return dead
