"""API keys: generated once, stored hashed (sha256), compared in constant time.

Keys come from three places, merged: the `api_keys` table (`ingest-service api-key create`),
INGEST_API_KEYS (local), and a Secrets Manager secret (INGEST_API_KEYS_SECRET_ARN, on AWS)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets as stdlib_secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service import secrets
from service.db import utcnow
from service.settings import Settings
from service.tables import api_keys

log = logging.getLogger("service.auth")
SCOPES = ("read", "write")
KEY_PREFIX = "ik_"


@dataclass(frozen=True)
class ApiKey:
    name: str
    scope: str
    key_hash: str

    def allows(self, needed: str) -> bool:
        return self.scope == "write" or needed == "read"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + stdlib_secrets.token_urlsafe(32)


async def create_key(engine: AsyncEngine, name: str, scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    key = new_key()
    async with engine.begin() as conn:
        await conn.execute(
            insert(api_keys).values(
                name=name, scope=scope, key_hash=hash_key(key), created_at=utcnow()
            )
        )
    return key


def _parse_configured(raw: Any, source: str) -> list[ApiKey]:
    keys = []
    items = raw.get("keys", []) if isinstance(raw, dict) else raw
    for item in items if isinstance(items, list) else []:
        if (
            isinstance(item, dict)
            and item.get("scope") in SCOPES
            and isinstance(item.get("sha256"), str)
        ):
            keys.append(ApiKey(str(item.get("name", "")), item["scope"], item["sha256"].lower()))
        else:
            log.warning("ignoring a malformed API key entry in %s", source)
    return keys


class KeyStore:
    """The known keys, cached; reloaded when a presented key is unknown (at most every
    `min_reload` seconds) so a key created a moment ago works at once."""

    def __init__(self, engine: AsyncEngine, settings: Settings, min_reload: float = 1.0) -> None:
        self.engine = engine
        self.settings = settings
        self.min_reload = min_reload
        self.keys: list[ApiKey] = []
        self.loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        keys: list[ApiKey] = []
        if self.settings.api_keys:
            keys += _parse_configured(orjson.loads(self.settings.api_keys), "INGEST_API_KEYS")
        if self.settings.api_keys_secret_arn:
            raw = await asyncio.to_thread(
                secrets.get_json, self.settings.api_keys_secret_arn, self.settings
            )
            keys += _parse_configured(raw, "the API keys secret")
        async with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn = await conn.execution_options(sqlite_begin="DEFERRED")
            rows = await conn.execute(
                select(api_keys.c.name, api_keys.c.scope, api_keys.c.key_hash).where(
                    api_keys.c.revoked_at.is_(None)
                )
            )
            keys += [ApiKey(row.name, row.scope, row.key_hash) for row in rows]
        self.keys = keys
        self.loaded_at = time.monotonic()

    def _match(self, presented_hash: str) -> ApiKey | None:
        found = None
        for key in self.keys:  # no early exit: the time taken does not depend on which matched
            if hmac.compare_digest(key.key_hash, presented_hash):
                found = key
        return found

    async def authenticate(self, presented: str) -> ApiKey | None:
        presented_hash = hash_key(presented)
        found = self._match(presented_hash)
        if found is None and time.monotonic() - self.loaded_at >= self.min_reload:
            async with self._lock:
                if time.monotonic() - self.loaded_at >= self.min_reload:
                    await self.load()
            found = self._match(presented_hash)
        return found
