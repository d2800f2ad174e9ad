"""`ingest-service`: serve the API, run the worker, migrate, create API keys.

Exit codes: 0 ok, 1 error (with a message, never a traceback)."""

from __future__ import annotations

import asyncio
import os
from enum import StrEnum

import typer
import uvicorn

from service import logs
from service.settings import Settings

app = typer.Typer(help="The ingestion service.", no_args_is_help=True, add_completion=False)
api_key_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(api_key_app, name="api-key")


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
    from service.worker import run_worker

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
    from service.migrate import migrate as run_migrate

    settings = _settings(database_url)
    try:
        asyncio.run(run_migrate(settings, revision))
    except Exception as error:
        raise _fail("migration failed", error) from None
    typer.echo("database is up to date", err=True)


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


@app.callback()
def _root() -> None:
    """The ingestion service."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
