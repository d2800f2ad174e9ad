"""What one API process keeps while it runs: engine, key store, group writer, caches."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from service.auth import KeyStore
from service.records import Dataset
from service.settings import Settings
from service.writer import GroupWriter


@dataclass
class State:
    settings: Settings
    engine: AsyncEngine
    keys: KeyStore
    writer: GroupWriter
    datasets: dict[str, tuple[float, Dataset]] = field(default_factory=dict)
    dataset_reads: dict[str, asyncio.Future[Dataset]] = field(default_factory=dict)
    wake: asyncio.Event | None = None
    health: tuple[float, str | None] | None = None  # (when, failure reason or None)
    health_probe: asyncio.Future[str | None] | None = None

    def wake_worker(self) -> None:
        if self.wake is not None:
            self.wake.set()
