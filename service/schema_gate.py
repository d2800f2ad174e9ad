"""The schema gate: new code never serves or works jobs before its expand revisions are applied.

This code needs the database at `required_revision()`: its newest revision that is not a contract
revision (the contract ones after it run later, once no older code runs, and this code works
both before and after them). Until the database has it, `/health` answers 503 "schema behind"
(so the ALB sends it no traffic) and the worker claims nothing. A release applies the expand
revisions from an instance of the new colour (`ingest-service schema up --phase expand` over
SSM) while that colour has no traffic; the gate opens by itself at the next check.

A database *ahead* of this code (a revision it does not know: a newer release ran) passes: an
expanded schema keeps older code working, which the lint enforces; rolling back past a contract
is refused by opsctl.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from service import migrate

log = logging.getLogger("service.schema_gate")


def required_revision() -> str:
    chain = migrate.revisions()
    for revision in reversed(chain):
        if revision.phase != "contract":
            return revision.revision
    return chain[0].revision


def satisfied(current: str | None, required: str) -> bool:
    """Has a database at `current` every revision up to `required`?"""
    if current is None:
        return False
    known = {r.revision for r in migrate.revisions()}
    if current not in known:
        return True  # ahead of this code
    return required in {r.revision for r in migrate.path(None, current)}


async def current_revision(engine: Any) -> str | None:
    async with engine.connect() as conn:
        if not await conn.run_sync(lambda c: c.dialect.has_table(c, "alembic_version")):
            return None
        return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()


@dataclass
class Gate:
    """Checks the database's revision at most every `recheck` seconds while behind; once the
    database has the required revision it stays open (a schema does not go back by itself)."""

    engine: Any
    recheck: float = 2.0
    open: bool = False
    reason: str | None = "schema not checked yet"
    required: str | None = None  # this code's revision, read once from its migrations
    _checked_at: float = float("-inf")

    async def behind(self) -> str | None:
        """None when the database has the revision this code needs, else why not."""
        if self.open:
            return None
        now = time.monotonic()
        if now - self._checked_at < self.recheck:
            return self.reason
        self._checked_at = now
        if self.required is None:
            self.required = required_revision()
        required = self.required
        current = await current_revision(self.engine)
        if satisfied(current, required):
            self.open, self.reason = True, None
            log.info("schema at %s has this code's revision %s", current, required)
            return None
        self.reason = f"schema behind: database at {current or 'base'}, this code needs {required}"
        return self.reason

    async def wait(self, stopping: asyncio.Event) -> bool:
        """For the worker: until the schema is there (True) or the worker stops (False)."""
        while (reason := await self._safe_behind()) is not None:
            log.warning("worker waits: %s", reason)
            try:
                await asyncio.wait_for(stopping.wait(), self.recheck)
            except TimeoutError:
                continue
            return False
        return True

    async def _safe_behind(self) -> str | None:
        try:
            return await self.behind()
        except Exception as error:  # the database is unreachable: not known to be there yet
            self._checked_at = time.monotonic()
            return f"schema not checked ({type(error).__name__})"
