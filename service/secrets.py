"""Secrets Manager reads through a cache; `invalidate` forces a re-read (the Aurora master
password rotates: an authentication failure invalidates, the next connection re-reads)."""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson

from service.aws import client
from service.settings import Settings

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def get_json(arn: str, settings: Settings) -> dict[str, Any]:
    """The secret's current value (stage AWSCURRENT, asked for explicitly) parsed as JSON."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(arn)
        if cached and now - cached[0] < settings.secret_cache_seconds:
            return cached[1]
    response = client("secretsmanager", settings).get_secret_value(
        SecretId=arn, VersionStage="AWSCURRENT"
    )
    value = orjson.loads(response["SecretString"])
    if not isinstance(value, dict):
        raise ValueError(f"secret {arn} is not a JSON object")
    with _lock:
        _cache[arn] = (now, value)
    return value


def invalidate(arn: str | None = None) -> None:
    with _lock:
        if arn is None:
            _cache.clear()
        else:
            _cache.pop(arn, None)
