"""The one place opsctl makes boto3 clients: real AWS, or the emulator with dummy credentials."""

from __future__ import annotations

import os
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


def client(service: str, region: str, emulator_url: str | None = None) -> Any:
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
