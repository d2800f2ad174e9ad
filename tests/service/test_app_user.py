"""Issue 16, finding 12: the service connects as its own database user, not the Aurora master.

`ingest-service migrate` connects as the master and creates the application user with SELECT,
INSERT, UPDATE, DELETE on the schema; serve and worker connect as that user. On a real MariaDB
here the user has a password (MariaDB has no AWSAuthenticationPlugin); on Aurora it is an IAM
user (AWS, "Creating a database account using IAM authentication": `IDENTIFIED WITH
AWSAuthenticationPlugin AS 'RDS'`, `REQUIRE SSL`) and each new connection signs in with a
fresh token from `rds generate_db_auth_token` over verified TLS. What runs offline of that path
runs here: the token is made (botocore signs locally) and TLS is required before any password
leaves the process.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import certifi
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from service import db
from service.migrate import app_user_statements
from service.settings import Settings
from tests.support.mariadb import MariaDB
from tests.support.paths import REPO
from tests.support.service import (
    FAST,
    SCHEMA,
    WRITE,
    Processes,
    env_for,
    http,
    unique,
    wait_job,
)

pytestmark = pytest.mark.slow

AURORA_HOST = "ingest-dev.cluster-abc123.eu-west-1.rds.amazonaws.com"


@dataclass
class Database:
    server: MariaDB
    name: str
    admin_url: str  # plays the Aurora master: the schema's rights, CREATE USER, GRANT OPTION
    app_user: str
    app_password: str

    @property
    def settings(self) -> dict[str, Any]:
        """What both `ingest-service migrate` and the service get (one env file on AWS too)."""
        return {
            **FAST,
            "database_url": self.admin_url,
            "database_app_user": self.app_user,
            "database_app_auth": "password",
            "database_app_password": self.app_password,
        }


@pytest.fixture
def database(mariadb: MariaDB) -> Iterator[Database]:
    tag = uuid.uuid4().hex[:8]
    name, admin, app = f"m_{tag}", f"adm_{tag}", f"app_{tag}"
    password = f"pw-{tag}"
    mariadb.sql(
        f"CREATE DATABASE {name} CHARACTER SET utf8mb4;"
        f"CREATE USER '{admin}'@'%' IDENTIFIED BY '{password}';"
        f"GRANT ALL ON {name}.* TO '{admin}'@'%' WITH GRANT OPTION;"
        f"GRANT CREATE USER ON *.* TO '{admin}'@'%';"
    )
    url = f"mysql+asyncmy://{admin}:{password}@127.0.0.1:{mariadb.port}/{name}"
    yield Database(mariadb, name, url, app, f"app-{password}")
    mariadb.sql(
        f"DROP DATABASE IF EXISTS {name}; DROP USER IF EXISTS '{admin}'@'%';"
        f"DROP USER IF EXISTS '{app}'@'%';"
    )


def _migrate(
    database: Database, *args: str, app_user: bool = True
) -> subprocess.CompletedProcess[str]:
    settings = database.settings if app_user else {**FAST, "database_url": database.admin_url}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *(args or ("migrate",))],
        cwd=REPO,
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _as_app(database: Database, statements: list[str]) -> list[Any]:
    """Run each statement on the service's own engine (the app user); results or errors."""

    async def main() -> list[Any]:
        engine = db.create_engine(Settings(**database.settings))
        out: list[Any] = []
        try:
            for statement in statements:
                try:
                    async with engine.begin() as conn:
                        out.append((await conn.execute(text(statement))).fetchall())
                except DBAPIError as error:
                    out.append(db.mysql_error_code(error))
        finally:
            await engine.dispose()
        return out

    return asyncio.run(main())


def test_finding_12_migrate_creates_an_app_user_with_dml_only(database: Database) -> None:
    # A database migrated to head before the app user existed (a stack that predates it) ...
    before = _migrate(database, app_user=False)
    assert before.returncode == 0, before.stdout + before.stderr
    users = "SELECT COUNT(*) FROM mysql.user WHERE User = "
    assert database.server.sql(f"{users}'{database.app_user}'").strip() == "0"
    # ... gets it at the next run, with nothing left to apply (`schema up --phase expand`,
    # what a release runs, and `migrate`).
    expand = _migrate(database, "schema", "up", "--phase", "expand")
    assert expand.returncode == 0, expand.stdout + expand.stderr
    assert "No expand revisions pending" in expand.stdout
    migrated = _migrate(database)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "Up to date" in migrated.stdout
    grants = database.server.sql(f"SHOW GRANTS FOR '{database.app_user}'@'%'")
    lines = sorted(line for line in grants.splitlines() if line)
    assert len(lines) == 2, grants
    assert lines[0].startswith(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{database.name}`.*")
    assert lines[1].startswith(f"GRANT USAGE ON *.* TO `{database.app_user}`@`%`")
    assert "WITH GRANT OPTION" not in grants
    # The service's engine signs in as the app user ...
    who, rows = _as_app(database, ["SELECT CURRENT_USER()", "SELECT COUNT(*) FROM jobs"])
    assert who == [(f"{database.app_user}@%",)]
    assert rows == [(0,)]
    # ... which cannot change the schema or hand out rights: MySQL/MariaDB error 1142
    # (command denied for the table) and 1044 (access denied to the database).
    denied = _as_app(
        database,
        [
            "CREATE TABLE intruder (id INT)",
            "ALTER TABLE jobs ADD COLUMN intruder INT",
            "DROP TABLE jobs",
            "CREATE INDEX intruder ON jobs (status)",
            f"GRANT SELECT ON {database.name}.* TO '{database.app_user}'@'%'",
        ],
    )
    assert denied[:4] == [1142, 1142, 1142, 1142]
    assert denied[4] in (1044, 1142)


def test_finding_12_service_and_worker_run_as_the_app_user(
    database: Database, processes: Processes
) -> None:
    assert _migrate(database).returncode == 0
    settings = database.settings
    _, base = processes.serve(settings)
    worker = processes.worker(settings, concurrency=2)
    name = unique("app")
    with http(base) as client:
        registered = client.put(
            f"/v1/datasets/{name}", json={"schema": SCHEMA, "key_fields": ["id"]}, headers=WRITE
        )
        assert registered.status_code in (200, 201), registered.text
        posted = client.post(
            f"/v1/datasets/{name}/records", json=[{"id": 1}, {"id": 2}], headers=WRITE
        )
        assert posted.status_code == 202, posted.text
        found = wait_job(client, posted.json()["job_id"])
        assert found["status"] == "succeeded", found
        assert found["processed"] == 2
        assert client.get("/health").status_code == 200
    processlist = "SELECT DISTINCT USER FROM information_schema.PROCESSLIST WHERE DB = "
    sessions = database.server.sql(f"{processlist}'{database.name}'")
    assert set(sessions.split()) == {database.app_user}, sessions
    worker.stop()
    assert "Traceback" not in worker.output()


def _iam_settings(**extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_app_user": "ingest_app",
        "database_app_auth": "iam",
        "database_host": AURORA_HOST,
        "database_ssl_ca": certifi.where(),
        "aws_region": "eu-west-1",
    }
    return Settings(**(values | extra))


@pytest.fixture
def signing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any credentials: botocore presigns the token locally (no AWS call)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")


def test_finding_12_iam_token_is_a_presigned_connect_request(signing_credentials: None) -> None:
    token = db.iam_token(_iam_settings())
    assert not token.startswith("http")
    parts = urlsplit("https://" + token)
    assert (parts.hostname, parts.port, parts.path) == (AURORA_HOST, 3306, "/")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["Action"] == "connect"
    assert query["DBUser"] == "ingest_app"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].startswith("AKIDEXAMPLE/")
    assert query["X-Amz-Credential"].endswith("/eu-west-1/rds-db/aws4_request")
    assert query["X-Amz-Expires"] == "900"  # 15 minutes
    assert query["X-Amz-Security-Token"] == "session-token"
    assert len(query["X-Amz-Signature"]) == 64


def test_finding_12_iam_auth_refuses_to_run_without_tls() -> None:
    with pytest.raises(ValidationError, match="TLS is required"):
        Settings(database_app_user="ingest_app", database_app_auth="iam", database_host=AURORA_HOST)
    context = db.connect_args(_iam_settings(), as_app=True)["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_finding_12_iam_token_is_shared_for_ten_minutes_then_made_again(
    signing_credentials: None,
) -> None:
    """AWS throttles IAM sign-ins at 200 new connections a second, except those reusing a
    token (Aurora User Guide, "Limitations for IAM database authentication"): a failover
    reconnects every pool at once, so connections share a token for 10 of its 15 minutes."""
    settings = _iam_settings(database_host="shared.cluster-x.eu-west-1.rds.amazonaws.com")
    now = [1000.0]
    first = db.iam_token(settings, clock=lambda: now[0])
    time.sleep(1.1)  # a token made now would differ: X-Amz-Date counts whole seconds
    now[0] += db.IAM_TOKEN_REUSE_SECONDS - 1
    assert db.iam_token(settings, clock=lambda: now[0]) == first
    now[0] += 2
    assert db.iam_token(settings, clock=lambda: now[0]) != first


def test_finding_12_iam_user_gets_a_token_per_connection_and_never_without_tls(
    mariadb: MariaDB, signing_credentials: None
) -> None:
    """The test MariaDB has no TLS: an IAM connection to it must fail before the token is
    sent, rather than sign in in the clear."""
    settings = _iam_settings(database_host="127.0.0.1", database_port=mariadb.port)
    tokens: list[str] = []

    async def main() -> list[BaseException]:
        engine = db.create_engine(settings)

        @event.listens_for(engine.sync_engine, "do_connect")
        def _seen(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
            assert isinstance(cparams["ssl"], ssl.SSLContext)
            tokens.append(cparams["password"])

        failures: list[BaseException] = []
        try:
            for _ in range(2):
                try:
                    async with engine.connect() as conn:
                        await conn.execute(text("SELECT 1"))
                except Exception as error:  # what kind is asserted below
                    failures.append(error)
        finally:
            await engine.dispose()
        return failures

    failures = asyncio.run(main())
    assert len(failures) == 2, "a connection without TLS was accepted"
    assert len(tokens) == 2  # a token given to each new connection
    assert all(t.startswith(f"127.0.0.1:{mariadb.port}/?Action=connect") for t in tokens)
    # The TLS handshake failed (asyncmy upgrades before it authenticates): no sign-in attempt.
    assert all("SSL" in str(f) for f in failures), failures
    assert all(db.mysql_error_code(f) not in db.MYSQL_AUTH_ERRORS for f in failures), failures


def test_finding_12_no_signing_credentials_is_unavailable_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role here
    # Another region than the tests above: service.aws caches one client per region.
    settings = _iam_settings(aws_region="eu-central-1", database_host="127.0.0.1")

    async def main() -> BaseException:
        engine = db.create_engine(settings)
        try:
            async with engine.connect():
                pass
        except Exception as error:  # what kind is asserted below
            return error
        finally:
            await engine.dispose()
        raise AssertionError("connected without credentials")

    error = asyncio.run(main())
    assert isinstance(error, ConnectionError)
    assert "IAM database token" in str(error)
    assert db.is_unavailable(error)  # the API answers 503, the worker waits


def test_finding_12_aurora_iam_user_statements() -> None:
    """What differs on Aurora: the IAM plugin and REQUIRE SSL instead of a password."""
    iam = [sql for sql, _ in app_user_statements(_iam_settings(), "ingest")]
    assert iam == [
        "CREATE USER IF NOT EXISTS 'ingest_app'@'%' IDENTIFIED WITH AWSAuthenticationPlugin "
        "AS 'RDS'",
        "ALTER USER 'ingest_app'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'",
        "ALTER USER 'ingest_app'@'%' REQUIRE SSL",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON `ingest`.* TO 'ingest_app'@'%'",
    ]
    local = Settings(
        database_app_user="ingest_app",
        database_app_auth="password",
        database_app_password=SecretStr("pw"),
    )
    statements = app_user_statements(local, "ingest")
    assert [sql for sql, _ in statements][-1] == iam[-1]  # the same rights either way
    assert statements[0] == (
        "CREATE USER IF NOT EXISTS 'ingest_app'@'%' IDENTIFIED BY :password",
        {"password": "pw"},
    )
