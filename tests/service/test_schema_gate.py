"""The schema gate (service/schema_gate.py) against a real MariaDB: a release's code, shipping an
expand revision the database does not have yet, takes no traffic (/health 503 "schema behind")
and claims no job until that revision is applied; then both open by themselves."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from service import db as service_db
from service.app import create_app
from service.migrate import migrate
from service.settings import Settings
from service.worker import Worker
from tests.support.mariadb import MariaDB
from tests.support.revisions import write_revision
from tests.support.service import FAST

NEW_EXPAND = 'op.add_column("jobs", sa.Column("gate_note", sa.String(32), nullable=True))'


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def behind(db: tuple[MariaDB, str, str], extra: Path) -> str:
    """The old release's schema (the shipped revisions), with the new release's code on disk:
    one more expand revision, 0003, in the migrations this code carries."""
    _server, _name, url = db
    asyncio.run(migrate(Settings(database_url=url), revision="0002"))
    write_revision(extra, "0003", NEW_EXPAND)
    return url


def test_new_code_is_unhealthy_while_the_schema_is_behind_and_healthy_once_expand_ran(
    behind: str,
) -> None:
    """Main served a new release's requests before its expand revisions ran (they ran from the
    old colour's AMI, which does not have them)."""
    values: dict[str, Any] = {"database_url": behind, "run_worker": False, **FAST}
    settings = Settings(**values)
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        held = client.get("/health")
        assert held.status_code == 503
        error = held.json()["error"]
        assert error["code"] == "schema_behind"
        assert error["message"] == "schema behind: database at 0002, this code needs 0003"
        asyncio.run(migrate(Settings(database_url=behind), revision="0003"))  # expand runs
        wait_until(lambda: client.get("/health").status_code == 200)


def test_the_worker_claims_nothing_until_the_database_has_the_schema(
    behind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    values: dict[str, Any] = {"database_url": behind, "run_worker": True, **FAST}
    settings = Settings(**values)

    async def scenario() -> None:
        engine = service_db.create_engine(settings)
        worker = Worker(engine, settings)
        task = asyncio.create_task(worker.run())
        try:
            while "worker waits: schema behind" not in caplog.text:
                await asyncio.sleep(0.05)
            assert "started (concurrency" not in caplog.text  # held back: no claim loop
            await migrate(Settings(database_url=behind), revision="0003")
            async with asyncio.timeout(30):
                while "started (concurrency" not in caplog.text:
                    await asyncio.sleep(0.05)
        finally:
            worker.stop()
            await asyncio.wait_for(task, 30)
            await engine.dispose()

    asyncio.run(scenario())


def test_a_database_ahead_of_the_code_passes(behind: str) -> None:
    """Old code on an expanded schema (a rollback before contract) keeps serving."""
    from service import schema_gate

    assert not schema_gate.satisfied("0002", "0003")
    assert schema_gate.satisfied("0003", "0003")
    assert schema_gate.satisfied("0003", "0002")
    assert schema_gate.satisfied("0099-from-a-newer-release", "0003")
    assert not schema_gate.satisfied(None, "0001")
