"""The one async engine factory, plus what every caller needs to talk to the database safely:
SQLite in WAL mode with BEGIN IMMEDIATE for writes, MySQL with pre-ping and a bounded pool,
passwords read from Secrets Manager at connect time, and errors classified for callers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from service import secrets
from service.settings import Settings

log = logging.getLogger("service.db")
T = TypeVar("T")

MYSQL_AUTH_ERRORS = {1044, 1045, 1698}
MYSQL_RETRYABLE = {1205, 1213}  # lock wait timeout, deadlock


def utcnow() -> datetime:
    """Naive UTC (what both MySQL DATETIME and SQLite store)."""
    return datetime.now(UTC).replace(tzinfo=None)


def database_url(settings: Settings) -> URL:
    """The URL to connect to. With an Aurora secret, user/host/db come from the secret and
    settings; the password is supplied at connect time (see `_secret_password`)."""
    if settings.database_secret_arn:
        secret = secrets.get_json(settings.database_secret_arn, settings)
        return URL.create(
            "mysql+asyncmy",
            username=str(secret.get("username", "")),
            host=settings.database_host or str(secret.get("host", "")),
            port=int(settings.database_port or secret.get("port", 3306)),
            database=settings.database_name or str(secret.get("dbname", "")),
        )
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return url


def mysql_error_code(error: BaseException) -> int | None:
    original = getattr(error, "orig", None) or error
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def create_engine(settings: Settings) -> AsyncEngine:
    url = database_url(settings)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            connect_args={"timeout": 10},
        )
        _sqlite_events(engine)
        return engine
    engine = create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=1800,
        isolation_level="READ COMMITTED",
        connect_args={"connect_timeout": settings.db_connect_timeout},
    )
    if settings.database_secret_arn:
        _secret_password(engine, settings)
    return engine


def _sqlite_events(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # We emit BEGIN ourselves (below): the driver's implicit BEGIN is DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a 202 means the batch survives power loss
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # Writers take the write lock up front: no deadlock-prone read-to-write upgrade.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _secret_password(engine: AsyncEngine, settings: Settings) -> None:
    arn = settings.database_secret_arn
    assert arn is not None

    @event.listens_for(engine.sync_engine, "do_connect")
    def _credentials(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        secret = secrets.get_json(arn, settings)
        cparams["user"] = str(secret.get("username", cparams.get("user", "")))
        cparams["password"] = str(secret.get("password", ""))

    @event.listens_for(engine.sync_engine, "handle_error")
    def _auth_failed(context: Any) -> None:
        if mysql_error_code(context.original_exception) in MYSQL_AUTH_ERRORS:
            log.warning("database authentication failed: re-reading the secret")
            secrets.invalidate(arn)


def is_unavailable(error: BaseException) -> bool:
    """The database cannot be reached right now (the caller answers 503, the worker waits)."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout | TimeoutError | OSError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _retryable(error: BaseException) -> bool:
    if mysql_error_code(error) in MYSQL_RETRYABLE:
        return True
    if mysql_error_code(error) in MYSQL_AUTH_ERRORS:
        return True  # the secret was re-read: one more try with the new password
    return isinstance(error, OperationalError) and "database is locked" in str(error)


async def transaction(
    engine: AsyncEngine,
    work: Callable[[AsyncConnection], Any],
    attempts: int = 4,
) -> Any:
    """Run `work(conn)` in one transaction; retry deadlocks, lock timeouts and auth failures."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.05, max=1),
        reraise=True,
    ):
        with attempt:
            async with engine.begin() as conn:
                return await work(conn)
    raise AssertionError("unreachable")


async def read(engine: AsyncEngine, work: Callable[[AsyncConnection], Any]) -> Any:
    """Run read-only `work(conn)`; on SQLite a DEFERRED transaction (readers don't queue)."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(2),
        reraise=True,
    ):
        with attempt:
            async with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    conn = await conn.execution_options(sqlite_begin="DEFERRED")
                return await work(conn)
    raise AssertionError("unreachable")


async def with_timeout(awaitable: Any, seconds: float) -> Any:
    return await asyncio.wait_for(awaitable, seconds)
