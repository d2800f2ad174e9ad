"""`ingest-service migrate`: Alembic to head, under a lock (MySQL GET_LOCK; a file lock on
SQLite) so that several instances starting together migrate once."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from filelock import FileLock
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.db import create_engine
from service.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK_NAME = "ingest_service_migrate"


class MigrationLockTimeout(RuntimeError):
    pass


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(sync_connection: Any, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_connection
    # MariaDB names every primary key PRIMARY and warns about alembic_version's name; asyncmy
    # logs each server warning. Not worth anyone's attention during a migration.
    driver_log = logging.getLogger("asyncmy")
    level = driver_log.level
    driver_log.setLevel(logging.ERROR)
    try:
        command.upgrade(config, revision)
    finally:
        driver_log.setLevel(level)


async def migrate(settings: Settings, revision: str = "head", lock_timeout: int = 60) -> None:
    engine = create_engine(settings)
    try:
        if engine.dialect.name == "sqlite":
            database = make_url(settings.database_url).database or "ingest.db"
            with FileLock(f"{database}.migrate.lock", timeout=lock_timeout):
                async with engine.connect() as conn:
                    await conn.run_sync(_upgrade, revision)
                    await conn.commit()
            return
        async with engine.connect() as conn:
            got = (
                await conn.execute(
                    text("SELECT GET_LOCK(:name, :timeout)"),
                    {"name": LOCK_NAME, "timeout": lock_timeout},
                )
            ).scalar()
            if got != 1:
                raise MigrationLockTimeout(
                    f"another migration holds the lock {LOCK_NAME!r} (waited {lock_timeout} s)"
                )
            try:
                await conn.commit()
                await conn.run_sync(_upgrade, revision)
                await conn.commit()
            finally:
                await conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})
                await conn.commit()
    finally:
        await engine.dispose()
