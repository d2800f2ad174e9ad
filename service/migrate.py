"""Alembic made safe for MySQL/Aurora: `ingest-service migrate|schema` and `opsctl migrate`.

- One named lock (MySQL GET_LOCK with a bounded wait; a file lock on SQLite) so several instances
  or operators migrate once. When the wait runs out the error names the holder (its connection,
  host and what it is running). MySQL frees the lock when the holder's session ends, so a killed
  process never leaves it behind.
- A short `lock_wait_timeout` on the migration's session: an ALTER queued behind another
  session's metadata lock fails within seconds instead of stalling every query behind it.
- Every statement is logged as it runs, and each revision's outcome goes to `migration_log`.
  MySQL DDL is not transactional: a revision that fails half-way leaves its first statements
  applied while `alembic_version` still names the previous revision. The log keeps the failed
  revision, the statements that did run and the one that failed, so `status` can explain it and
  the operator can recover (docs/operations.md, "Migrations"): undo the applied statements and
  re-run `up`, or finish the revision by hand and `stamp` it.
- The application's database user (INGEST_DATABASE_APP_USER, issue 16 finding 12) is made and
  granted after every upgrade, under the same lock (`app_user_statements`): migrations connect
  as the master, the service as that user, with DML on the schema and nothing else.
- Revisions declare `phase = "expand"` (additive: safe while the old code runs) or
  `phase = "contract"` (removes what the old code needs: only after the old colour is gone).
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from filelock import FileLock
from filelock import Timeout as FileLockTimeout
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db import create_engine, utcnow
from service.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK_NAME = "ingest_service_migrate"
PHASES = ("expand", "contract")
# Extra revision folders (os.pathsep-separated): for tests and for trying a revision out.
EXTRA_VERSIONS_ENV = "INGEST_MIGRATIONS_EXTRA"
DEFAULT_LOCK_TIMEOUT = 60
DEFAULT_LOCK_WAIT_TIMEOUT = 5

log = logging.getLogger("service.migrate")
StatementHook = Callable[[str], None]

log_metadata = MetaData()
migration_log = Table(
    "migration_log",
    log_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("revision", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # upgrade | downgrade | stamp
    Column("status", String(16), nullable=False),  # applied | failed | stamped
    Column("at", DateTime, nullable=False),
    Column("by", String(255), nullable=False),
    Column("statements", Text, nullable=False),  # JSON list of what ran
    Column("failed_statement", Text, nullable=True),
    Column("error", Text, nullable=True),
)


class MigrationError(RuntimeError):
    """A migration could not run; the message says what to do."""


class MigrationLockTimeout(MigrationError):
    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class RevisionFailed(MigrationError):
    def __init__(self, revision: str, failed_statement: str | None, applied: list[str], error: str):
        done = f"{len(applied)} statement(s) of it were applied and stay so; " if applied else ""
        super().__init__(
            f"revision {revision} failed: {error}. {done}`status` shows what ran; recover with "
            "a re-run after undoing them, or `stamp` after finishing it by hand"
        )
        self.revision, self.failed_statement, self.applied = revision, failed_statement, applied


@dataclass
class Options:
    lock_timeout: int = DEFAULT_LOCK_TIMEOUT  # seconds to wait for the migration lock
    lock_wait_timeout: int = DEFAULT_LOCK_WAIT_TIMEOUT  # seconds a DDL waits for a metadata lock
    on_statement: StatementHook | None = None


@dataclass
class RevisionInfo:
    revision: str
    down_revision: str | None
    phase: str | None
    doc: str

    @classmethod
    def of(cls, script: Script) -> RevisionInfo:
        down = script.down_revision
        return cls(
            revision=script.revision,
            down_revision=down if isinstance(down, str) or down is None else ",".join(down),
            phase=getattr(script.module, "phase", None),
            doc=" ".join((script.doc or "").split()),  # the first paragraph, on one line
        )


@dataclass
class Status:
    current: str | None
    head: str
    pending: list[RevisionInfo] = field(default_factory=list)
    failed: dict[str, Any] | None = None  # the pending revision that failed half-way

    @property
    def up_to_date(self) -> bool:
        return not self.pending

    def as_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "head": self.head,
            "up_to_date": self.up_to_date,
            "pending": [asdict(p) for p in self.pending],
            "failed": self.failed,
        }


# --- configuration and the revision graph ---------------------------------------------------
def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    folders = [str(MIGRATIONS / "versions")]
    folders += [p for p in os.environ.get(EXTRA_VERSIONS_ENV, "").split(os.pathsep) if p]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(folders))
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    heads = script_directory().get_heads()
    if len(heads) != 1:
        raise MigrationError(f"the revisions have {len(heads)} heads ({', '.join(heads)}): merge")
    return heads[0]


def path(current: str | None, target: str) -> list[RevisionInfo]:
    """Revisions an upgrade from `current` to `target` applies, oldest first."""
    scripts = script_directory()
    found = scripts.iterate_revisions(target, current or "base")
    return [RevisionInfo.of(s) for s in reversed(list(found)) if isinstance(s, Script)]


def revisions() -> list[RevisionInfo]:
    """Every revision, oldest first."""
    return [RevisionInfo.of(s) for s in reversed(list(script_directory().walk_revisions()))]


def phase_target(current: str | None, phase: str) -> str | None:
    """Where `up --phase` stops: expand runs pending revisions up to the first contract one."""
    pending = path(current, head())
    if phase == "contract":
        return head() if pending else None
    target = None
    for revision in pending:
        if revision.phase == "contract":
            break
        target = revision.revision
    return target


# --- running Alembic on one locked connection -------------------------------------------------
def _holder() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


READS = ("select", "pragma", "show", "describe", "explain", "set ")


def _interesting(statement: str) -> bool:
    """What changes the schema or data: not reads, not Alembic's or our own bookkeeping."""
    lowered = statement.lower()
    if lowered.startswith(READS):
        return False
    return "alembic_version" not in lowered and "migration_log" not in lowered


class _Recorder:
    """Statements as they run (each one logged), split by revision as Alembic finishes them."""

    def __init__(self, hook: StatementHook | None) -> None:
        self.hook = hook
        self.statements: list[str] = []
        self.finished: list[tuple[str, list[str]]] = []
        self.current: str | None = None

    def before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statement = " ".join(statement.split())
        if not _interesting(statement):
            return
        self.current = statement
        log.info("migration statement", extra={"statement": statement})
        if self.hook is not None:
            self.hook(statement)

    def after(self, *_args: Any) -> None:
        if self.current is not None:
            self.statements.append(self.current)
            self.current = None

    def version_applied(self, revision: str) -> None:
        self.finished.append((revision, self.statements))
        self.statements = []


def _run_alembic(
    sync_conn: Connection, action: str, revision: str, options: Options
) -> list[tuple[str, list[str]]]:
    """Run `command.<action>` on this connection; record each revision in migration_log.
    A failure is recorded (revision, applied statements, failed statement) and re-raised as
    RevisionFailed."""
    log_metadata.create_all(sync_conn, checkfirst=True)
    sync_conn.commit()
    current = MigrationContext.configure(sync_conn).get_current_revision()
    if action == "upgrade":
        planned = [r.revision for r in path(current, revision)]
    else:
        planned = downgrade_plan(current, revision)
    recorder = _Recorder(options.on_statement)
    config = alembic_config()
    config.attributes["connection"] = sync_conn

    def applied(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        recorder.version_applied(step.up_revision_id)
        rev, statements = recorder.finished[-1]
        sync_conn.execute(
            migration_log.insert().values(
                revision=rev,
                action=action,
                status="applied",
                at=utcnow(),
                by=_holder(),
                statements=json.dumps(statements),
            )
        )

    config.attributes["on_version_apply"] = applied
    event.listen(sync_conn, "before_cursor_execute", recorder.before)
    event.listen(sync_conn, "after_cursor_execute", recorder.after)
    driver_log = logging.getLogger("asyncmy")
    level = driver_log.level
    # MariaDB names every primary key PRIMARY and warns about alembic_version's name; asyncmy
    # logs each server warning. Not worth anyone's attention during a migration.
    driver_log.setLevel(logging.ERROR)
    try:
        if action == "upgrade":
            command.upgrade(config, revision)
        elif action == "downgrade":
            command.downgrade(config, revision)
        else:
            raise ValueError(action)
        sync_conn.commit()
    except Exception as error:
        sync_conn.rollback()
        done = len(recorder.finished)
        failed_rev = planned[done] if done < len(planned) else (revision or "?")
        transactional = sync_conn.dialect.name == "sqlite"
        applied_statements = [] if transactional else recorder.statements
        message = " ".join(str(getattr(error, "orig", None) or error).split())
        sync_conn.execute(
            migration_log.insert().values(
                revision=failed_rev,
                action=action,
                status="failed",
                at=utcnow(),
                by=_holder(),
                statements=json.dumps(applied_statements),
                failed_statement=recorder.current,
                error=message[:2000],
            )
        )
        sync_conn.commit()
        raise RevisionFailed(failed_rev, recorder.current, applied_statements, message) from None
    finally:
        event.remove(sync_conn, "before_cursor_execute", recorder.before)
        event.remove(sync_conn, "after_cursor_execute", recorder.after)
        driver_log.setLevel(level)
    return recorder.finished


def downgrade_plan(current: str | None, target: str) -> list[str]:
    """Revisions a downgrade from `current` to `target` reverts, newest first."""
    if current is None:
        return []
    scripts = script_directory()
    walk = scripts.iterate_revisions(current, "base")
    chain = [s.revision for s in walk if isinstance(s, Script)]
    if target == "base":
        return chain
    if target.startswith("-"):
        return chain[: int(target[1:])]
    revision = scripts.get_revision(target)
    if revision is None or revision.revision not in chain:
        raise MigrationError(f"{target} is not below the current revision {current}")
    return chain[: chain.index(revision.revision)]


def downgrade_end(current: str | None, target: str, reverted: list[str]) -> str:
    """The revision a downgrade to `target` ends at (-N and base resolved), so that the run an
    operator confirmed reverts exactly what its plan showed."""
    if not reverted:
        return current or "base"
    if not target.startswith("-") and target != "base":
        return target
    below = script_directory().get_revision(reverted[-1]).down_revision
    return below if isinstance(below, str) else "base" if below is None else target


def _stamp(sync_conn: Connection, revision: str) -> None:
    log_metadata.create_all(sync_conn, checkfirst=True)
    sync_conn.commit()
    config = alembic_config()
    config.attributes["connection"] = sync_conn
    command.stamp(config, revision)
    sync_conn.execute(
        migration_log.insert().values(
            revision=revision,
            action="stamp",
            status="stamped",
            at=utcnow(),
            by=_holder(),
            statements="[]",
        )
    )
    sync_conn.commit()


@asynccontextmanager
async def _locked(settings: Settings, options: Options) -> AsyncIterator[AsyncConnection]:
    """A connection holding the migration lock, with a short lock_wait_timeout on MySQL."""
    engine = create_engine(settings, admin=True)
    try:
        if engine.dialect.name == "sqlite":
            database = make_url(settings.database_url).database or "ingest.db"
            try:
                with FileLock(f"{database}.migrate.lock", timeout=options.lock_timeout):
                    async with engine.connect() as conn:
                        yield conn
            except FileLockTimeout:
                raise MigrationLockTimeout(
                    f"another migration holds {database}.migrate.lock "
                    f"(waited {options.lock_timeout} s)",
                    "another process on this host",
                ) from None
            return
        async with engine.connect() as conn:
            wait = int(options.lock_wait_timeout)
            await conn.execute(text(f"SET SESSION lock_wait_timeout = {wait}"))
            await conn.execute(text(f"SET SESSION innodb_lock_wait_timeout = {wait}"))
            got = (
                await conn.execute(
                    text("SELECT GET_LOCK(:name, :timeout)"),
                    {"name": LOCK_NAME, "timeout": options.lock_timeout},
                )
            ).scalar()
            if got != 1:
                holder = await _describe_holder(conn)
                raise MigrationLockTimeout(
                    f"another migration holds the lock {LOCK_NAME!r}: {holder} "
                    f"(waited {options.lock_timeout} s). It is freed when that session ends.",
                    holder,
                )
            try:
                await conn.commit()
                yield conn
            finally:
                await conn.rollback()
                await conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})
                await conn.commit()
    finally:
        await engine.dispose()


async def _describe_holder(conn: AsyncConnection) -> str:
    ident = (await conn.execute(text("SELECT IS_USED_LOCK(:name)"), {"name": LOCK_NAME})).scalar()
    if ident is None:
        return "a session that has just released it"
    row = (
        await conn.execute(
            text(
                "SELECT USER, HOST, TIME, COMMAND, INFO FROM information_schema.PROCESSLIST "
                "WHERE ID = :id"
            ),
            {"id": ident},
        )
    ).first()
    if row is None:
        return f"connection {ident}"
    doing = f", running {' '.join(str(row.INFO).split())[:120]!r}" if row.INFO else ""
    return f"connection {ident} ({row.USER}@{row.HOST}, {row.COMMAND} for {row.TIME} s{doing})"


# --- the application's database user ---------------------------------------------------------
APP_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def _quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def app_user_statements(settings: Settings, database: str) -> list[tuple[str, dict[str, Any]]]:
    """What makes database_app_user exist with DML on `database` and nothing else: no CREATE,
    ALTER, DROP, INDEX, REFERENCES, GRANT OPTION. Idempotent, and never revokes, so a running
    service keeps its rights while a later migration re-runs it.

    - `iam` (Aurora MySQL): `IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'` and `REQUIRE SSL`
      (AWS: "Creating a database account using IAM authentication"); the instance role's
      `rds-db:connect` on `dbuser:<cluster>/<user>` (modules/security) lets it sign in.
    - `password` (MariaDB has no AWSAuthenticationPlugin): the same user and grants with a
      password, re-set on every run so a changed INGEST_DATABASE_APP_PASSWORD takes effect.
    """
    user = settings.database_app_user
    assert user is not None
    account = f"'{user}'@'%'"  # the name is [A-Za-z0-9_]{1,32} (Settings)
    grant = f"GRANT {APP_PRIVILEGES} ON {_quote_identifier(database)}.* TO {account}"
    if settings.database_app_auth == "iam":
        return [
            (
                f"CREATE USER IF NOT EXISTS {account} "
                "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'",
                {},
            ),
            # An account made earlier with a password (by hand, or in password mode) is
            # switched to the plugin: CREATE ... IF NOT EXISTS leaves it as it was.
            (f"ALTER USER {account} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'", {}),
            (f"ALTER USER {account} REQUIRE SSL", {}),
            (grant, {}),
        ]
    password = settings.database_app_password
    assert password is not None
    secret = {"password": password.get_secret_value()}
    return [
        (f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY :password", secret),
        (f"ALTER USER {account} IDENTIFIED BY :password", secret),
        (grant, {}),
    ]


def _ensure_app_user(sync_conn: Connection, settings: Settings) -> None:
    if settings.database_app_user is None or sync_conn.dialect.name != "mysql":
        return  # SQLite has no users
    database = sync_conn.execute(text("SELECT DATABASE()")).scalar()
    for statement, params in app_user_statements(settings, str(database)):
        sync_conn.execute(text(statement), params)
    sync_conn.commit()
    log.info(
        "application database user ready",
        extra={"user": settings.database_app_user, "auth": settings.database_app_auth},
    )


# --- the operations ---------------------------------------------------------------------------
async def upgrade(
    settings: Settings, revision: str = "head", options: Options | None = None
) -> list[tuple[str, list[str]]]:
    """Upgrade under the lock, then make sure the application's user and grants exist; returns
    [(revision, statements)] applied (none: up to date)."""
    options = options or Options()
    async with _locked(settings, options) as conn:
        applied = await conn.run_sync(_run_alembic, "upgrade", revision, options)
        await conn.run_sync(_ensure_app_user, settings)
        return applied


async def ensure_app_user(settings: Settings, options: Options | None = None) -> None:
    """`upgrade` with nothing to apply: still make sure of the application user, so a database
    that was at head before the user existed gets it at the next `migrate`."""
    if settings.database_app_user is None:
        return
    async with _locked(settings, options or Options()) as conn:
        await conn.run_sync(_ensure_app_user, settings)


async def downgrade(
    settings: Settings, revision: str, options: Options | None = None
) -> list[tuple[str, list[str]]]:
    options = options or Options()
    async with _locked(settings, options) as conn:
        return await conn.run_sync(_run_alembic, "downgrade", revision, options)


async def stamp(settings: Settings, revision: str, options: Options | None = None) -> None:
    """Mark `revision` applied without running anything (after finishing one by hand)."""
    options = options or Options()
    async with _locked(settings, options) as conn:
        await conn.run_sync(_stamp, revision)


async def migrate(
    settings: Settings, revision: str = "head", lock_timeout: int = DEFAULT_LOCK_TIMEOUT
) -> None:
    """`ingest-service migrate` and the service's start-up: upgrade under the lock."""
    await upgrade(settings, revision, Options(lock_timeout=lock_timeout))


def _status(sync_conn: Connection) -> Status:
    current = MigrationContext.configure(sync_conn).get_current_revision()
    target = head()
    pending = path(current, target)
    failed = None
    if pending and sync_conn.dialect.has_table(sync_conn, "migration_log"):
        rows = sync_conn.execute(
            migration_log.select()
            .where(migration_log.c.revision.in_([p.revision for p in pending]))
            .order_by(migration_log.c.id)
        ).mappings()
        last: dict[str, dict[str, Any]] = {}
        for row in rows:
            last[row["revision"]] = dict(row)
        first = pending[0].revision
        entry = last.get(first)
        if entry is not None and entry["status"] == "failed":
            failed = {
                "revision": first,
                "at": entry["at"].isoformat(sep=" ", timespec="seconds"),
                "by": entry["by"],
                "applied_statements": json.loads(entry["statements"]),
                "failed_statement": entry["failed_statement"],
                "error": entry["error"],
                "transactional": sync_conn.dialect.name == "sqlite",
            }
    return Status(current=current, head=target, pending=pending, failed=failed)


async def status(settings: Settings) -> Status:
    engine = create_engine(settings, admin=True)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_status)
    finally:
        await engine.dispose()


def _history(sync_conn: Connection, limit: int) -> list[dict[str, Any]]:
    if not sync_conn.dialect.has_table(sync_conn, "migration_log"):
        return []
    rows = sync_conn.execute(
        migration_log.select().order_by(migration_log.c.id.desc()).limit(limit)
    ).mappings()
    return [
        {
            "revision": r["revision"],
            "action": r["action"],
            "status": r["status"],
            "at": r["at"].isoformat(sep=" ", timespec="seconds"),
            "by": r["by"],
            "statements": len(json.loads(r["statements"])),
            "error": r["error"],
        }
        for r in reversed(list(rows))
    ]


async def history(settings: Settings, limit: int = 50) -> list[dict[str, Any]]:
    """What migration_log recorded (newest last): each revision applied, failed or stamped."""
    engine = create_engine(settings, admin=True)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_history, limit)
    finally:
        await engine.dispose()


def offline_sql(dialect: str, start: str | None, target: str = "head") -> str:
    """The SQL an upgrade from `start` to `target` runs, rendered without a database
    (Alembic's offline mode) for review. `dialect`: mysql, mariadb or sqlite."""
    if start is not None and start == script_directory().get_revision(target).revision:
        return ""
    buffer = io.StringIO()
    config = Config(output_buffer=buffer)
    for key, value in alembic_config().get_section(config.config_ini_section, {}).items():
        config.set_main_option(key, value)
    config.attributes["dialect_name"] = dialect
    command.upgrade(config, f"{start}:{target}" if start else target, sql=True)
    return buffer.getvalue()


async def pending_sql(settings: Settings, target: str = "head") -> str:
    """Offline SQL of what `upgrade` would run now, for this server's dialect (MariaDB quotes
    some names MySQL does not)."""
    engine = create_engine(settings, admin=True)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
            dialect = engine.dialect.name
            if dialect == "mysql" and getattr(conn.dialect, "is_mariadb", False):
                dialect = "mariadb"
    finally:
        await engine.dispose()
    return offline_sql(dialect, current, target)


def sql_statements(script: str) -> list[str]:
    """Split offline SQL into statements (comments dropped, whitespace collapsed)."""
    body = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    return [" ".join(s.split()) for s in body.split(";") if s.strip()]


def describe_status(status: dict[str, Any]) -> list[str]:
    """`status` as lines for people (ingest-service schema status and opsctl migrate status)."""
    lines = [f"current revision: {status['current'] or '(none: empty database)'}"]
    lines.append(f"head revision:    {status['head']}")
    if status["up_to_date"]:
        lines.append("up to date: nothing pending")
        return lines
    lines.append(f"pending ({len(status['pending'])}):")
    for p in status["pending"]:
        lines.append(f"  {p['revision']}  [{p['phase'] or 'no phase'}]  {p['doc']}")
    failed = status.get("failed")
    if failed:
        lines.append(
            f"!! revision {failed['revision']} FAILED half-way at {failed['at']} ({failed['by']}):"
        )
        lines.append(f"   error: {failed['error']}")
        if failed["failed_statement"]:
            lines.append(f"   failed statement: {failed['failed_statement']}")
        if failed["transactional"]:
            lines.append("   SQLite rolled the whole revision back: fix it and run `up` again.")
        elif failed["applied_statements"]:
            lines.append("   applied before the failure (MySQL DDL commits at once):")
            lines += [f"     {s}" for s in failed["applied_statements"]]
            lines.append(
                "   recover: undo those statements and run `up` again (after fixing the "
                "revision), or finish the revision by hand and `stamp` it (docs/operations.md)."
            )
        else:
            lines.append("   nothing of it was applied: fix the cause and run `up` again.")
    return lines
