"""The environment lock: a lease in DynamoDB with a fencing token and a heartbeat.

One item per environment in the lock table (`ingest-<env>-opsctl-lock`, from modules/state-backend
through `opsctl bootstrap ENV`; on the emulator it is created on first use). Every write is a
conditional write on the item's `revision`, which changes on every grant, renewal and release, so a
takeover is a compare-and-set: two operators who both saw the same expired lease cannot both win.

- **Fencing token**: `token` grows by one on every grant and never goes back. A holder checks that
  the item still carries its token (`Lease.check()`) before every mutating AWS call (opsctl/aws.py
  calls the active lease's fence), so a run whose lease was taken over stops before its next change.
- **Heartbeat**: while a lease is held a background thread renews it every `lease/4` seconds.
- **Expiry and clock skew**: a lease lasts `lease_seconds` from its last renewal. The holder counts
  that on its own monotonic clock from the moment it *sent* the renewal; another operator may take
  it over only `SKEW_MARGIN` seconds after the recorded `expires_at`, judged by its own wall clock.
  As long as two operators' clocks differ by less than the margin, the holder has stopped trusting
  its lease before anyone can take it over. docs/opsctl.md shows the arithmetic.

Holder identity is the STS caller identity (the ARN), plus `user@host pid` to find the process.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from opsctl import aws
from opsctl.exitcodes import Exit
from opsctl.ui import confirm, console, fail

LEASE_SECONDS = float(os.environ.get("OPSCTL_LOCK_LEASE_SECONDS", "120"))
SKEW_MARGIN = float(os.environ.get("OPSCTL_LOCK_SKEW_MARGIN_SECONDS", "30"))

Clock = Callable[[], float]


def table_name(env_name: str) -> str:
    """The state-backend module's `lock_table_name` output for `name = ingest-<env>`."""
    return f"ingest-{env_name}-opsctl-lock"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Lock:
    """What the table says about one environment's lock (held or free)."""

    env: str
    token: int
    revision: int
    holder: str = ""  # STS caller ARN; "" when free
    where: str = ""
    command: str = ""
    since: str = ""
    renewed_at: str = ""
    expires_at: float = 0.0  # epoch seconds on the holder's clock at its last renewal
    lease_seconds: float = 0.0
    expected_until: str = ""

    @property
    def held(self) -> bool:
        return bool(self.holder)

    def expired(self, now: float | None = None, margin: float = SKEW_MARGIN) -> bool:
        """May someone whose wall clock reads `now` take it over?"""
        return self.expires_at + margin <= (time.time() if now is None else now)

    @property
    def who(self) -> str:
        return f"{self.holder} ({self.where})" if self.where else self.holder

    def describe(self) -> str:
        return (
            f"{self.who} ({self.command}), token {self.token}, since {self.since}, "
            f"last renewed {self.renewed_at}, lease until {_iso(self.expires_at)}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LockHeld(Exception):
    def __init__(self, holder: Lock, raced: bool = False) -> None:
        super().__init__(f"the lock is held by {holder.describe()}")
        self.holder = holder
        self.raced = (
            raced  # we saw it free or expired, but another writer won the conditional write
        )


class LeaseLost(Exception):
    """The lease is no longer ours (taken over, broken, or not renewed in time): stop acting."""


class LockTableMissing(Exception):
    pass


def whoami() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def caller_identity(region: str, emulator_url: str | None, *, role_arn: str | None = None) -> str:
    """The STS caller ARN: who holds a lock, who ran a runbook. With the environment's role it
    is the assumed-role ARN, whose session name names the operator (aws.role_session_name)."""

    client = aws.client("sts", region, emulator_url, role_arn=role_arn)
    return str(client.get_caller_identity()["Arn"])


def _to_lock(item: dict[str, Any]) -> Lock:
    def s(key: str) -> str:
        return str(item[key]["S"]) if key in item else ""

    def n(key: str) -> float:
        return float(item[key]["N"]) if key in item else 0.0

    return Lock(
        env=s("env"),
        token=int(n("token")),
        revision=int(n("revision")),
        holder=s("holder"),
        where=s("where"),
        command=s("command"),
        since=s("since"),
        renewed_at=s("renewed_at"),
        expires_at=n("expires_at"),
        lease_seconds=n("lease_seconds"),
        expected_until=s("expected_until"),
    )


class Store:
    """The lock table, for one environment. `clock` is the wall clock (a seam for skew tests)."""

    def __init__(self, dynamodb: Any, table: str, env_name: str, clock: Clock = time.time):
        self.dynamodb, self.table, self.env, self.clock = dynamodb, table, env_name, clock

    @classmethod
    def open(
        cls,
        env_name: str,
        region: str,
        emulator_url: str | None,
        *,
        role_arn: str | None = None,
    ) -> Store:

        store = cls(
            aws.client("dynamodb", region, emulator_url, fenced=False, role_arn=role_arn),
            table_name(env_name),
            env_name,
        )
        if emulator_url:
            store.ensure_table()
        return store

    def ensure_table(self) -> None:
        """On the throwaway emulator the table is made on first use (no bootstrap step)."""
        try:
            self.dynamodb.describe_table(TableName=self.table)
        except self.dynamodb.exceptions.ResourceNotFoundException:
            # Another process may make it first.
            with suppress(self.dynamodb.exceptions.ResourceInUseException):
                self.dynamodb.create_table(
                    TableName=self.table,
                    KeySchema=[{"AttributeName": "env", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "env", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )

    def read(self) -> Lock | None:
        try:
            item = self.dynamodb.get_item(
                TableName=self.table, Key={"env": {"S": self.env}}, ConsistentRead=True
            ).get("Item")
        except self.dynamodb.exceptions.ResourceNotFoundException:
            raise LockTableMissing(
                f"the lock table {self.table} does not exist: create it with "
                f"opsctl bootstrap {self.env}"
            ) from None
        return _to_lock(item) if item else None

    def acquire(
        self,
        command: str,
        holder: str,
        ttl_seconds: float = 3600,
        lease_seconds: float | None = None,
        margin: float | None = None,
        monotonic: Clock = time.monotonic,
    ) -> Lease:
        """Grant the lease or raise LockHeld naming the holder; an expired lease is taken over.
        `ttl_seconds` is how long the run expects to hold it (shown, not enforced: the heartbeat
        keeps the lease while the run lives)."""
        lease_seconds = LEASE_SECONDS if lease_seconds is None else lease_seconds
        margin = SKEW_MARGIN if margin is None else margin
        current = self.read()
        started = monotonic()
        now = self.clock()
        if current is not None and current.held and not current.expired(now, margin):
            raise LockHeld(current)
        token = (current.token if current else 0) + 1
        revision = (current.revision if current else 0) + 1
        item = {
            "env": {"S": self.env},
            "token": {"N": str(token)},
            "revision": {"N": str(revision)},
            "holder": {"S": holder},
            "where": {"S": whoami()},
            "command": {"S": command},
            "since": {"S": _iso(now)},
            "renewed_at": {"S": _iso(now)},
            "expires_at": {"N": repr(now + lease_seconds)},
            "lease_seconds": {"N": repr(lease_seconds)},
            "expected_until": {"S": _iso(now + ttl_seconds)},
        }
        if current is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(env)"}
        else:
            condition = {
                "ConditionExpression": "revision = :seen",
                "ExpressionAttributeValues": {":seen": {"N": str(current.revision)}},
            }
        try:
            self.dynamodb.put_item(TableName=self.table, Item=item, **condition)
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            winner = self.read()
            # The SDK retries a PutItem whose answer was lost; the retry then fails its own
            # condition although the first attempt wrote our grant. Only then is it ours.
            ours = _to_lock(item)
            if winner is None or (winner.token, winner.where, winner.since) != (
                ours.token,
                ours.where,
                ours.since,
            ):
                # Someone else wrote between our read and our write: they won.
                raise LockHeld(winner or ours, raced=True) from None
        return Lease(
            self, token, holder, command, lease_seconds, started + lease_seconds, monotonic
        )

    def renew(self, lease: Lease) -> None:
        """Extend our lease; LeaseLost if the item no longer carries our token."""
        started = lease.monotonic()
        now = self.clock()
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"env": {"S": self.env}},
                UpdateExpression="SET expires_at = :exp, renewed_at = :at, "
                "revision = revision + :one",
                ConditionExpression="#token = :mine AND holder = :holder",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={
                    ":exp": {"N": repr(now + lease.lease_seconds)},
                    ":at": {"S": _iso(now)},
                    ":one": {"N": "1"},
                    ":mine": {"N": str(lease.token)},
                    ":holder": {"S": lease.holder},
                },
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            raise LeaseLost(self._lost_reason(lease)) from None
        lease.renewed(started)

    def release(self, lease: Lease) -> None:
        """Free the lock if it still carries our token; the token stays for the next grant."""
        with suppress(self.dynamodb.exceptions.ConditionalCheckFailedException):
            # Fails when broken or taken over: then it is not ours to free.
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"env": {"S": self.env}},
                UpdateExpression="REMOVE holder, #where, command, since, renewed_at, "
                "expected_until SET expires_at = :zero, revision = revision + :one",
                ConditionExpression="#token = :mine",
                ExpressionAttributeNames={"#token": "token", "#where": "where"},
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":mine": {"N": str(lease.token)},
                },
            )

    def break_lock(self) -> Lock | None:
        """Free the lock whoever holds it (the holder's next fencing check stops it)."""
        holder = self.read()
        if holder is not None and holder.held:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"env": {"S": self.env}},
                UpdateExpression="REMOVE holder SET expires_at = :zero, revision = revision + :one",
                ConditionExpression="revision = :seen",
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":seen": {"N": str(holder.revision)},
                },
            )
        return holder if holder is not None and holder.held else None

    def _lost_reason(self, lease: Lease) -> str:
        current = self.read()
        if current is None or not current.held:
            return f"the lock of {self.env} was broken (our token was {lease.token})"
        if current.token != lease.token:
            return (
                f"the lock of {self.env} was taken over by {current.who} ({current.command}, "
                f"token {current.token}; ours was {lease.token})"
            )
        return f"the lock of {self.env} is no longer ours"


@dataclass
class Lease:
    """One grant of the lock. `check()` before every change; the heartbeat renews it."""

    store: Store
    token: int
    holder: str
    command: str
    lease_seconds: float
    valid_until: float  # on `monotonic`: the holder stops trusting the lease at this point
    monotonic: Clock = time.monotonic
    lost: str | None = None
    renew_error: str | None = None  # the last renewal that failed (and is being retried)
    last_renewal: float = field(default=0.0)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def renewed(self, started: float) -> None:
        self.valid_until = started + self.lease_seconds
        self.last_renewal = started

    def check(self, remote: bool = True) -> None:
        """Raise LeaseLost unless the lease is still ours: locally (heartbeat saw a takeover,
        or no renewal for a whole lease), then (remote) the item still carries our token."""
        if self.lost:
            raise LeaseLost(self.lost)
        if self.monotonic() >= self.valid_until:
            self.lost = (
                f"the lease on {self.store.env} was not renewed within {self.lease_seconds:g}s "
                "(another operator may take it over)"
            )
            raise LeaseLost(self.lost)
        if remote:
            current = self.store.read()
            if current is None or current.token != self.token or current.holder != self.holder:
                self.lost = self.store._lost_reason(self)
                raise LeaseLost(self.lost)

    def fence(self, operation: str) -> None:
        """opsctl/aws.py's hook: checked before every mutating AWS call this process makes."""
        self.check()

    def start_heartbeat(self, interval: float | None = None) -> None:
        every = interval if interval is not None else self.lease_seconds / 4
        self._thread = threading.Thread(
            target=self._beat, args=(every,), name=f"lock-heartbeat-{self.store.env}", daemon=True
        )
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.store.renew(self)
            except LeaseLost as error:
                self.lost = str(error)
                return
            except Exception as error:  # retried next beat; check() enforces the deadline
                self.renew_error = f"{type(error).__name__}: {error}"


def hold(lease: Lease) -> None:
    """Start the heartbeat and fence this process's AWS calls with the lease."""

    lease.start_heartbeat()
    aws.add_fence(lease.fence)


def let_go(lease: Lease) -> None:
    """Stop the heartbeat and the fence, and free the lock if it is still ours."""

    aws.remove_fence(lease.fence)
    lease.stop_heartbeat()
    lease.store.release(lease)


@contextmanager
def held(store: Store, command: str, holder: str, ttl_seconds: float = 3600) -> Iterator[Lease]:
    """Hold the lease for the block: heartbeat on, every mutating AWS call fenced; released on
    success, error and Ctrl-C alike."""
    lease = store.acquire(command, holder, ttl_seconds)
    hold(lease)
    try:
        yield lease
    finally:
        let_go(lease)


@contextmanager
def cli_lock(
    env_name: str,
    region: str,
    emulator_url: str | None,
    command: str,
    ttl_seconds: float = 3600,
    *,
    role_arn: str | None = None,
) -> Iterator[Lease]:
    """`held` for CLI commands: a held lock is exit 3 with the holder named; a lease lost while
    the command runs stops it, also with exit 3."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        store = Store.open(env_name, region, emulator_url, role_arn=role_arn)
        who = caller_identity(region, emulator_url, role_arn=role_arn)
        lease = store.acquire(command, who, ttl_seconds)
    except LockHeld as error:
        raise fail(
            f"{env_name} is locked by {error.holder.describe()}. Wait for it, or if that run "
            f"is dead: opsctl lock break {env_name}",
            Exit.LOCKED,
        ) from None
    except LockTableMissing as error:
        raise fail(str(error)) from None
    except (BotoCoreError, ClientError) as error:
        raise fail(f"cannot take the lock of {env_name}: {error}") from None
    hold(lease)
    try:
        yield lease
    except LeaseLost as error:
        raise fail(
            f"{command} on {env_name} stopped before its next change: {error}", Exit.LOCKED
        ) from None
    finally:
        let_go(lease)


# --- the `opsctl lock` command bodies (opsctl/commands/bluegreen.py registers them) ---------------
def show_status(environment: Any, emulator_url: str | None, json_output: bool) -> None:
    import json

    import typer

    try:
        role = environment.assume_role_arn
        store = Store.open(environment.name, environment.region, emulator_url, role_arn=role)
        current = store.read()
    except LockTableMissing as error:
        raise fail(str(error)) from None
    if json_output:
        typer.echo(json.dumps(current.as_dict() if current else None, indent=2))
        return
    if current is None or not current.held:
        token = f" (last token {current.token})" if current else ""
        console().print(f"{environment.name} is not locked.{token}")
        return
    state = " [yellow](expired: the next command takes it over)[/]" if current.expired() else ""
    console().print(
        f"{environment.name} is locked by {current.who}{state}\n"
        f"  command       {current.command}\n"
        f"  token         {current.token}\n"
        f"  since         {current.since}\n"
        f"  last renewed  {current.renewed_at} (lease {current.lease_seconds:g}s, "
        f"until {_iso(current.expires_at)}; taken over {SKEW_MARGIN:g}s after that)\n"
        f"  expected end  {current.expected_until}",
        soft_wrap=True,
    )


def break_interactively(environment: Any, emulator_url: str | None, yes: bool) -> None:

    try:
        role = environment.assume_role_arn
        store = Store.open(environment.name, environment.region, emulator_url, role_arn=role)
        current = store.read()
    except LockTableMissing as error:
        raise fail(str(error)) from None
    if current is None or not current.held:
        console().print(f"{environment.name} is not locked.")
        return
    console().print(f"{environment.name} is locked by {current.describe()}", soft_wrap=True)
    if not yes:
        confirm(environment, "break the lock of", False)
    store.break_lock()
    console().print(f"[green]Lock of {environment.name} broken.[/]")
