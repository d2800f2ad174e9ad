"""`ingest-service`: serve the API, run the worker, migrate, create API keys.

Exit codes: 0 ok, 1 error (with a message, never a traceback)."""

from __future__ import annotations

import asyncio
import os
from enum import StrEnum
from typing import Any

import typer
import uvicorn

from service import logs
from service.settings import Settings

app = typer.Typer(help="The ingestion service.", no_args_is_help=True, add_completion=False)
api_key_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(api_key_app, name="api-key")
schema_app = typer.Typer(
    help="Schema migrations: status, up, down, sql, stamp, history (what `opsctl migrate` runs "
    "on an instance). Exit codes: 0 ok, 1 error, 2 migrations pending (status), 3 lock held.",
    no_args_is_help=True,
)
app.add_typer(schema_app, name="schema")


class Scope(StrEnum):
    read = "read"
    write = "write"


def _settings(database_url: str | None = None) -> Settings:
    if database_url:
        os.environ["INGEST_DATABASE_URL"] = database_url
    try:
        return Settings()
    except Exception as error:
        typer.echo(f"invalid settings: {error}", err=True)
        raise typer.Exit(1) from None


def _fail(what: str, error: Exception) -> typer.Exit:
    typer.echo(f"{what}: {type(error).__name__}: {error}", err=True)
    return typer.Exit(1)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes."),
    with_worker: bool = typer.Option(
        False, "--with-worker", help="Also run the job worker inside each API process."
    ),
) -> None:
    """Serve the HTTP API."""
    if with_worker:
        os.environ["INGEST_RUN_WORKER"] = "true"
    _settings()
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Longer than the ALB idle timeout (60 s) so a reused connection is never cut by us.
        timeout_keep_alive=65,
        log_config=logs.UVICORN_LOG_CONFIG,
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )


@app.command()
def worker(
    concurrency: int = typer.Option(None, min=1, max=64, help="Jobs processed at once."),
) -> None:
    """Process queued jobs until SIGTERM (in-flight jobs finish or are released)."""
    from service.runner import run_worker

    settings = _settings()
    logs.configure()
    try:
        asyncio.run(run_worker(settings, concurrency))
    except Exception as error:
        raise _fail("worker failed", error) from None


@app.command()
def migrate(
    database_url: str = typer.Option(None, help="Database URL (default: INGEST_DATABASE_URL)."),
    revision: str = typer.Option("head", help="Alembic revision to upgrade to."),
) -> None:
    """Bring the database schema up to date (under a lock)."""
    from service.migrate import MigrationError, upgrade

    settings = _settings(database_url)
    try:
        asyncio.run(upgrade(settings, revision, _options(60, 5)))
    except MigrationError as error:
        typer.echo(f"migration failed: {error}", err=True)
        raise typer.Exit(3 if type(error).__name__ == "MigrationLockTimeout" else 1) from None
    except Exception as error:
        raise _fail("migration failed", error) from None
    typer.echo("database is up to date", err=True)


DatabaseUrlOpt = typer.Option(None, help="Database URL (default: INGEST_DATABASE_URL).")
JsonFlag = typer.Option(False, "--json", help="Print the result as JSON.")
LockTimeoutOpt = typer.Option(60, help="Seconds to wait for the migration lock.")
LockWaitOpt = typer.Option(
    5, help="MySQL lock_wait_timeout (s): a DDL blocked by a metadata lock fails after this."
)


def _schema(action: str, run: Any) -> Any:
    """Run one schema action; a failure becomes a message and the contract's exit code."""
    from service.migrate import MigrationError, MigrationLockTimeout

    try:
        return asyncio.run(run)
    except MigrationLockTimeout as error:
        typer.echo(f"{action}: {error}", err=True)
        raise typer.Exit(3) from None
    except MigrationError as error:
        typer.echo(f"{action}: {error}", err=True)
        raise typer.Exit(1) from None
    except Exception as error:
        raise _fail(f"{action} failed", error) from None


def _options(lock_timeout: int, lock_wait_timeout: int) -> Any:
    from service.migrate import Options

    return Options(
        lock_timeout=lock_timeout,
        lock_wait_timeout=lock_wait_timeout,
        on_statement=lambda statement: typer.echo(f"  sql> {statement}", err=True),
    )


@schema_app.command("status")
def schema_status(database_url: str = DatabaseUrlOpt, json_output: bool = JsonFlag) -> None:
    """Current and head revision, pending revisions, a revision that failed half-way.
    Exit 2 when migrations are pending."""
    import json

    from service.migrate import describe_status, status

    result = _schema("status", status(_settings(database_url))).as_dict()
    typer.echo(json.dumps(result, indent=2) if json_output else "\n".join(describe_status(result)))
    raise typer.Exit(0 if result["up_to_date"] else 2)


@schema_app.command("up")
def schema_up(
    database_url: str = DatabaseUrlOpt,
    revision: str = typer.Option("head", help="Revision to upgrade to."),
    phase: str = typer.Option(
        None, help="expand: pending revisions up to the first contract one; contract: all."
    ),
    lock_timeout: int = LockTimeoutOpt,
    lock_wait_timeout: int = LockWaitOpt,
) -> None:
    """Upgrade under the migration lock, logging each statement."""
    from service.migrate import phase_target, status, upgrade

    settings = _settings(database_url)
    if phase is not None:
        if phase not in ("expand", "contract"):
            raise _fail("up", ValueError(f"--phase must be expand or contract, got {phase!r}"))
        current = _schema("up", status(settings)).current
        target = phase_target(current, phase)
        if target is None:
            typer.echo(f"no {phase} revisions pending")
            return
        revision = target
    applied = _schema("up", upgrade(settings, revision, _options(lock_timeout, lock_wait_timeout)))
    for name, statements in applied:
        typer.echo(f"applied {name} ({len(statements)} statement(s))")
    typer.echo("database is up to date" if revision == "head" else f"database is at {revision}")


@schema_app.command("down")
def schema_down(
    database_url: str = DatabaseUrlOpt,
    revision: str = typer.Option("-1", help="Revision to downgrade to (-1: one step)."),
    lock_timeout: int = LockTimeoutOpt,
    lock_wait_timeout: int = LockWaitOpt,
) -> None:
    """Downgrade under the migration lock (opsctl asks for confirmation first)."""
    from service.migrate import downgrade

    settings = _settings(database_url)
    done = _schema("down", downgrade(settings, revision, _options(lock_timeout, lock_wait_timeout)))
    for name, statements in done:
        typer.echo(f"reverted {name} ({len(statements)} statement(s))")


@schema_app.command("sql")
def schema_sql(
    database_url: str = DatabaseUrlOpt,
    revision: str = typer.Option("head", help="Render up to this revision."),
) -> None:
    """The SQL of the pending revisions (Alembic offline mode), for review."""
    from service.migrate import pending_sql

    typer.echo(_schema("sql", pending_sql(_settings(database_url), revision)), nl=False)


@schema_app.command("stamp")
def schema_stamp(
    database_url: str = DatabaseUrlOpt,
    revision: str = typer.Option(..., help="Revision to mark as applied."),
    lock_timeout: int = LockTimeoutOpt,
) -> None:
    """Mark a revision applied without running it (after finishing it by hand)."""
    from service.migrate import Options, stamp

    _schema("stamp", stamp(_settings(database_url), revision, Options(lock_timeout=lock_timeout)))
    typer.echo(f"stamped {revision}")


@schema_app.command("history")
def schema_history(database_url: str = DatabaseUrlOpt, json_output: bool = JsonFlag) -> None:
    """What migration_log recorded: each revision applied, failed, reverted or stamped."""
    import json

    from service.migrate import history

    rows = _schema("history", history(_settings(database_url)))
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        error = f"  {r['error']}" if r["error"] else ""
        typer.echo(
            f"{r['at']}  {r['revision']:8} {r['action']:9} {r['status']:8} "
            f"{r['statements']:3} stmt  {r['by']}{error}"
        )


@api_key_app.command("create")
def api_key_create(
    name: str = typer.Option(..., help="Who or what the key is for."),
    scope: Scope = typer.Option(..., help="read or write (write includes read)."),  # noqa: B008
) -> None:
    """Create an API key; prints the key (only the key) on stdout, once. Store it now."""
    from service.auth import create_key
    from service.db import create_engine

    settings = _settings()

    async def run() -> str:
        engine = create_engine(settings)
        try:
            return await create_key(engine, name, scope.value)
        finally:
            await engine.dispose()

    try:
        key = asyncio.run(run())
    except Exception as error:
        raise _fail("could not create the key (has `ingest-service migrate` run?)", error) from None
    typer.echo(key)


@app.command("retry-dead")
def retry_dead(
    limit: int = typer.Option(100, min=1, help="At most this many dead jobs are queued again."),
) -> None:
    """Queue dead jobs again (oldest first); prints how many (the dead-jobs runbook runs it)."""
    from sqlalchemy import select

    from service.db import create_engine, transaction
    from service.store import retry_job
    from service.tables import jobs

    settings = _settings()

    async def run() -> int:
        engine = create_engine(settings)
        try:

            async def work(conn: Any) -> int:
                ids = await conn.execute(
                    select(jobs.c.id)
                    .where(jobs.c.status == "dead")
                    .order_by(jobs.c.id)
                    .limit(limit)
                )
                return sum([await retry_job(conn, row.id) for row in ids.all()])

            return int(await transaction(engine, work))
        finally:
            await engine.dispose()

    try:
        count = asyncio.run(run())
    except Exception as error:
        raise _fail("could not retry dead jobs", error) from None
    typer.echo(f"queued {count} dead job(s) again")


@app.callback()
def _root() -> None:
    """The ingestion service."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
