"""Aurora failover, played with a real MariaDB primary/replica pair behind an endpoint proxy
(tests/support/failover.py) and real `ingest-service` processes: the service recovers within
seconds of the endpoint flip, answers 503 with Retry-After (never 500) in between, loses no
acknowledged record and processes none twice."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from opsctl.local.processes import wait_for
from service import db, store
from service.migrate import migrate
from service.settings import Settings
from service.tables import jobs
from tests.support.dbhelpers import event_counts, job_table, record_keys
from tests.support.failover import (
    EndpointProxy,
    ReplicatedPair,
    aurora_failover,
    failover_rig,
    writer_crash,
)
from tests.support.mariadb import DATABASE, PASSWORD, USER, MariaDB, tools_present
from tests.support.service import FAST, SCHEMA, WRITE, Processes, http, unique
from tests.support.tools import require

pytestmark = pytest.mark.slow

DNS_WINDOW = 5.0  # the Aurora cluster endpoint's DNS TTL
RECOVERY = 2.0  # the bound: POSTs answer 2xx again this long after the flip
AFTER_FLIP = RECOVERY + 2.0  # load phase after the flip


def url_of(port: int) -> str:
    return f"mysql+asyncmy://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"


def direct(server: MariaDB) -> str:
    return url_of(server.port)


@pytest.fixture(params=[False], ids=["async"])
def rig(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ReplicatedPair, EndpointProxy]]:
    """A migrated pair (A writer, B replica) and the endpoint proxy pointing at A."""
    require(tools_present(), "MariaDB (mariadbd, mariadb-install-db)")
    with failover_rig(tmp_path / "db", semi_sync=bool(request.param)) as (pair, proxy):
        asyncio.run(migrate(Settings(database_url=direct(pair.writer))))
        pair.caught_up()
        yield pair, proxy


@dataclass
class Answer:
    started: float
    finished: float
    status: int  # 0: no HTTP answer at all
    retry_after: str | None
    record_id: int
    job_id: str | None


@dataclass
class Load:
    """`clients` threads, each POSTing one new record at a time until stopped."""

    base: str
    dataset: str
    clients: int = 4
    answers: list[Answer] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.threads = [threading.Thread(target=self._client) for _ in range(self.clients)]

    def _client(self) -> None:
        with httpx.Client(base_url=self.base, timeout=15) as client:
            while not self.stopping.is_set():
                record_id = next(self.ids)
                started = time.monotonic()
                try:
                    response = client.post(
                        f"/v1/datasets/{self.dataset}/records",
                        json={"id": record_id, "name": "r"},
                        headers=WRITE,
                    )
                    status = response.status_code
                    retry_after = response.headers.get("retry-after")
                    job = response.json().get("job_id") if status == 202 else None
                except httpx.TransportError:
                    status, retry_after, job = 0, None, None
                self.answers.append(
                    Answer(started, time.monotonic(), status, retry_after, record_id, job)
                )
                if status != 202:
                    time.sleep(0.05)  # a client backing off, as Retry-After asks

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)

    def accepted(self) -> int:
        return sum(1 for answer in list(self.answers) if answer.status == 202)


def start_service(
    processes: Processes, proxy: EndpointProxy, workers: int = 2
) -> tuple[str, list[Any]]:
    """The API (`workers` uvicorn processes) and a job worker, all through the endpoint."""
    settings = {**FAST, "database_url": url_of(proxy.port), "db_connect_timeout": 2}
    api, base = processes.serve(settings, "--workers", str(workers))
    worker = processes.worker(settings, concurrency=4)
    return base, [api, worker]


def run_load_through(failover: Any, base: str) -> tuple[list[Answer], float, str]:
    """Register a dataset, load, fail over (returns the flip time), keep loading."""
    name = unique("fo")
    with http(base) as client:
        response = client.put(
            f"/v1/datasets/{name}", json={"schema": SCHEMA, "key_fields": ["id"]}, headers=WRITE
        )
        assert response.status_code == 201, response.text
    with Load(base, name) as load:
        wait_for(lambda: load.accepted() >= 100, 60, "100 posts accepted before the failover")
        flipped = failover()
        wait_for(lambda: time.monotonic() > flipped + AFTER_FLIP, AFTER_FLIP + 5, "load phase")
    return load.answers, flipped, name


def assert_recovered(answers: list[Answer], flipped: float) -> float:
    """The guarantees on what clients saw; returns the recovery time after the flip."""
    statuses = {answer.status for answer in answers}
    assert statuses <= {202, 503}, f"unexpected answers: {statuses - {202, 503}}"
    errors = [answer for answer in answers if answer.status != 202]
    assert errors, "the failover caused no error at all: did it run?"
    assert all(answer.retry_after for answer in errors), "a 503 without Retry-After"
    late = [a for a in answers if a.started >= flipped + RECOVERY and a.status != 202]
    assert not late, f"{len(late)} POST(s) failed more than {RECOVERY} s after the flip"
    assert any(a.started >= flipped + RECOVERY for a in answers), "no load after recovery"
    recovered = min(a.finished for a in answers if a.status == 202 and a.started >= flipped)
    return recovered - flipped


def assert_nothing_lost(url: str, dataset: str, answers: list[Answer]) -> None:
    """Every 202'd job is on the new writer and succeeds, once; every acknowledged record is
    there, once."""
    acked = {a.job_id: a.record_id for a in answers if a.status == 202 and a.job_id}

    def all_succeeded() -> bool:
        rows = job_table(url, list(acked))
        return len(rows) == len(acked) and all(r["status"] == "succeeded" for r in rows.values())

    wait_for(all_succeeded, 90, f"the {len(acked)} accepted jobs succeeded on the new writer")
    keys = record_keys(url, dataset)
    assert len(keys) == len(set(keys)), "a record is stored twice"
    missing = {str(record) for record in acked.values()} - set(keys)
    assert not missing, f"{len(missing)} acknowledged record(s) lost"
    finished = event_counts(url, list(acked), "succeeded")
    assert set(finished.values()) == {1}, "a job completed twice"


def summary(answers: list[Answer], flipped: float, recovery: float) -> str:
    errors = [a for a in answers if a.status != 202]
    first = min(a.started for a in errors) if errors else flipped
    return (
        f"{len(answers)} POSTs, {len(answers) - len(errors)} accepted, {len(errors)} answered 503"
        f" over {flipped - first:.1f} s before and {max(a.finished for a in errors) - flipped:.2f}"
        f" s after the flip; 2xx again {recovery:.2f} s after the flip"
    )


def service_logs(procs: list[Any]) -> str:
    return "\n".join(proc.output() for proc in procs)


def test_clean_failover_under_load(
    rig: tuple[ReplicatedPair, EndpointProxy], processes: Processes
) -> None:
    pair, proxy = rig
    base, procs = start_service(processes, proxy)
    answers, flipped, name = run_load_through(
        lambda: aurora_failover(pair, proxy, DNS_WINDOW), base
    )
    recovery = assert_recovered(answers, flipped)
    assert_nothing_lost(direct(pair.reader), name, answers)
    logs = service_logs(procs)
    assert "database unavailable (read_only)" in logs, logs[-3000:]
    assert " 1290" in logs
    assert "Traceback" not in logs
    print(summary(answers, flipped, recovery))


@pytest.mark.parametrize("rig", [True], ids=["semi-sync"], indirect=True)
def test_writer_killed_mid_load_loses_no_acknowledged_record(
    rig: tuple[ReplicatedPair, EndpointProxy], processes: Processes
) -> None:
    pair, proxy = rig
    base, procs = start_service(processes, proxy)
    answers, flipped, name = run_load_through(lambda: writer_crash(pair, proxy), base)
    recovery = assert_recovered(answers, flipped)
    assert_nothing_lost(direct(pair.reader), name, answers)
    assert "database unavailable (connection_lost)" in service_logs(procs) or (
        "database unavailable (unreachable)" in service_logs(procs)
    )
    print(summary(answers, flipped, recovery))


def test_stale_reader_connections_fail_over_on_their_first_write(
    rig: tuple[ReplicatedPair, EndpointProxy],
) -> None:
    """A pool holding connections to a server that turns read-only (the old writer, reached
    through the endpoint during the DNS window): the first write on each fails over to a fresh
    connection; no write is attempted twice on a read-only connection."""
    pair, proxy = rig
    server_ids = {int(pair.writer.sql("SELECT @@server_id")): "A", 2: "B"}
    attempts: list[tuple[int, str]] = []  # (connection number, server) of every INSERT
    numbers = itertools.count(1)

    async def scenario() -> list[str]:
        engine = db.create_engine(
            Settings(database_url=url_of(proxy.port), db_pool_size=5, db_max_overflow=0)
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _connect(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT @@server_id")
            record.info["server"] = server_ids[int(cursor.fetchone()[0])]
            record.info["number"] = next(numbers)
            cursor.close()

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _statement(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT"):
                info = conn.connection.info
                attempts.append((info["number"], info["server"]))

        try:
            held = [await engine.connect() for _ in range(5)]  # five pooled sessions to A
            for conn in held:
                await conn.execute(select(1))
            for conn in held:
                await conn.close()
            pair.writer.sql("SET GLOBAL read_only = 1")  # A turns reader, sessions kept
            pair.caught_up()
            pair.promote_reader()
            proxy.point_at(pair.reader.port)

            async def write(conn: AsyncConnection) -> str:
                await asyncio.sleep(0.1)  # the five writes hold five connections at once
                job = store.job_row("stale", records=0, status="dead", last_error="probe")
                await conn.execute(insert(jobs).values(**job))
                return str(job["id"])

            return list(
                await asyncio.gather(
                    *(db.transaction(engine, write, failover_retry=True) for _ in range(5))
                )
            )
        finally:
            await engine.dispose()

    written = asyncio.run(scenario())
    on_a = [number for number, server in attempts if server == "A"]
    assert on_a, "no write reached the read-only server: the scenario did not happen"
    assert len(on_a) == len(set(on_a)), f"a read-only connection was written to twice: {attempts}"
    assert len(job_table(direct(pair.reader), written)) == 5  # every write landed on B


def test_health_is_503_read_only_on_a_reader_and_200_after_the_flip(
    rig: tuple[ReplicatedPair, EndpointProxy], processes: Processes
) -> None:
    pair, proxy = rig
    settings = {**FAST, "database_url": url_of(proxy.port)}
    _api, base = processes.serve(settings)
    name = unique("health")
    with http(base) as client:
        assert client.get("/health").status_code == 200
        response = client.put(
            f"/v1/datasets/{name}", json={"schema": SCHEMA, "key_fields": ["id"]}, headers=WRITE
        )
        assert response.status_code == 201
        pair.demote_writer()
        pair.caught_up()
        pair.promote_reader()  # B is the writer, but the endpoint still reaches only A

        def health() -> httpx.Response:
            return client.get("/health")

        wait_for(lambda: health().status_code == 503, 10, "/health 503 on the reader")
        answer = health()
        assert answer.status_code == 503
        assert "read-only" in answer.json()["error"]["message"]
        assert answer.headers["retry-after"]
        post = client.post(f"/v1/datasets/{name}/records", json={"id": 1}, headers=WRITE)
        assert post.status_code == 503
        assert post.headers["retry-after"]
        metrics = client.get("/metrics").text
        assert 'ingest_db_errors_total{kind="read_only"}' in metrics

        proxy.point_at(pair.reader.port)
        wait_for(lambda: health().status_code == 200, 10, "/health 200 after the flip")
        post = client.post(f"/v1/datasets/{name}/records", json={"id": 1}, headers=WRITE)
        assert post.status_code == 202, post.text
