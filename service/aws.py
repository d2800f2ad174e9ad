"""The one AWS client factory: honours the emulator endpoint (INGEST_AWS_ENDPOINT_URL or
AWS_ENDPOINT_URL) and the configured region."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from service.settings import Settings, get_settings

_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=30
)


def endpoint_url(settings: Settings) -> str | None:
    return settings.aws_endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None


def region(settings: Settings) -> str:
    return (
        settings.aws_region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "eu-west-1"
    )


@lru_cache(maxsize=16)
def _client(service: str, endpoint: str | None, region_name: str) -> Any:
    session: Any = boto3.session.Session()
    return session.client(service, endpoint_url=endpoint, region_name=region_name, config=_CONFIG)


def client(service: str, settings: Settings | None = None) -> Any:
    """A (cached, thread-safe) boto3 client for `service`."""
    settings = settings or get_settings()
    return _client(service, endpoint_url(settings), region(settings))
