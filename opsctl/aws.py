"""The one place opsctl makes boto3 sessions and clients: real AWS or the emulator (dummy
credentials), as the operator or as the environment's `assume_role_arn`."""

from __future__ import annotations

import getpass
import os
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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


def client(
    service: str,
    region: str,
    emulator_url: str | None = None,
    fenced: bool = True,
    *,
    role_arn: str | None = None,
) -> Any:
    """A boto3 client from `session(region, emulator_url, role_arn)`; `fenced=False` only for
    the lock's own table (it must renew and release). Pass the environment's
    `assume_role_arn` as `role_arn` (tests/opsctl/test_aws_session.py checks every caller)."""
    from botocore.config import Config

    config = Config(retries={"max_attempts": 2 if emulator_url else 5, "mode": "standard"})
    made = session(region, emulator_url, role_arn).client(
        service, endpoint_url=emulator_url, config=config
    )
    if fenced:
        made.meta.events.register("before-call", _check_fences)
    return made


def role_session_name() -> str:
    """The RoleSessionName of opsctl's sessions: `opsctl-<operator>`, so that CloudTrail, the
    lock holder (the assumed-role ARN ends with it) and runbook logs name who acted. STS allows
    2-64 characters of [A-Za-z0-9_+=,.@-]."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return ("opsctl-" + re.sub(r"[^\w+=,.@-]", "-", user, flags=re.ASCII))[:64]


_sessions: dict[tuple[str, str | None, str | None], Any] = {}
_sessions_lock = threading.Lock()


class _SessionProxy:
    """A boto3 Session whose `client()` is serialised: boto3 sessions are not thread-safe
    (the lock's heartbeat thread and the command share them); the clients they make are."""

    def __init__(self, made: Any) -> None:
        self.boto3 = made

    def client(self, service: str, **kwargs: Any) -> Any:
        with _sessions_lock:
            return self.boto3.client(service, **kwargs)

    def get_credentials(self) -> Any:
        return self.boto3.get_credentials()


def session(region: str, emulator_url: str | None = None, role_arn: str | None = None) -> Any:
    """The one boto3 session factory: every AWS call opsctl makes starts here (issue 16,
    finding 6). One session per (region, emulator, role) and process.

    - Source credentials: the operator's own (boto3's usual chain: environment, profile, SSO,
      instance role), or the emulator's dummy keys when `emulator_url` is set.
    - With `role_arn` (the env file's `assume_role_arn`): STS AssumeRole into it with those
      credentials, as `role_session_name()`. The credentials are botocore's refreshable kind
      (AssumeRoleCredentialFetcher + DeferredRefreshableCredentials, what botocore itself uses
      for `role_arn` profiles): assumed on the first call, assumed again 15 minutes before they
      expire, so a long release or bake never signs with expired credentials.
    """
    key = (region, emulator_url, role_arn)
    with _sessions_lock:
        found = _sessions.get(key)
        if found is None:
            source = _source_session(region, emulator_url)
            made = _assumed_session(source, region, emulator_url, role_arn) if role_arn else source
            found = _sessions[key] = _SessionProxy(made)
        return found


def forget_sessions() -> None:
    """Drop the cached sessions (tests: after the emulator was reset, its keys are gone)."""
    with _sessions_lock:
        _sessions.clear()


def _source_session(region: str, emulator_url: str | None) -> Any:
    import boto3

    if emulator_url is None:
        return boto3.session.Session(region_name=region)
    return boto3.session.Session(
        region_name=region,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def _assumed_session(source: Any, region: str, emulator_url: str | None, role_arn: str) -> Any:
    import boto3
    import botocore.session
    from botocore.config import Config
    from botocore.credentials import (
        AssumeRoleCredentialFetcher,
        CredentialProvider,
        DeferredRefreshableCredentials,
    )
    from botocore.exceptions import NoCredentialsError

    source_credentials = source.get_credentials()
    if source_credentials is None:
        raise NoCredentialsError()
    config = Config(retries={"max_attempts": 2 if emulator_url else 5, "mode": "standard"})

    def sts(service: str, **kwargs: Any) -> Any:
        # The regional STS endpoint of the environment's region (or the emulator).
        return source.client(
            service, region_name=region, endpoint_url=emulator_url, config=config, **kwargs
        )

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=sts,
        source_credentials=source_credentials,
        role_arn=role_arn,
        extra_args={"RoleSessionName": role_session_name()},
    )
    assumed = DeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method="assume-role"
    )

    class Assumed(CredentialProvider):
        METHOD = "opsctl-assume-role"

        def load(self) -> Any:
            return assumed

    core = botocore.session.Session()
    # First in the chain, so nothing in the environment (AWS_ACCESS_KEY_ID...) wins over it.
    core.get_component("credential_provider").insert_before("env", Assumed())
    return boto3.session.Session(botocore_session=core, region_name=region)
