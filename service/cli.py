"""`ingest-service`: serve the API, run the worker, migrate, create API keys.

Exit codes: 0 ok, 1 error (with a message, never a traceback); `schema` adds 2 migrations
pending (status), 3 migration lock held, 4 refused by a guard."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
import uvicorn

from service import logs
from service.migrate import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_LOCK_WAIT_TIMEOUT,
    MigrationError,
    MigrationLockTimeout,
    Options,
    describe_status,
    downgrade,
    downgrade_end,
    downgrade_plan,
    ensure_app_user,
    history,
    path,
    pending_sql,
    phase_target,
    revisions,
    stamp,
    status,
    upgrade,
)
from service.migrate_lint import lint
from service.settings import Settings

app = typer.Typer(help="The ingestion service.", no_args_is_help=True, add_completion=False)
api_key_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(api_key_app, name="api-key")
schema_app = typer.Typer(
    help="Schema migrations: status, up, down, sql, stamp, history, lint (what `opsctl migrate` "
    "runs, here or on an instance). Exit codes: 0 ok, 1 error, 2 migrations pending (status), "
    "3 lock held, 4 refused by a guard (destructive revisions: see lint).",
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
        # Nothing reads the client address or scheme (nginx logs the real client): uvicorn's
        # X-Forwarded-* rewriting would only cost every request its IP parsing.
        proxy_headers=False,
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


DatabaseUrlOpt = typer.Option(None, help="Database URL (default: INGEST_DATABASE_URL).")
JsonFlag = typer.Option(False, "--json", help="Print the result as JSON.")
LockTimeoutOpt = typer.Option(DEFAULT_LOCK_TIMEOUT, help="Seconds to wait for the migration lock.")
LockWaitOpt = typer.Option(
    DEFAULT_LOCK_WAIT_TIMEOUT,
    help="MySQL lock_wait_timeout (s): a DDL blocked by a metadata lock fails after this.",
)
NameOpt = typer.Option(
    "the database",
    "--name",
    help="What the messages call the database (opsctl passes the environment's name).",
)
AllowDestructiveOpt = typer.Option(
    False, "--allow-destructive", help="Apply pending revisions the lint flags anyway."
)


def _error(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _errors(what: str) -> Iterator[None]:
    """A failure becomes one line on stderr, `error: WHAT: ...`, and the contract's exit code
    (3: lock held)."""
    try:
        yield
    except MigrationLockTimeout as error:
        raise _error(f"{what}: {error}", 3) from None
    except MigrationError as error:
        raise _error(f"{what}: {error}") from None
    except Exception as error:  # driver, connection and Alembic errors: one line, no traceback
        message = " ".join(str(getattr(error, "orig", None) or error).split())
        raise _error(f"{what}: {type(error).__name__}: {message}") from None


def _options(lock_timeout: int, lock_wait_timeout: int) -> Any:
    return Options(
        lock_timeout=lock_timeout,
        lock_wait_timeout=lock_wait_timeout,
        on_statement=lambda statement: typer.echo(f"  sql> {statement}", err=True),
    )


def _refuse_destructive(pending: set[str], allow: bool) -> None:
    """Exit 4 when a pending revision does what only a contract revision may (the lint),
    unless allowed. It reads the revisions this installation applies (on an instance: the
    AMI's), not anyone's checkout."""
    errors = [f for f in lint(revisions=pending) if f.error]
    if not errors:
        return
    for finding in errors:
        typer.echo(finding.describe(), err=True)
    if allow:
        typer.echo("--allow-destructive: applying anyway", err=True)
        return
    raise _error(
        "pending revisions contain destructive operations in an expand revision (see above): "
        "move them to a contract revision, or pass --allow-destructive",
        4,
    )


def _up(
    database_url: str | None,
    revision: str,
    phase: str | None,
    allow_destructive: bool,
    lock_timeout: int,
    lock_wait_timeout: int,
    name: str,
    what: str = "migrate up",
) -> None:
    """`schema up` and `migrate`: lint the pending revisions, then upgrade under the lock.
    `what` starts an error message."""
    if phase not in (None, "expand", "contract"):
        raise _error(f"--phase must be expand or contract, got {phase!r}")
    settings = _settings(database_url)
    with _errors(what):
        current = asyncio.run(status(settings)).current
        target = revision
        if phase is not None:
            found = phase_target(current, phase)
            if found is None:
                asyncio.run(ensure_app_user(settings, _options(lock_timeout, lock_wait_timeout)))
                typer.echo(f"No {phase} revisions pending on {name}.")
                return
            target = found
        pending = {r.revision for r in path(current, target)}
        if not pending:
            asyncio.run(ensure_app_user(settings, _options(lock_timeout, lock_wait_timeout)))
    if not pending:
        typer.echo(f"Up to date: {name} is at {current}.")
        return
    _refuse_destructive(pending, allow_destructive)
    with _errors(what):
        applied = asyncio.run(upgrade(settings, target, _options(lock_timeout, lock_wait_timeout)))
    for done, statements in applied:
        typer.echo(f"  ok applied {done} ({len(statements)} statement(s))")
    if not applied:
        typer.echo("Nothing to apply: another run applied the pending revisions.")
    typer.echo(f"{name} is at {target}.")


@app.command()
def migrate(
    database_url: str = DatabaseUrlOpt,
    revision: str = typer.Option("head", help="Alembic revision to upgrade to."),
    allow_destructive: bool = AllowDestructiveOpt,
) -> None:
    """Bring the database schema up to date (under a lock): `schema up` to head, the command
    the AMI's ingest-migrate unit runs."""
    _up(
        database_url,
        revision,
        None,
        allow_destructive,
        DEFAULT_LOCK_TIMEOUT,
        DEFAULT_LOCK_WAIT_TIMEOUT,
        "the database",
        "migration failed",
    )


@schema_app.command("status")
def schema_status(database_url: str = DatabaseUrlOpt, json_output: bool = JsonFlag) -> None:
    """Current and head revision, pending revisions, a revision that failed half-way.
    Exit 2 when migrations are pending."""
    settings = _settings(database_url)
    with _errors("migrate status"):
        result = asyncio.run(status(settings)).as_dict()
    typer.echo(json.dumps(result, indent=2) if json_output else "\n".join(describe_status(result)))
    raise typer.Exit(0 if result["up_to_date"] else 2)


@schema_app.command("up")
def schema_up(
    database_url: str = DatabaseUrlOpt,
    revision: str = typer.Option("head", help="Revision to upgrade to."),
    phase: str = typer.Option(
        None,
        help="expand: pending revisions up to the first contract one (before a deploy); "
        "contract: the rest (after the old colour is gone).",
    ),
    allow_destructive: bool = AllowDestructiveOpt,
    lock_timeout: int = LockTimeoutOpt,
    lock_wait_timeout: int = LockWaitOpt,
    name: str = NameOpt,
) -> None:
    """Upgrade under the migration lock, logging each statement. Exit 4 when a pending
    revision is destructive but not marked contract (see `lint`), unless --allow-destructive."""
    _up(database_url, revision, phase, allow_destructive, lock_timeout, lock_wait_timeout, name)


@schema_app.command("down")
def schema_down(
    database_url: str = DatabaseUrlOpt,
    revision: str = typer.Option("-1", help="Revision to downgrade to (-1: one step)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be reverted; change nothing."
    ),
    json_output: bool = typer.Option(False, "--json", help="With --dry-run: the plan as JSON."),
    lock_timeout: int = LockTimeoutOpt,
    lock_wait_timeout: int = LockWaitOpt,
    name: str = NameOpt,
) -> None:
    """Downgrade under the migration lock (opsctl shows the --dry-run plan and asks first)."""
    settings = _settings(database_url)
    with _errors("migrate down"):
        current = asyncio.run(status(settings)).current
        reverted = downgrade_plan(current, revision)
        end = downgrade_end(current, revision, reverted)
    if dry_run and json_output:
        plan = {"current": current, "revision": revision, "to": end, "reverts": reverted}
        typer.echo(json.dumps(plan, indent=2))
        return
    if not reverted:
        typer.echo(f"Nothing to downgrade: {name} is at {current or 'base'}.")
        return
    if dry_run:
        typer.echo(
            f"Downgrade {name} from {current} to {revision} would revert {', '.join(reverted)}."
        )
        return
    with _errors("migrate down"):
        done = asyncio.run(downgrade(settings, end, _options(lock_timeout, lock_wait_timeout)))
    for undone, statements in done:
        typer.echo(f"  ok reverted {undone} ({len(statements)} statement(s))")


@schema_app.command("sql")
def schema_sql(
    database_url: str = DatabaseUrlOpt,
    revision: str = typer.Option("head", help="Render up to this revision."),
    name: str = NameOpt,
) -> None:
    """The SQL of the pending revisions (Alembic offline mode), for review."""
    settings = _settings(database_url)
    with _errors("migrate sql"):
        script = asyncio.run(pending_sql(settings, revision))
    if not script.strip():
        typer.echo(f"Nothing pending on {name}.", err=True)
    typer.echo(script, nl=False)


@schema_app.command("stamp")
def schema_stamp(
    database_url: str = DatabaseUrlOpt,
    revision: str = typer.Option(..., help="Revision to mark as applied."),
    lock_timeout: int = LockTimeoutOpt,
    name: str = NameOpt,
) -> None:
    """Mark a revision applied without running it (after finishing it by hand)."""
    settings = _settings(database_url)
    with _errors("migrate stamp"):
        asyncio.run(stamp(settings, revision, Options(lock_timeout=lock_timeout)))
    typer.echo(f"Stamped {name} at {revision}.")


@schema_app.command("history")
def schema_history(database_url: str = DatabaseUrlOpt, json_output: bool = JsonFlag) -> None:
    """Every revision with its phase, and what migration_log recorded: each revision applied,
    failed, reverted or stamped. --json: {"revisions": [...], "log": [...]}."""
    settings = _settings(database_url)
    with _errors("migrate history"):
        rows = asyncio.run(history(settings))
        known = [{"revision": r.revision, "phase": r.phase, "doc": r.doc} for r in revisions()]
    if json_output:
        typer.echo(json.dumps({"revisions": known, "log": rows}, indent=2))
        return
    for k in known:
        typer.echo(f"{k['revision']:8} {k['phase'] or '-':8} {k['doc']}")
    if not rows:
        typer.echo("No migration has run on this database yet.")
    for r in rows:
        error = f"  {r['error']}" if r["error"] else ""
        typer.echo(
            f"{r['at']}  {r['revision']:8} {r['action']:9} {r['status']:8} "
            f"{r['statements']:3} stmt  {r['by']}{error}"
        )


@schema_app.command("lint")
def schema_lint(
    paths: list[Path] = typer.Argument(  # noqa: B008
        None, help="Revision files or folders (default: the revisions this service applies)."
    ),
) -> None:
    """Flag destructive operations (drop column/table, rename, NOT NULL without default, type
    narrowing) outside contract revisions. Needs no database. Exit 1 on any error."""
    with _errors("migrate lint"):
        findings = lint(paths or None)
    for finding in findings:
        typer.echo(finding.describe())
    errors = sum(f.error for f in findings)
    if errors:
        raise _error(f"{errors} problem(s): destructive operations belong in contract revisions")
    typer.echo(f"ok revisions lint clean ({len(findings)} contract finding(s))")


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
