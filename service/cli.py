"""`ingest-service`: serve the API (and, later, run the worker and migrations)."""

from __future__ import annotations

import typer
import uvicorn

app = typer.Typer(help="The ingestion service.", no_args_is_help=True, add_completion=False)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes."),
) -> None:
    """Serve the HTTP API."""
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Longer than the ALB idle timeout (60 s) so a reused connection is never cut by us.
        timeout_keep_alive=65,
        log_level="info",
    )


@app.callback()
def _root() -> None:
    """The ingestion service."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
