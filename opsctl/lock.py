"""One lock per environment in SSM Parameter Store: who holds it, for which command, since, until.

Taking it is a conditional create (PutParameter without Overwrite fails when the parameter exists),
so two operators cannot both win. A lock past its `until` is expired and may be taken over; `lock
break` deletes it. apply, destroy, bluegreen, release (and later migrate and runbook remediation)
all take the same lock.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opsctl import aws
from opsctl.exitcodes import Exit
from opsctl.ui import fail


def parameter_name(env_name: str) -> str:
    return f"/opsctl/{env_name}/lock"


@dataclass(frozen=True)
class Lock:
    id: str
    who: str
    command: str
    since: str
    until: str

    @property
    def expired(self) -> bool:
        return datetime.fromisoformat(self.until) <= datetime.now(UTC)

    def describe(self) -> str:
        return f"{self.who} ({self.command}) since {self.since}, until {self.until}"


class LockHeld(Exception):
    def __init__(self, holder: Lock) -> None:
        super().__init__(f"the lock is held by {holder.describe()}")
        self.holder = holder


def whoami() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def read(ssm: Any, env_name: str) -> Lock | None:
    try:
        raw = ssm.get_parameter(Name=parameter_name(env_name))["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return Lock(**json.loads(raw))


def acquire(ssm: Any, env_name: str, command: str, ttl_seconds: float) -> Lock:
    """Take the lock or raise LockHeld naming the holder; an expired lock is taken over."""
    now = _now()
    lock = Lock(
        id=uuid.uuid4().hex,
        who=whoami(),
        command=command,
        since=now.isoformat(),
        until=(now + timedelta(seconds=ttl_seconds)).isoformat(),
    )
    for _ in range(2):
        try:
            ssm.put_parameter(
                Name=parameter_name(env_name),
                Value=json.dumps(asdict(lock)),
                Type="String",
                Overwrite=False,
                Description=f"opsctl environment lock of {env_name}",
            )
            return lock
        except ssm.exceptions.ParameterAlreadyExists:
            holder = read(ssm, env_name)
            if holder is None:
                continue  # released between our two calls: try once more
            if not holder.expired:
                raise LockHeld(holder) from None
            _delete_if(ssm, env_name, holder.id)
    holder = read(ssm, env_name)
    raise LockHeld(holder or lock)


def release(ssm: Any, env_name: str, lock: Lock) -> None:
    """Delete the lock if it is still ours (someone may have broken and retaken it)."""
    _delete_if(ssm, env_name, lock.id)


def break_lock(ssm: Any, env_name: str) -> Lock | None:
    holder = read(ssm, env_name)
    if holder is not None:
        with suppress(ssm.exceptions.ParameterNotFound):
            ssm.delete_parameter(Name=parameter_name(env_name))
    return holder


def _delete_if(ssm: Any, env_name: str, lock_id: str) -> None:
    current = read(ssm, env_name)
    if current is not None and current.id == lock_id:
        with suppress(ssm.exceptions.ParameterNotFound):
            ssm.delete_parameter(Name=parameter_name(env_name))


@contextmanager
def held(ssm: Any, env_name: str, command: str, ttl_seconds: float = 3600) -> Iterator[Lock]:
    """Hold the lock for the block; it is released on success, error and Ctrl-C alike."""
    lock = acquire(ssm, env_name, command, ttl_seconds)
    try:
        yield lock
    finally:
        release(ssm, env_name, lock)


@contextmanager
def cli_lock(
    env_name: str, region: str, emulator_url: str | None, command: str, ttl_seconds: float = 3600
) -> Iterator[Lock]:
    """`held` for CLI commands: a held lock becomes exit 3 with the holder named."""

    ssm = aws.client("ssm", region, emulator_url)
    try:
        lock = acquire(ssm, env_name, command, ttl_seconds)
    except LockHeld as error:
        raise fail(
            f"{env_name} is locked by {error.holder.describe()}. Wait for it, or if that run "
            f"is dead: opsctl lock break {env_name}",
            Exit.LOCKED,
        ) from None
    try:
        yield lock
    finally:
        release(ssm, env_name, lock)
