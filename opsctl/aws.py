"""The one place opsctl makes boto3 clients: real AWS, or the emulator with dummy credentials."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from opsctl.config import Environment

# What the emulator accepts; never real credentials (botocore needs some to sign requests).
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def emulator_from(flag: str | None, env: Environment) -> str | None:
    """--emulator, else $OPSCTL_EMULATOR_URL, else the env file's emulator_url (local)."""
    return flag or os.environ.get("OPSCTL_EMULATOR_URL") or env.emulator_url


Fence = Callable[[str], None]
_fences: list[Fence] = []

# Calls that change nothing. Every other call is a change, checked against the held lease first.
READ_PREFIXES = (
    "Describe",
    "Get",
    "List",
    "BatchGet",
    "Query",
    "Scan",
    "Filter",
    "Head",
    "Lookup",
    "Search",
    "Select",
)


def add_fence(fence: Fence) -> None:
    """Call `fence(operation)` before every mutating call of every client (opsctl/lock.py's
    lease check): a run whose lease was taken over raises before it changes anything."""
    _fences.append(fence)


def remove_fence(fence: Fence) -> None:
    if fence in _fences:
        _fences.remove(fence)


def _check_fences(model: Any, **_: Any) -> None:
    if _fences and not model.name.startswith(READ_PREFIXES):
        for fence in list(_fences):
            fence(model.name)


def client(service: str, region: str, emulator_url: str | None = None, fenced: bool = True) -> Any:
    """A boto3 client; `fenced=False` only for the lock's own table (it must renew and release)."""
    made = _make(service, region, emulator_url)
    if fenced:
        made.meta.events.register("before-call", _check_fences)
    return made


def _make(service: str, region: str, emulator_url: str | None) -> Any:
    import boto3
    from botocore.config import Config

    # The stubs type each service name as a literal; callers pass any service.
    factory = cast(Any, boto3).client
    config = Config(retries={"max_attempts": 2 if emulator_url else 5, "mode": "standard"})
    if emulator_url is None:
        return factory(service, region_name=region, config=config)
    return factory(
        service,
        region_name=region,
        endpoint_url=emulator_url,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
        config=config,
    )
