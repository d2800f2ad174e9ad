"""Real processes under stress: 4 workers on MariaDB, a worker SIGKILLed mid-batch, MariaDB
stopped while clients post, the database password rotated under a running service."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from typing import Any

import boto3
import httpx
import orjson
import pytest

from opsctl.local.emulator import MotoServer
from opsctl.local.processes import wait_for
from tests.support.dbhelpers import event_counts, job_table, record_keys, seed, statuses
from tests.support.mariadb import MariaDB
from tests.support.service import FAST, READ, SCHEMA, WRITE, Processes, http, unique

pytestmark = pytest.mark.slow


def test_four_workers_on_mariadb_process_every_key_once(
    mariadb_migrated: str, processes: Processes
) -> None:
    url = mariadb_migrated
    name = unique("conc")
    batches = [[{"id": job * 100 + n, "name": f"r{n}"} for n in range(100)] for job in range(200)]
    ids = seed(url, name, batches, SCHEMA)
    settings = {**FAST, "database_url": url}
    workers = [processes.worker(settings, concurrency=4) for _ in range(4)]
    wait_for(lambda: statuses(url, ids).get("succeeded", 0) == 200, 180, "200 jobs succeeded")
    rows = job_table(url, ids)
    assert all(row["status"] == "succeeded" and row["processed"] == 100 for row in rows.values())
    assert all(row["attempts"] == 1 and row["failed_records"] == 0 for row in rows.values())
    keys = record_keys(url, name)
    assert len(keys) == 20_000
    assert set(keys) == {str(n) for n in range(20_000)}
    claims = event_counts(url, ids, "claimed")
    assert set(claims.values()) == {1}, "a job was claimed twice"
    owners = Counter(row["lease_owner"] for row in rows.values())
    assert owners == {None: 200}
    for proc in workers:
        proc.stop()
        assert "Traceback" not in proc.output()
        assert "Deadlock" not in proc.output()
    # every worker took part
    finished_by = event_counts(url, ids, "succeeded")
    assert len(finished_by) == 200


def migrated(database: str, request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A migrated database of that kind: the shared MariaDB, or a fresh SQLite file."""
    if database == "mariadb":
        return str(request.getfixturevalue("mariadb_migrated"))
    import asyncio

    from service.migrate import migrate
    from service.settings import Settings

    url = f"sqlite+aiosqlite:///{tmp_path}/jobs.db"
    asyncio.run(migrate(Settings(database_url=url)))
    return url


@pytest.mark.parametrize("database", ["sqlite", "mariadb"])
def test_sigkill_mid_batch_loses_and_duplicates_nothing(
    database: str, request: pytest.FixtureRequest, processes: Processes, tmp_path: Any
) -> None:
    url = migrated(database, request, tmp_path)
    name = unique("crash")
    batches = [[{"id": job * 2000 + n} for n in range(2000)] for job in range(8)]
    ids = seed(url, name, batches, SCHEMA)
    settings = {
        **FAST,
        "database_url": url,
        "lease_seconds": 2,
        "heartbeat_seconds": 0.5,
        "chunk_records": 100,
    }
    victim = processes.worker(settings, concurrency=2)
    assert victim.process is not None
    marker = f":{victim.process.pid}:"

    def mid_batch() -> bool:
        return any(
            row["status"] == "running"
            and marker in (row["lease_owner"] or "")
            and 0 < row["processed"] < 2000
            for row in job_table(url, ids).values()
        )

    wait_for(mid_batch, 60, "the victim worker in the middle of a batch")
    held = [
        job_id
        for job_id, row in job_table(url, ids).items()
        if marker in (row["lease_owner"] or "")
    ]
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait()
    processes.worker(settings, concurrency=2)
    wait_for(lambda: statuses(url, ids).get("succeeded", 0) == 8, 120, "every job succeeded")
    rows = job_table(url, ids)
    assert all(row["processed"] == 2000 for row in rows.values())
    keys = record_keys(url, name)
    assert len(keys) == 16_000 == len(set(keys))
    expired = event_counts(url, held, "lease_expired")
    assert held
    assert all(expired.get(job_id) == 1 for job_id in held)
    assert all(rows[job_id]["attempts"] == 2 for job_id in held)


def test_database_outage_answers_503_and_recovers(
    mariadb: MariaDB, mariadb_migrated: str, processes: Processes
) -> None:
    settings = {
        **FAST,
        "database_url": mariadb_migrated,
        "db_request_timeout": 3,
        "db_connect_timeout": 2,
        "db_pool_timeout": 2,
        "health_timeout": 1,
    }
    _proc, base = processes.serve(settings, "--with-worker")
    name = unique("outage")
    with http(base) as client:
        assert (
            client.put(
                f"/v1/datasets/{name}", json={"schema": SCHEMA, "key_fields": ["id"]}, headers=WRITE
            ).status_code
            == 201
        )

    accepted: list[str] = []
    statuses_seen: Counter[int] = Counter()
    slowest = [0.0]
    stop = threading.Event()

    def post_forever() -> None:
        n = 0
        with httpx.Client(base_url=base, timeout=15) as client:
            while not stop.is_set():
                n += 1
                started = time.monotonic()
                try:
                    response = client.post(
                        f"/v1/datasets/{name}/records", json=[{"id": n}], headers=WRITE
                    )
                except httpx.TransportError:
                    statuses_seen[-1] += 1
                    continue
                slowest[0] = max(slowest[0], time.monotonic() - started)
                statuses_seen[response.status_code] += 1
                if response.status_code == 202:
                    accepted.append(response.json()["job_id"])
                else:
                    assert response.json()["error"]["code"] == "service_unavailable"
                    time.sleep(0.05)

    poster = threading.Thread(target=post_forever)
    poster.start()
    try:
        wait_for(lambda: len(accepted) >= 20, 30, "posts accepted before the outage")
        mariadb.stop()
        stopped_at = time.monotonic()

        def health_is(code: int) -> bool:
            try:
                return httpx.get(f"{base}/health", timeout=5).status_code == code
            except httpx.TransportError:
                return False

        wait_for(lambda: health_is(503) and statuses_seen[503] > 0, 15, "503s during the outage")
        detected = time.monotonic() - stopped_at
        mariadb.start()
        wait_for(lambda: health_is(200), 60, "/health 200 after MariaDB is back")
        count = len(accepted)
        wait_for(lambda: len(accepted) > count + 10, 30, "posts accepted again")
    finally:
        stop.set()
        poster.join(30)
    assert statuses_seen[500] == 0
    assert set(statuses_seen) <= {202, 503}, statuses_seen
    assert detected < 15
    assert slowest[0] < 10, f"a request took {slowest[0]:.1f} s"
    url = mariadb_migrated
    wait_for(
        lambda: statuses(url, accepted).get("succeeded", 0) == len(accepted),
        90,
        "every accepted batch processed",
    )
    assert len(set(record_keys(url, name))) == len(accepted)


def test_password_rotation_reconnects_without_restart(
    mariadb: MariaDB, mariadb_migrated: str, aws: MotoServer, processes: Processes
) -> None:
    user = f"rot{uuid.uuid4().hex[:8]}"
    mariadb.sql(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'first-password';"
        f"GRANT ALL ON ingest.* TO '{user}'@'%';"
    )
    secrets = boto3.client("secretsmanager")
    secret = {
        "username": user,
        "password": "first-password",
        "host": "127.0.0.1",
        "port": mariadb.port,
        "dbname": "ingest",
    }
    arn = secrets.create_secret(Name=f"aurora-{user}", SecretString=orjson.dumps(secret).decode())[
        "ARN"
    ]
    settings = {
        **FAST,
        "database_secret_arn": arn,
        "database_host": "127.0.0.1",
        "database_port": mariadb.port,
        "database_name": "ingest",
        "secret_cache_seconds": 3600,  # only an authentication failure makes it re-read
        "aws_endpoint_url": aws.endpoint,
    }
    proc, base = processes.serve(settings, "--with-worker")
    name = unique("rot")
    with http(base) as client:
        assert client.get("/health").status_code == 200
        assert (
            client.put(
                f"/v1/datasets/{name}", json={"schema": SCHEMA, "key_fields": ["id"]}, headers=WRITE
            ).status_code
            == 201
        )

        # Rotation, the four steps by hand (moto cannot run the rotation Lambda).
        current = secrets.describe_secret(SecretId=arn)
        old_version = next(
            v for v, stages in current["VersionIdsToStages"].items() if "AWSCURRENT" in stages
        )
        token = str(uuid.uuid4())
        secrets.put_secret_value(  # createSecret
            SecretId=arn,
            ClientRequestToken=token,
            SecretString=orjson.dumps({**secret, "password": "second-password"}).decode(),
            VersionStages=["AWSPENDING"],
        )
        mariadb.sql(f"ALTER USER '{user}'@'%' IDENTIFIED BY 'second-password'")  # setSecret
        mariadb.sql("SELECT 1")  # testSecret (root); the service's own test is below
        secrets.update_secret_version_stage(  # finishSecret
            SecretId=arn,
            VersionStage="AWSCURRENT",
            MoveToVersionId=token,
            RemoveFromVersionId=old_version,
        )
        # Existing sessions survive ALTER USER; a failover or restart would drop them: do that.
        ids = mariadb.sql(
            f"SELECT id FROM information_schema.processlist WHERE user = '{user}'"  # noqa: S608
        ).split()
        for session in ids:
            try:
                mariadb.sql(f"KILL {session}")
            except subprocess.CalledProcessError as error:
                # The session closed between the listing and the KILL (the pool recycles).
                if "Unknown thread id" not in error.stderr:
                    raise

        def healthy() -> bool:
            return client.get("/health").status_code == 200

        wait_for(healthy, 30, "/health after the rotation")
        response = client.post(
            f"/v1/datasets/{name}/records", json=[{"id": 1}, {"id": 2}], headers=WRITE
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        wait_for(
            lambda: client.get(f"/v1/jobs/{job_id}", headers=READ).json()["status"] == "succeeded",
            30,
            "the job",
        )
    assert proc.process is not None
    assert proc.process.poll() is None  # never restarted
    assert "re-reading the secret" in proc.output()


@pytest.mark.parametrize("database", ["sqlite", "mariadb"])
@pytest.mark.parametrize(("grace", "expected"), [(0, "queued"), (60, "succeeded")])
def test_sigterm_finishes_or_releases_in_flight_jobs(
    grace: int,
    expected: str,
    database: str,
    request: pytest.FixtureRequest,
    processes: Processes,
    tmp_path: Any,
) -> None:
    url = migrated(database, request, tmp_path)
    name = unique("term")
    [job_id] = seed(url, name, [[{"id": n} for n in range(20_000)]], SCHEMA)
    settings = {**FAST, "database_url": url, "chunk_records": 50, "shutdown_grace_seconds": grace}
    worker = processes.worker(settings, concurrency=1)
    assert worker.process is not None

    def mid_batch() -> bool:
        row = job_table(url, [job_id])[job_id]
        return row["status"] == "running" and 0 < row["processed"] < 20_000

    wait_for(mid_batch, 60, "the worker in the middle of the batch")
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(90) == 0, worker.output()
    row = job_table(url, [job_id])[job_id]
    assert row["status"] == expected
    assert row["lease_owner"] is None
    if expected == "queued":
        assert row["attempts"] == 0
        assert row["last_error"] == "released by a stopping worker"
    else:
        assert row["processed"] == 20_000
        assert len(record_keys(url, name)) == 20_000
    assert "Traceback" not in worker.output()
