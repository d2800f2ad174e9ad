"""The service's one settings object, read from INGEST_* environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_")

    env: str = "local"
    database_url: str = "sqlite+aiosqlite:///./var/ingest.db"
