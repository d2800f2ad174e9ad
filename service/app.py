"""The Starlette application: lifespan (engine, keys, group writer, optional worker), health,
metrics, OpenAPI and the /v1 routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service import api, db, metrics, store
from service.auth import KeyStore
from service.errors import HANDLERS
from service.jsonutil import JSONResponse
from service.middleware import ServiceMiddleware
from service.migrate import migrate
from service.openapi import openapi_document
from service.runner import make_worker
from service.schema_gate import Gate
from service.settings import Settings
from service.state import State
from service.writer import GroupWriter

log = logging.getLogger("service.app")


class ReadOnly(Exception):
    """The database answers but refuses writes: a reader (e.g. the old Aurora writer)."""


async def health(request: Request) -> Response:
    """For the ALB: a database round trip with a short timeout, then the checks on what it
    answered (writable). Concurrent checks share one round trip, and a result is reused for
    `health_cache_seconds` (0.1 s): a burst of checks costs the database one query, not one
    each."""
    runtime: State = request.app.state.runtime
    reason = await _checked(runtime)
    if reason is None:
        behind = await _schema_behind(request)
        if behind is not None:
            return _unavailable("schema_behind", behind)
    if reason is not None:
        return JSONResponse(
            {
                "status": "unavailable",
                "error": {
                    "code": "service_unavailable",
                    "message": reason,
                    "details": None,
                },
            },
            status_code=503,
            headers={"Retry-After": "2"},
        )
    return JSONResponse({"status": "ok"})


async def _schema_behind(request: Request) -> str | None:
    """The schema gate (service/schema_gate.py): 503 until the database has this code's
    revision, so a new release takes no traffic before its expand migrations ran."""
    gate = getattr(request.app.state, "schema_gate", None)
    if gate is None:
        return None
    try:
        return await asyncio.wait_for(
            gate.behind(), request.app.state.runtime.settings.health_timeout
        )
    except Exception as error:
        return f"schema not checked ({type(error).__name__})"


def _unavailable(code: str, message: str) -> Response:
    return JSONResponse(
        {"status": "unavailable", "error": {"code": code, "message": message, "details": None}},
        status_code=503,
        headers={"Retry-After": "2"},
    )


async def _checked(runtime: State) -> str | None:
    """None if the database answered and passed every check, else the reason."""
    now = time.monotonic()
    cached = runtime.health
    if cached is not None and now - cached[0] < runtime.settings.health_cache_seconds:
        return cached[1]
    if runtime.health_probe is None or runtime.health_probe.done():
        runtime.health_probe = asyncio.ensure_future(_probe(runtime))
    return await asyncio.shield(runtime.health_probe)


async def _probe(runtime: State) -> str | None:
    try:
        await asyncio.wait_for(_ping(runtime), runtime.settings.health_timeout)
        reason = None
    except ReadOnly as error:
        reason = f"database read-only ({error})"
    except Exception as error:  # any failure is "not healthy", with the reason
        cause = "database timeout" if isinstance(error, TimeoutError) else type(error).__name__
        reason = f"database unreachable ({cause})"
    runtime.health = (time.monotonic(), reason)
    return reason


async def _ping(runtime: State) -> None:
    async with runtime.engine.connect() as conn:
        if runtime.engine.dialect.name == "sqlite":
            conn = await conn.execution_options(sqlite_begin="DEFERRED")
            await conn.execute(text("SELECT 1"))
            return
        await _check_writable(conn)


async def _check_writable(conn: AsyncConnection) -> None:
    """Raise ReadOnly on a reader. `innodb_read_only` is what an Aurora MySQL reader sets;
    `read_only` is what a MariaDB/MySQL replica (and our failover tests) set. The pool is then
    invalidated, so the next check (and the next request) connects afresh: once the cluster
    endpoint points at the new writer, the instance is healthy again."""
    row = (await conn.execute(text("SELECT @@global.read_only, @@global.innodb_read_only"))).one()
    if row[0] or row[1]:
        await db.invalidate_pool(conn)
        flag = "innodb_read_only" if row[1] else "read_only"
        raise ReadOnly(f"{flag} is ON: the endpoint reaches a reader")


async def health_live(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def metrics_endpoint(request: Request) -> Response:
    runtime: State = request.app.state.runtime

    async def work(conn: Any) -> tuple[dict[str, int], int]:
        return await store.counts_by_status(conn), await store.queue_depth(conn)

    try:
        counts, depth = await asyncio.wait_for(
            db.read(runtime.engine, work), runtime.settings.health_timeout * 2
        )
        for status, count in counts.items():
            metrics.JOBS.labels(status).set(count)
        metrics.QUEUE_DEPTH.set(depth)
    except Exception as error:
        log.warning("job gauges unavailable: %s", error)
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


async def openapi(_request: Request) -> Response:
    return JSONResponse(openapi_document())


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    metrics.ensure_emf_environment(settings.emf_environment)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await migrate(settings)
        engine = db.create_engine(settings)
        writer = GroupWriter(engine, settings.group_commit_max)
        runtime = State(settings, engine, KeyStore(engine, settings), writer)
        app.state.runtime = runtime
        app.state.schema_gate = Gate(engine)
        writer.start()
        worker_task = None
        worker = None
        if settings.run_worker:
            runtime.wake = asyncio.Event()
            worker = make_worker(engine, settings, wake=runtime.wake)
            worker_task = asyncio.create_task(worker.run())
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker.stop()
                await worker_task
            await writer.stop()
            await engine.dispose()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/health/live", health_live, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *api.ROUTES,
    ]

    return Starlette(
        routes=routes,
        middleware=[Middleware(ServiceMiddleware, settings=settings)],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
