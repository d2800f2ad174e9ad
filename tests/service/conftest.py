"""Fixtures for the service tests: a migrated database (SQLite or the session's MariaDB), an
in-process app with its worker, and real `ingest-service` subprocesses stopped by PID."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.migrate import migrate
from service.settings import Settings
from tests.support.service import FAST, Processes


@pytest.fixture(scope="session")
def mariadb_migrated(mariadb_url: str) -> str:
    asyncio.run(migrate(Settings(database_url=mariadb_url)))
    return mariadb_url


@pytest.fixture(params=["sqlite", "mariadb"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database: a fresh SQLite file, or the session's MariaDB (shared: use unique
    dataset names)."""
    if request.param == "mariadb":
        return str(request.getfixturevalue("mariadb_migrated"))
    url = f"sqlite+aiosqlite:///{tmp_path}/ingest.db"
    asyncio.run(migrate(Settings(database_url=url)))
    return url


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        return Settings(**{"database_url": database_url, "run_worker": True, **FAST, **overrides})

    return build


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    """The app in-process (lifespan, group writer and worker running)."""
    with TestClient(create_app(make_settings()), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()
