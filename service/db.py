"""The one async engine factory, plus what every caller needs to talk to the database safely:
SQLite in WAL mode with BEGIN IMMEDIATE for writes, MySQL with pre-ping and a bounded pool,
passwords read from Secrets Manager (the master, for migrations) or IAM tokens (the application
user) at connect time, and errors classified for callers."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
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

from service import aws, secrets
from service.settings import Settings

log = logging.getLogger("service.db")
T = TypeVar("T")

MYSQL_AUTH_ERRORS = {1044, 1045, 1698}
MYSQL_RETRYABLE = {1205, 1213}  # lock wait timeout, deadlock
# The server is (now) a reader: after an Aurora failover the old writer comes back as one.
# 1290 is ER_OPTION_PREVENTS_STATEMENT, read-only only when its message says so.
MYSQL_READ_ONLY = {1290, 1836, 1792}  # --read-only, read-only mode, read-only transaction
# Lost connection: server gone away, lost during query, connection lost (SQLAlchemy's MySQL
# dialect already counts these as disconnects; listed here to classify them).
MYSQL_CONNECTION_LOST = {2006, 2013, 2055}
# asyncmy's form of a connection reset while connecting (its _set_keep_alive finds the
# transport already closed); it raises this RuntimeError unwrapped, not a DBAPI error.
ASYNCMY_RESET_ON_CONNECT = "Transport does not expose socket instance"


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


def app_url(settings: Settings) -> URL:
    """The URL the application (not the migrations) connects with, as database_app_user.

    - `iam` (Aurora): user, host, port and database from settings, no password (a token is
      made at connect time, see `_iam_token`); the master secret is never read.
    - `password` (MariaDB locally): the master's URL with the app user's name and password.
    """
    assert settings.database_app_user is not None
    if settings.iam_database_auth:
        return URL.create(
            "mysql+asyncmy",
            username=settings.database_app_user,
            host=settings.database_host,
            port=settings.database_port,
            database=settings.database_name,
        )
    password = settings.database_app_password
    return database_url(settings).set(
        username=settings.database_app_user,
        password=password.get_secret_value() if password else None,
    )


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verified TLS to the database: the certificate must chain to database_ssl_ca and name the
    host. asyncmy given a context always upgrades the connection before it authenticates, so a
    server that cannot speak TLS fails the connect instead of receiving the password."""
    context = ssl.create_default_context(cafile=settings.database_ssl_ca)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# A token is reused for this long, then a new one is made. AWS throttles IAM database sign-ins
# at 200 new connections a second, but not those presenting a token already used (Aurora User
# Guide, "Limitations for IAM database authentication": reuse tokens), and after a failover
# every pool reconnects at once. A token lasts 15 minutes; it also dies with the role
# credentials that signed it, which botocore renews 10-15 minutes before they expire, so a
# token at most 10 minutes old is always still good.
IAM_TOKEN_REUSE_SECONDS = 600.0
_iam_tokens: dict[tuple[str | None, int, str | None], tuple[str, float]] = {}


def iam_token(settings: Settings, clock: Callable[[], float] = time.monotonic) -> str:
    """An IAM database authentication token for database_app_user: a SigV4-presigned
    `host:port/?Action=connect&DBUser=...` signed locally with the instance role's credentials.
    It is valid for 15 minutes and only checked when a connection signs in; one is shared by
    the connections made within IAM_TOKEN_REUSE_SECONDS."""
    key = (settings.database_host, settings.database_port, settings.database_app_user)
    now = clock()
    cached = _iam_tokens.get(key)
    if cached is not None and now - cached[1] < IAM_TOKEN_REUSE_SECONDS:
        return cached[0]
    token = str(
        aws.client("rds", settings).generate_db_auth_token(
            DBHostname=settings.database_host,
            Port=settings.database_port,
            DBUsername=settings.database_app_user,
            Region=aws.region(settings),
        )
    )
    _iam_tokens[key] = (token, now)
    return token


def mysql_error_code(error: BaseException) -> int | None:
    original = getattr(error, "orig", None) or error
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def is_read_only_error(error: BaseException) -> bool:
    code = mysql_error_code(error)
    if code not in MYSQL_READ_ONLY:
        return False
    return code != 1290 or "read-only" in str(getattr(error, "orig", error)).lower()


def is_connection_lost(error: BaseException) -> bool:
    """A lost connection, in the driver's words (MySQL codes) or asyncio's (the socket)."""
    if mysql_error_code(error) in MYSQL_CONNECTION_LOST:
        return True
    original = getattr(error, "orig", None) or error
    if isinstance(original, RuntimeError) and ASYNCMY_RESET_ON_CONNECT in str(original):
        return True
    return isinstance(original, ConnectionError | asyncio.IncompleteReadError | BrokenPipeError)


def _failover_events(engine: AsyncEngine) -> None:
    """Read-only errors and lost connections are disconnects: SQLAlchemy then invalidates the
    connection (never returned to the pool) and the pool itself, so every connection opened
    before is replaced at its next checkout instead of being handed out again. Without this a
    pool filled during a failover's DNS window keeps writing to the old writer (error 1290)
    until pool_recycle, because pre-ping's ping succeeds on a read-only server."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _disconnect(context: Any) -> None:
        error = context.original_exception
        if is_read_only_error(error) or is_connection_lost(error):
            context.is_disconnect = True
            context.invalidate_pool_on_disconnect = True


async def invalidate_pool(conn: AsyncConnection) -> None:
    """What SQLAlchemy does on a disconnect, for a read-only server found without an error
    (the health check): drop this connection and make the pool replace every connection
    opened before it. `Pool._invalidate` is the call Connection._handle_dbapi_exception makes."""
    pooled = await conn.get_raw_connection()
    conn.sync_engine.pool._invalidate(pooled, _checkin=False)
    await conn.invalidate()


def create_engine(settings: Settings, *, admin: bool = False) -> AsyncEngine:
    """The engine for the application, as database_app_user when one is set; `admin=True` for
    the migrations (service/migrate.py), which connect as the master (secret or URL)."""
    as_app = not admin and settings.database_app_user is not None
    url = app_url(settings) if as_app else database_url(settings)
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
    _bytes_as_hex_literals()
    engine = create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=1800,
        isolation_level="READ COMMITTED",
        connect_args=connect_args(settings, as_app),
    )
    _failover_events(engine)
    if as_app and settings.iam_database_auth:
        _iam_token(engine, settings)
    elif settings.database_secret_arn and not as_app:
        _secret_password(engine, settings)
    return engine


HEX_LITERAL_MAX = 1024 * 1024  # bytes: larger values keep asyncmy's own, compact escaping


def _bytes_as_hex_literals() -> None:
    """asyncmy sends a bytes parameter as _binary'...', escaped by str.translate over the bytes
    decoded with surrogateescape: every byte above 127 takes the slow per-character path, so a
    4.6 KB compressed body costs ~136 us to escape, a third of a POST's CPU. The hex literal
    X'...' is the same binary string to MySQL and MariaDB and costs ~15 us (timeit; runs J-N in
    docs/benchmarks.md). It is twice the size on the wire, which counts against
    max_allowed_packet (16 MiB on MariaDB, 64 MiB on Aurora MySQL 3): values over
    HEX_LITERAL_MAX keep the compact form. asyncmy 0.2 looks the function up on its converters
    module at each call."""
    from asyncmy import converters  # the MySQL driver: only imported for a MySQL engine

    escape = converters.escape_bytes_prefixed
    if getattr(escape, "hex_literals", False):
        return

    def escape_bytes(value: bytes | bytearray, mapping: Any = None) -> str:
        if len(value) <= HEX_LITERAL_MAX:
            return f"X'{value.hex()}'"
        return str(escape(bytes(value), mapping))

    escape_bytes.hex_literals = True  # type: ignore[attr-defined]
    converters.escape_bytes_prefixed = escape_bytes


def connect_args(settings: Settings, as_app: bool) -> dict[str, Any]:
    """asyncmy's connect arguments: TLS always for the IAM user, for the master when a CA is set."""
    args: dict[str, Any] = {"connect_timeout": settings.db_connect_timeout}
    if (as_app and settings.iam_database_auth) or settings.database_ssl_ca:
        args["ssl"] = tls_context(settings)
    return args


def _iam_token(engine: AsyncEngine, settings: Settings) -> None:
    """A token for every new connection (iam_token: shared for up to 10 minutes; a pooled
    connection keeps its session after the token expired: the token only signs in). asyncmy
    answers the server's mysql_clear_password request with it, inside the TLS session
    `connect_args` requires."""

    from botocore.exceptions import BotoCoreError

    @event.listens_for(engine.sync_engine, "do_connect")
    def _token(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        try:
            cparams["password"] = iam_token(settings)
        except BotoCoreError as error:
            # No signing credentials right now (the instance role's refresh failed): the
            # database is unavailable to us, a 503 with Retry-After, not a 500.
            raise ConnectionError(f"cannot make an IAM database token: {error}") from error


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
    if is_connection_lost(error):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _retryable(error: BaseException) -> bool:
    if mysql_error_code(error) in MYSQL_RETRYABLE:
        return True
    if mysql_error_code(error) in MYSQL_AUTH_ERRORS:
        return True  # the secret was re-read: one more try with the new password
    return isinstance(error, OperationalError) and "database is locked" in str(error)


def is_failover(error: BaseException) -> bool:
    """The connection was dropped as a disconnect (read-only server, lost connection)."""
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


async def transaction(
    engine: AsyncEngine,
    work: Callable[[AsyncConnection], Any],
    attempts: int = 4,
    *,
    failover_retry: bool = False,
) -> Any:
    """Run `work(conn)` in one transaction; retry deadlocks, lock timeouts and auth failures.

    With `failover_retry` (for work that is safe to run again: nothing it did is visible until
    COMMIT), a transaction whose connection was dropped as a disconnect *before* COMMIT is run
    once more on a fresh connection. A failure during COMMIT is never retried: whether it
    committed is unknown, so the caller answers 503 and the client decides."""
    phase = {"at": "work", "failovers": 0}

    def retryable(error: BaseException) -> bool:
        if _retryable(error):
            return True
        first_failover = failover_retry and phase["at"] == "work" and phase["failovers"] == 0
        if first_failover and is_failover(error):
            phase["failovers"] = 1
            log.info("retrying once on a fresh connection after %s", type(error).__name__)
            return True
        return False

    async for attempt in AsyncRetrying(
        retry=retry_if_exception(retryable),
        stop=stop_after_attempt(attempts + (1 if failover_retry else 0)),
        wait=wait_random_exponential(multiplier=0.05, max=1),
        reraise=True,
    ):
        with attempt:
            phase["at"] = "work"
            async with engine.connect() as conn:
                async with conn.begin() as trans:
                    result = await work(conn)
                    phase["at"] = "commit"
                    await trans.commit()
                return result
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
