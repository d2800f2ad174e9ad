"""A failover harness: a MariaDB primary and a GTID replica on free loopback ports (optionally
semi-synchronous, Aurora's durability: a commit is acknowledged only once the replica has it),
an endpoint proxy that plays the Aurora cluster endpoint, and the failover sequences.

What Aurora does at a failover (AWS knowledge center, "aurora-mysql-db-cluser-read-only-error"
and "aurora-mysql-redirected-endpoint-writer"): the old writer is restarted and comes back
read-only (`innodb_read_only` ON), its sessions dropped; a replica is promoted; the cluster
endpoint's DNS record (TTL 5 s) moves to the new writer, so a client that resolves it within the
TTL still reaches the old writer and gets "running with the --read-only option" (1290) on every
write. `aurora_failover` plays exactly that, with the proxy standing in for the DNS name."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from opsctl.local.processes import free_port, wait_for
from tests.support.mariadb import MariaDB

REPL_USER = "repl"
REPL_PASSWORD = "repl-test-password"


class EndpointProxy:
    """A TCP proxy on a free loopback port: new sessions go to `target`, which `point_at`
    changes (the DNS flip); `drop_sessions` resets every open session (the writer's sessions
    dropped). Runs its own asyncio loop in a thread, so it serves while the test blocks."""

    def __init__(self, target: int) -> None:
        self.port = free_port()
        self.target = target
        self.sessions: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> EndpointProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._session, "127.0.0.1", self.port), self.loop
        ).result(10)
        return self

    def point_at(self, port: int) -> None:
        self.target = port

    def drop_sessions(self) -> int:
        """Reset every open session (both sides see the connection die); how many there were."""

        async def drop() -> int:
            writers = list(self.sessions)
            for writer in writers:
                writer.transport.abort()
            self.sessions.clear()
            return len(writers)

        return asyncio.run_coroutine_threadsafe(drop(), self.loop).result(10)

    async def _session(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            client_w.transport.abort()  # as a connection refused: the client sees it at once
            return
        self.sessions.update((client_w, server_w))
        try:
            await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
        finally:
            for writer in (client_w, server_w):
                self.sessions.discard(writer)
                writer.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self.sessions):
                writer.transport.abort()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def _server_options(server_id: int, semi_sync: bool) -> list[str]:
    options = [
        f"--server-id={server_id}",
        "--log-bin=mariadb-bin",
        "--binlog-format=ROW",
        "--log-slave-updates",
        "--sync-binlog=1",
        "--innodb-flush-log-at-trx-commit=1",
    ]
    if semi_sync:
        # AFTER_SYNC: the client's COMMIT returns only once the replica has the transaction,
        # so no acknowledged commit can be lost with the writer. The long timeout keeps the
        # primary from silently falling back to asynchronous replication. The primary turns
        # it on only once its replica is connected (`ReplicatedPair.start`): with it on and no
        # replica, even the setup statements would wait for that timeout.
        options += [
            "--rpl-semi-sync-master-wait-point=AFTER_SYNC",
            "--rpl-semi-sync-master-timeout=600000",
            "--rpl-semi-sync-slave-enabled=1",
        ]
    return options


@dataclass
class ReplicatedPair:
    """`writer` (A) replicated to `reader` (B, read_only) with GTIDs."""

    base: Path
    semi_sync: bool = False
    writer: MariaDB = field(init=False)
    reader: MariaDB = field(init=False)

    def start(self) -> ReplicatedPair:
        self.writer = MariaDB(self.base / "a", options=_server_options(1, self.semi_sync)).start()
        self.reader = MariaDB(
            self.base / "b", options=[*_server_options(2, self.semi_sync), "--read-only=1"]
        ).start()
        self.writer.sql(
            f"CREATE USER '{REPL_USER}'@'%' IDENTIFIED BY '{REPL_PASSWORD}';"
            f"GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'%';"
        )
        # Both servers created the same database and user on their own: replicate from here.
        position = self.writer.sql("SELECT @@global.gtid_binlog_pos").strip()
        self.reader.sql(
            "RESET MASTER;"
            f"SET GLOBAL gtid_slave_pos = '{position}';"
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={self.writer.port},"
            f" MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}',"
            " MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;"
            "START SLAVE;"
        )
        wait_for(self._replicating, 30, "replication from A to B")
        if self.semi_sync:
            self.writer.sql("SET GLOBAL rpl_semi_sync_master_enabled = 1")
            # The replica asks for semi-sync when its I/O thread connects: reconnect it.
            self.reader.sql("STOP SLAVE IO_THREAD; START SLAVE IO_THREAD;")
            wait_for(self._semi_sync_on, 30, "semi-synchronous replication")
        return self

    def _semi_sync_on(self) -> bool:
        status = self.writer.sql("SHOW STATUS LIKE 'Rpl_semi_sync_master_%'")
        values = dict(line.split("\t", 1) for line in status.splitlines() if "\t" in line)
        return (
            values.get("Rpl_semi_sync_master_status") == "ON"
            and int(values.get("Rpl_semi_sync_master_clients", "0")) >= 1
        )

    def _replicating(self) -> bool:
        status = self.replica_status()
        return status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes"

    def replica_status(self) -> dict[str, str]:
        out = self.reader.sql("SHOW SLAVE STATUS\\G", column_names=True)
        status = {}
        for line in out.splitlines():
            name, _, value = line.strip().partition(": ")
            status[name] = value
        return status

    def caught_up(self, timeout: float = 30) -> None:
        """Wait until B has applied everything A has written (A must be alive)."""
        position = self.writer.sql("SELECT @@global.gtid_binlog_pos").strip()
        done = self.reader.sql(f"SELECT MASTER_GTID_WAIT('{position}', {timeout})").strip()
        if done != "0":
            raise TimeoutError(f"B did not reach A's position {position} in {timeout:.0f} s")

    def applied_received(self, timeout: float = 30) -> None:
        """Wait until B has applied every transaction it received (A may be dead)."""
        self.reader.sql("STOP SLAVE IO_THREAD")
        received = self.replica_status().get("Gtid_IO_Pos", "")
        done = self.reader.sql(f"SELECT MASTER_GTID_WAIT('{received}', {timeout})").strip()
        if done != "0":
            raise TimeoutError(f"B did not apply what it received ({received})")

    def promote_reader(self) -> None:
        self.reader.sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0;")

    def demote_writer(self) -> None:
        """The old writer comes back read-only, its client sessions killed."""
        self.writer.sql("SET GLOBAL read_only = 1")
        kill_sessions(self.writer)

    def stop(self) -> None:
        for server in (getattr(self, "reader", None), getattr(self, "writer", None)):
            if server is not None:
                server.stop()


def kill_sessions(server: MariaDB, user: str = "ingest") -> None:
    ids = server.sql(
        f"SELECT id FROM information_schema.processlist WHERE user = '{user}'"  # noqa: S608
    )
    for ident in ids.split():
        with contextlib.suppress(Exception):
            server.sql(f"KILL CONNECTION {int(ident)}")


def aurora_failover(pair: ReplicatedPair, proxy: EndpointProxy, dns_window: float) -> float:
    """The clean failover: A read-only, its sessions dropped, B catches up and is promoted, the
    endpoint keeps pointing at A for `dns_window` seconds, then flips to B. Returns the
    monotonic time of the flip."""
    pair.demote_writer()
    proxy.drop_sessions()
    pair.caught_up()
    pair.promote_reader()
    time.sleep(dns_window)  # the cluster endpoint's TTL: this is the scenario, not a wait
    proxy.point_at(pair.reader.port)
    return time.monotonic()


def writer_crash(pair: ReplicatedPair, proxy: EndpointProxy) -> float:
    """The writer dies (SIGKILL); B applies what it received and is promoted; the endpoint
    flips. Returns the monotonic time of the flip."""
    pair.writer.kill()
    proxy.drop_sessions()
    pair.applied_received()
    pair.promote_reader()
    proxy.point_at(pair.reader.port)
    return time.monotonic()


@contextlib.contextmanager
def failover_rig(
    base: Path, semi_sync: bool = False
) -> Iterator[tuple[ReplicatedPair, EndpointProxy]]:
    """A started pair and a proxy pointing at its writer; both stopped at exit."""
    pair = ReplicatedPair(base, semi_sync=semi_sync)
    proxy = None
    try:
        pair.start()
        proxy = EndpointProxy(pair.writer.port).start()
        yield pair, proxy
    finally:
        if proxy is not None:
            proxy.stop()
        pair.stop()
