"""The worker's semantics, in-process: fencing, retries with backoff to dead, per-record errors,
release on shutdown, the reaper; migrations under a lock; `api-key create`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db import create_engine, utcnow
from service.settings import Settings
from service.tables import jobs
from service.worker import LeaseLost, Worker, backoff
from tests.support.dbhelpers import job_table, record_keys, run_db, seed
from tests.support.paths import REPO
from tests.support.service import SCHEMA, unique

pytestmark = pytest.mark.slow


def with_worker(settings: Settings, action: Any) -> Any:
    """Run `action(worker)` against a fresh engine (owner names differ per Worker)."""

    async def main() -> Any:
        engine = create_engine(settings)
        try:
            return await action(Worker(engine, settings))
        finally:
            await engine.dispose()

    return asyncio.run(main())


async def claim_one(worker: Worker, job_id: str) -> Any:
    for _ in range(100):
        claimed = await worker.claim(50)
        await worker.release([job.id for job in claimed if job.id != job_id])
        for job in claimed:
            if job.id == job_id:
                return job
    raise AssertionError(f"could not claim {job_id}")


def test_backoff_is_full_jitter_and_capped() -> None:
    for attempt in range(1, 12):
        values = [backoff(attempt, 2.0, 60.0) for _ in range(200)]
        ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
        assert all(0 <= value <= ceiling for value in values)
        assert max(values) > ceiling / 2  # spread over the whole range, not a fixed delay


def test_an_expired_lease_cannot_complete(make_settings: Any, database_url: str) -> None:
    settings: Settings = make_settings()
    name = unique()
    [job_id] = seed(database_url, name, [[{"id": 1}, {"id": 2}]], SCHEMA)

    async def scenario(first: Worker) -> None:
        job = await claim_one(first, job_id)
        await first.engine.dispose()

        async def expire(conn: AsyncConnection) -> None:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(lease_expires_at=utcnow() - timedelta(seconds=1))
            )

        async with first.engine.begin() as conn:
            await expire(conn)
        with pytest.raises(LeaseLost):
            await first.process(job)
        second = Worker(first.engine, settings)
        await second.reap()
        again = await claim_one(second, job_id)
        assert again.attempts == 2
        await second.process(again)

    with_worker(settings, scenario)
    row = job_table(database_url, [job_id])[job_id]
    assert (row["status"], row["processed"], row["attempts"]) == ("succeeded", 2, 2)
    assert sorted(record_keys(database_url, name)) == ["1", "2"]


def test_transient_failures_back_off_then_dead(make_settings: Any, database_url: str) -> None:
    settings: Settings = make_settings(
        max_attempts=3, retry_base_seconds=0.01, retry_max_seconds=0.05
    )
    name = unique()
    [job_id] = seed(database_url, name, [[{"id": 1}]], SCHEMA)

    async def scenario(worker: Worker) -> None:
        async def broken(_job: Any) -> None:
            raise RuntimeError("the disk is on fire")

        worker.process = broken  # type: ignore[method-assign,assignment]
        for attempt in range(1, 4):
            job = await claim_one(worker, job_id)
            assert job.attempts == attempt
            await worker._run_job(job)

    with_worker(settings, scenario)
    row = job_table(database_url, [job_id])[job_id]
    assert row["status"] == "dead"
    assert row["attempts"] == 3
    assert "the disk is on fire" in row["last_error"]
    assert record_keys(database_url, name) == []


def test_per_record_errors_are_kept(make_settings: Any, database_url: str) -> None:
    """The schema changed after the POST: the worker validates again and keeps each error."""
    settings: Settings = make_settings()
    name = unique()
    [mixed, bad] = seed(
        database_url,
        name,
        [[{"id": 1}, {"id": "two"}, {"id": 3, "amount": "x"}], [{"id": "a"}, {"name": "no id"}]],
        SCHEMA,
    )

    async def scenario(worker: Worker) -> None:
        for job_id in (mixed, bad):
            await worker.process(await claim_one(worker, job_id))

    with_worker(settings, scenario)
    rows = job_table(database_url, [mixed, bad])
    assert (rows[mixed]["status"], rows[mixed]["processed"], rows[mixed]["failed_records"]) == (
        "succeeded",
        1,
        2,
    )
    assert (rows[bad]["status"], rows[bad]["processed"], rows[bad]["failed_records"]) == (
        "failed",
        0,
        2,
    )
    assert rows[bad]["last_error"] == "every record was rejected"
    assert record_keys(database_url, name) == ["1"]
    from service import store

    errors = run_db(database_url, lambda conn: store.record_errors(conn, mixed, 10))
    assert [error["index"] for error in errors] == [1, 2]
    assert "is not of type 'integer'" in errors[0]["errors"][0]


def test_release_gives_jobs_back(make_settings: Any, database_url: str) -> None:
    settings: Settings = make_settings()
    [job_id] = seed(database_url, unique(), [[{"id": 1}]], SCHEMA)

    async def scenario(worker: Worker) -> None:
        await claim_one(worker, job_id)
        await worker.release([job_id])

    with_worker(settings, scenario)
    row = job_table(database_url, [job_id])[job_id]
    assert (row["status"], row["attempts"], row["lease_owner"]) == ("queued", 0, None)


def test_migrations_run_once_under_a_lock(database_url: str, tmp_path: Path) -> None:
    url = database_url if "mysql" in database_url else f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    commands = [
        subprocess.Popen(
            [sys.executable, "-m", "service.cli", "migrate", "--database-url", url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for command in commands:
        _out, err = command.communicate(timeout=60)
        assert command.returncode == 0, err.decode()
        assert b"Traceback" not in err


def test_migrate_reports_a_bad_url_without_a_traceback() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "migrate",
            "--database-url",
            "mysql+asyncmy://u:p@127.0.0.1:1/x",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "migration failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_api_key_create_prints_only_the_key(database_url: str) -> None:
    env = dict(os.environ, INGEST_DATABASE_URL=database_url)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "api-key",
            "create",
            "--name",
            "ci",
            "--scope",
            "read",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert re.fullmatch(r"ik_[A-Za-z0-9_-]{40,}\n", result.stdout)
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "api-key",
            "create",
            "--name",
            "ci",
            "--scope",
            "admin",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode != 0
    assert bad.stdout == ""


def test_worker_reports_queue_depth_and_dead_jobs_as_emf(
    make_settings: Any,
    database_url: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_EMF_ENVIRONMENT", "Local")
    settings: Settings = make_settings()
    seed(database_url, unique(), [[{"id": 1}], [{"id": 2}]], SCHEMA)
    capfd.readouterr()
    with_worker(settings, lambda worker: worker.report())
    lines = [line for line in capfd.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(lines) == 1
    document = json.loads(lines[0])
    names = {metric["Name"] for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"QueueDepth", "DeadJobs", "RunningJobs"} <= names
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "IngestService"
    # Exactly the dimension set the QueueDepth scaling policy and DeadJobs alarm match on.
    assert directive["Dimensions"] == [["Environment"]]
    assert document["Environment"] == settings.env
    assert document["QueueDepth"] >= 2


def test_serve_keeps_connections_longer_than_the_alb(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import service.cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(service.cli.uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.delenv("INGEST_RUN_WORKER", raising=False)
    result = CliRunner().invoke(
        service.cli.app, ["serve", "--port", "9999", "--workers", "2", "--with-worker"]
    )
    assert result.exit_code == 0, result.output
    assert seen["timeout_keep_alive"] == 65 > 60  # the ALB idle timeout
    assert seen["workers"] == 2
    assert os.environ.pop("INGEST_RUN_WORKER") == "true"


def test_the_grace_period_ends_at_a_chunk_boundary(make_settings: Any, database_url: str) -> None:
    """SIGTERM with the grace period over while a chunk's transaction is still in the driver
    (a busy writer: the seam adds one slow statement to the second chunk's transaction). The
    chunk commits, the job stops before the next one and is released: nothing is cut
    mid-statement. Cancelling it there instead rolled the chunk back and, on SQLite, left the
    force-closed connection holding the write lock, so the release failed with `database is
    locked` and the worker exited 1."""
    settings: Settings = make_settings(chunk_records=50, shutdown_grace_seconds=0)
    name = unique()
    [job_id] = seed(database_url, name, [[{"id": n} for n in range(400)]], SCHEMA)
    slow = (
        "SELECT SLEEP(0.5)"
        if "mysql" in database_url
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000)"
        " SELECT count(*) FROM c"
    )

    async def scenario(worker: Worker) -> None:
        in_driver = asyncio.Event()
        commit = worker._commit

        async def busy_second_chunk(conn: AsyncConnection, **chunk: Any) -> None:
            await commit(conn, **chunk)
            if chunk["total"].processed == 100:
                in_driver.set()
                await conn.execute(text(slow))

        worker._commit = busy_second_chunk  # type: ignore[method-assign,assignment]
        run = asyncio.create_task(worker.run())
        await asyncio.wait_for(in_driver.wait(), 30)
        worker.stop()
        await run

    with_worker(settings, scenario)
    row = job_table(database_url, [job_id])[job_id]
    assert (row["status"], row["attempts"], row["lease_owner"]) == ("queued", 0, None)
    assert row["processed"] == 100
    assert len(record_keys(database_url, name)) == 100
