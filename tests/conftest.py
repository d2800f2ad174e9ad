"""Shared fixtures: real servers (MariaDB, moto) and terraform, started once per session.

With CI=true a missing tool fails the run; elsewhere the tests that need it skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opsctl.aws import DUMMY_CREDENTIALS
from opsctl.local.emulator import MotoServer
from opsctl.terraform.runner import Terraform, plugin_dir
from tests.support.mariadb import PASSWORD, USER, MariaDB, tools_present
from tests.support.tools import require

# The files that apply whole stacks on moto run for 10+ minutes each, mostly waiting on the
# provider. They go first, longest first, so every other file overlaps with them instead of
# leaving one worker alone with a long file at the end (docs/development.md, CI).
LONG_FILES = (
    "tests/opsctl/test_lifecycle.py",
    "tests/opsctl/test_bluegreen.py",
    "tests/opsctl/test_stack.py",
    "tests/opsctl/test_target_group_replace.py",
    "tests/opsctl/test_dataplane.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long files first, then the others by test count (what xdist's own reordering does;
    the Makefile turns that off with --no-loadscope-reorder so this order holds). Stable: the
    tests of one file keep their order."""

    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    counts = Counter(file_of(item) for item in items)
    rank = {name: i for i, name in enumerate(LONG_FILES)}

    def key(item: pytest.Item) -> tuple[int, int, str]:
        name = file_of(item)
        return rank.get(name, len(rank)), -counts[name], name

    items.sort(key=key)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    require(tools_present(), "MariaDB (mariadbd, mariadb-install-db)")
    server = MariaDB(tmp_path_factory.mktemp("mariadb")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb_url(mariadb: MariaDB) -> str:
    """SQLAlchemy URL (mysql+asyncmy) of an empty `ingest` database owned by user `ingest`."""
    return mariadb.url()


@pytest.fixture
def db(mariadb: MariaDB) -> Iterator[tuple[MariaDB, str, str]]:
    """A fresh database of its own: (server, name, URL)."""
    name = f"m_{uuid.uuid4().hex[:10]}"
    mariadb.sql(f"CREATE DATABASE {name}; GRANT ALL ON {name}.* TO '{USER}'@'%';")
    yield mariadb, name, f"mysql+asyncmy://{USER}:{PASSWORD}@127.0.0.1:{mariadb.port}/{name}"
    mariadb.sql(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder for extra test revisions (tests/support/revisions.py), seen by every opsctl run."""
    folder = tmp_path / "versions"
    folder.mkdir()
    monkeypatch.setenv("INGEST_MIGRATIONS_EXTRA", str(folder))
    return folder


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    server = MotoServer(log_path=log).start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """A clean emulated account: moto reset, dummy credentials and its endpoint in the env."""
    moto_server.reset()
    for key, value in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    return moto_server


@pytest.fixture(scope="session")
def terraform() -> Callable[[Path], Terraform]:
    """Factory: Terraform(dir) with the offline provider mirror when one is configured."""
    require(shutil.which("terraform") is not None, "terraform")
    if os.environ.get("CI") == "true" and plugin_dir() is None:
        pytest.fail("no provider mirror: set OPSCTL_TF_PLUGIN_DIR (CI has no registry access)")
    return Terraform
