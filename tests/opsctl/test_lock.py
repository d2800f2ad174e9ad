"""The environment lock (opsctl/lock.py): a DynamoDB lease on a real moto server.

Real processes race for it; a holder whose lease was taken over is stopped by the fencing check
before its next AWS change; and skewed clocks are played through the Store's clock seams (each
operator's wall clock and the holder's monotonic clock), since every test shares one real clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from opsctl import aws, lock
from opsctl.exitcodes import Exit
from opsctl.local.emulator import MotoServer
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO

REGION, ENV = "eu-west-1", "local"
ROUNDS = 100


@pytest.fixture
def store(aws: MotoServer) -> lock.Store:
    return lock.Store.open(ENV, REGION, aws.endpoint)


@pytest.fixture
def opsctl(aws: MotoServer, tmp_path: Path) -> Opsctl:
    return Opsctl(REPO / "envs", tmp_path / "build", aws.endpoint)


def age(store: lock.Store, seconds: float = 3600) -> None:
    """Leave the lease as a crashed holder would: its last renewal long ago."""
    current = store.read()
    assert current is not None
    store.dynamodb.update_item(
        TableName=store.table,
        Key={"env": {"S": ENV}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": repr(current.expires_at - seconds)}},
    )


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def serial_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto serving one request at a time: DynamoDB's atomic conditional writes (see
    tests/support/serial_moto.py for why the threaded server lacks them)."""
    from opsctl.aws import DUMMY_CREDENTIALS
    from opsctl.local.processes import free_port, wait_for

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.serial_moto", str(port)],
        cwd=REPO,
        env=dict(os.environ, **DUMMY_CREDENTIALS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for key, value in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    try:
        wait_for(lambda: _answers(url), 60, f"serial moto on {url}")
        yield url
    finally:
        server.terminate()
        server.wait()


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310 - loopback
            return True
    except OSError:
        return False


@pytest.fixture
def racers(serial_moto: str) -> Iterator[list[subprocess.Popen[str]]]:
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.lock_racer", serial_moto, ENV, name],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    try:
        for racer in started:
            assert racer.stdout is not None
            assert racer.stdout.readline().strip() == "ready"
        yield started
    finally:
        for racer in started:
            racer.kill()
            racer.wait()


def test_two_processes_racing_for_an_expired_lock_never_both_hold_it(
    serial_moto: str, racers: list[subprocess.Popen[str]]
) -> None:
    """Main's takeover was read, delete, create: two operators could both delete the expired
    lock and both create theirs. Here each round both processes find the lease expired and
    write at once; the conditional write on the item's revision lets exactly one win."""
    store = lock.Store.open(ENV, REGION, serial_moto)
    tokens: list[int] = []
    raced = 0
    for round_ in range(ROUNDS):
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        answers = [r.stdout.readline().split() for r in racers if r.stdout is not None]
        winners = [a for a in answers if a[0] == "won"]
        assert len(winners) == 1, f"round {round_}: {answers}"
        raced += sum(1 for a in answers if a == ["lost", "raced"])
        tokens.append(int(winners[0][1]))
        current = store.read()
        assert current is not None
        assert current.token == tokens[-1]
        age(store)
    assert tokens == list(range(1, ROUNDS + 1))  # every grant a new, larger fencing token
    # The loser reached the write in some rounds (it saw the lease expired): a real race.
    assert raced > 0


def test_a_holder_whose_lease_was_taken_over_is_stopped_before_its_next_change(
    aws: MotoServer, store: lock.Store
) -> None:
    """Main had no fencing: a run that outlived its TTL kept changing things after someone
    else took over. Here the stale holder's next mutating AWS call is refused by the lease
    check opsctl/aws.py runs first, and the CLI stops with exit 3."""
    ssm = aws_client(aws, "ssm")
    taken: list[lock.Lease] = []

    def stale_run() -> None:
        with lock.cli_lock(ENV, REGION, aws.endpoint, "bluegreen deploy") as lease:
            ssm.put_parameter(Name="/before", Value="ours", Type="String")  # still ours: runs
            # The holder stalls (a laptop lid closed) for longer than the lease and the margin;
            # another operator, whose clock has moved on, takes the lock over.
            later = lock.Store(store.dynamodb, store.table, ENV, clock=lambda: time.time() + 3600)
            taken.append(later.acquire("apply", "arn:aws:sts::123456789012:assumed-role/ops/bob"))
            assert taken[0].token == lease.token + 1
            ssm.put_parameter(Name="/after", Value="stale", Type="String")

    with pytest.raises(typer.Exit) as stopped:
        stale_run()
    assert stopped.value.exit_code == Exit.LOCKED
    assert ssm.get_parameter(Name="/before")["Parameter"]["Value"] == "ours"
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/after")
    current = store.read()
    assert current is not None  # the stale holder's release did not free the new holder's lock
    assert (current.held, current.token, current.command) == (True, taken[0].token, "apply")


def aws_client(server: MotoServer, service: str) -> Any:
    return aws.client(service, REGION, server.endpoint)


class FakeTime:
    """One true time; each operator reads it through its own skew."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def clock(self, skew: float = 0.0) -> Callable[[], float]:
        return lambda: self.now + skew


@pytest.mark.parametrize("margin_used", [-1.0, -0.5, 0.0, 0.5, 0.99])
def test_clock_skew_within_the_margin_never_gives_two_holders(
    store: lock.Store, margin_used: float
) -> None:
    """Main judged expiry on each operator's own clock with no margin: a taker whose clock ran
    ahead took the lock while the holder still trusted it. The holder trusts its lease for
    `lease` seconds from sending its last renewal (monotonic); a taker waits for `expires_at +
    margin` on its own clock. Walk true time past the expiry: while the holder still trusts its
    lease, a taker skewed by up to the margin either way is refused."""
    lease_s, margin = 10.0, 3.0
    t = FakeTime()
    holder_store = lock.Store(store.dynamodb, store.table, ENV, clock=t.clock())
    lease = holder_store.acquire(
        "deploy", "arn:holder", lease_seconds=lease_s, margin=margin, monotonic=t.clock()
    )
    taker = lock.Store(store.dynamodb, store.table, ENV, clock=t.clock(margin_used * margin))
    start, taken_at = t.now, None
    while t.now < start + lease_s + 2 * margin:
        t.now += 0.5
        try:
            taker.acquire("apply", "arn:taker", lease_seconds=lease_s, margin=margin)
        except lock.LockHeld:
            continue
        taken_at = t.now
        with pytest.raises(lock.LeaseLost):
            lease.check(remote=False)  # the holder had already stopped trusting its lease
        break
    assert taken_at is not None  # and the lease is taken over once truly expired


def test_skew_beyond_the_margin_is_what_the_margin_protects_against(store: lock.Store) -> None:
    """The control: with a taker's clock ahead by more than the margin, there is a moment when
    both believe they hold the lock. This is why the margin must exceed the worst skew."""
    lease_s, margin = 10.0, 3.0
    t = FakeTime()
    holder_store = lock.Store(store.dynamodb, store.table, ENV, clock=t.clock())
    lease = holder_store.acquire(
        "deploy", "arn:holder", lease_seconds=lease_s, margin=margin, monotonic=t.clock()
    )
    taker = lock.Store(store.dynamodb, store.table, ENV, clock=t.clock(2 * margin))
    t.now += lease_s - margin
    taker.acquire("apply", "arn:taker", lease_seconds=lease_s, margin=margin)
    lease.check(remote=False)  # locally the holder still trusts it; only the token check helps
    with pytest.raises(lock.LeaseLost, match="taken over by arn:taker"):
        lease.check()


def test_the_heartbeat_keeps_a_long_run_holding_the_lock(store: lock.Store) -> None:
    """Main never renewed: a run longer than its TTL lost the lock to the next command (and
    `deploy --resume` even took its TTL from the CLI defaults). The heartbeat renews the
    lease, so it outlives many lease lengths while the run lives."""
    lease = store.acquire("bluegreen deploy", "arn:a", lease_seconds=1.0, margin=0.2)
    first = store.read()
    assert first is not None
    lock.hold(lease)
    try:
        wait_until(lambda: time.time() > first.expires_at + 3)  # three lease lengths later
        with pytest.raises(lock.LockHeld):
            store.acquire("apply", "arn:b", lease_seconds=1.0, margin=0.2)
        lease.check()
        current = store.read()
        assert current is not None
        assert current.revision > first.revision + 3
    finally:
        lock.let_go(lease)
    after = store.read()
    assert after is not None
    assert not after.held
    assert after.token == lease.token


def test_lock_status_shows_holder_token_and_last_renewal_and_break_frees_it(
    store: lock.Store, opsctl: Opsctl
) -> None:
    lease = store.acquire("migrate up", "arn:aws:sts::123456789012:assumed-role/ops/alice")
    status = opsctl("lock", "status", ENV)
    assert status.code == 0, status.output
    for shown in (
        "assumed-role/ops/alice",
        "migrate up",
        f"token         {lease.token}",
        "last renewed",
    ):
        assert shown in status.stdout
    rollback = opsctl("bluegreen", "rollback", ENV, "--yes")
    assert rollback.code == Exit.LOCKED
    assert "locked by arn:aws:sts::123456789012:assumed-role/ops/alice" in rollback.stderr
    assert "opsctl lock break local" in rollback.stderr
    refused = opsctl("lock", "break", ENV)  # no terminal, no --yes: asks, cannot, refuses
    assert refused.code == Exit.ABORTED
    assert (store.read() or lease).holder == lease.holder
    broken = opsctl("lock", "break", ENV, "--yes")
    assert broken.code == 0
    assert "broken" in broken.stdout
    with pytest.raises(lock.LeaseLost, match="broken"):
        lease.check()
    assert opsctl("lock", "status", ENV).stdout.startswith("local is not locked.")


def test_a_missing_lock_table_names_the_bootstrap_command(aws: MotoServer) -> None:
    missing = lock.Store(aws_client(aws, "dynamodb"), "no-such-table", ENV)
    with pytest.raises(lock.LockTableMissing, match="opsctl bootstrap local"):
        missing.read()


def test_deploy_resume_expects_the_recorded_options_not_the_cli_defaults(
    aws: MotoServer, store: lock.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Main's `deploy --resume` took the TTL it holds the lock for from the CLI defaults
    (canary 10,50 with an automatic bake counted as an hour a step, keep-old 15m), not from the
    recorded deployment it resumes. The lease's expected end now follows the recorded options."""
    from datetime import datetime

    from typer.testing import CliRunner

    from opsctl.bluegreen import record
    from opsctl.bluegreen.connect import deploy_ttl
    from opsctl.bluegreen.engine import BlueGreenError
    from opsctl.cli import app
    from opsctl.commands import bluegreen as command

    recorded = record.Deployment.new(
        ami="ami-0123456789abcdef0",
        source="blue",
        target="green",
        canary=[50],
        bake=60.0,
        keep_old=30.0,
        by="alice",
        status="interrupted",
        step="canary-50",
    )
    record.save_deployment(aws_client(aws, "ssm"), ENV, recorded)
    seen: list[lock.Lock | None] = []

    def stop_once_locked(*_args: Any, **_kwargs: Any) -> Any:
        seen.append(store.read())
        raise BlueGreenError("stopped by the test once the lock is held")

    monkeypatch.setattr(command, "open_engine", stop_once_locked)
    monkeypatch.setenv("OPSCTL_EMULATOR_URL", aws.endpoint)
    started = time.time()
    result = CliRunner().invoke(app, ["bluegreen", "deploy", ENV, "--resume", "--yes"])
    assert result.exit_code == 1, result.output
    assert "stopped by the test" in result.output
    (held,) = seen
    assert held is not None
    expected = datetime.fromisoformat(held.expected_until).timestamp() - started
    ttl, defaults = deploy_ttl([50], 60.0, 30.0), deploy_ttl([10, 50], None, 900.0)
    assert defaults - ttl > 3600  # the two are far apart, so the check below tells them apart
    assert abs(expected - ttl) < 600, (expected, ttl, defaults)


def test_a_grant_whose_answer_was_lost_and_retried_is_still_ours(store: lock.Store) -> None:
    """botocore retries a PutItem whose response was lost (standard retry mode: a connection
    reset after the request was sent); the retry then fails its condition on the item the first
    attempt wrote. Played here: the first PutItem reaches DynamoDB (moto), then the retry runs."""
    store.acquire("crashed run", "someone who crashed")
    age(store)
    rival = lock.Store(store.dynamodb, store.table, store.env)

    class Retrying:
        def __init__(self, client: Any) -> None:
            self.client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

        def put_item(self, **kwargs: Any) -> Any:
            self.client.put_item(**kwargs)
            return self.client.put_item(**kwargs)  # the retry: ConditionalCheckFailedException

    store.dynamodb = Retrying(store.dynamodb)
    lease = store.acquire("test", "me")
    assert rival.read() is not None
    assert (rival.read() or lease).token == lease.token
    lease.check()
    with pytest.raises(lock.LockHeld):  # and a real rival still loses
        rival.acquire("test", "someone else")
