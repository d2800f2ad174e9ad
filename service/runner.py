"""The worker, wired: its sources (API batches, S3 objects) and feeds (the SQS poller), and
`ingest-service worker` (run until SIGTERM/SIGINT)."""

from __future__ import annotations

import asyncio
import signal

from sqlalchemy.ext.asyncio import AsyncEngine

from service import db, metrics
from service.settings import Settings
from service.sources import Feed, api_batches
from service.triggers import s3_objects, sqs_feed
from service.worker import Worker


def make_worker(
    engine: AsyncEngine,
    settings: Settings,
    *,
    concurrency: int | None = None,
    wake: asyncio.Event | None = None,
) -> Worker:
    feeds: list[Feed] = [sqs_feed(engine, settings)] if settings.sqs_queue_url else []
    return Worker(
        engine,
        settings,
        concurrency=concurrency,
        wake=wake,
        sources={"api": api_batches(engine, settings), "s3": s3_objects(settings)},
        feeds=feeds,
    )


async def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    """`ingest-service worker`: until SIGTERM/SIGINT."""
    metrics.ensure_emf_environment(settings.emf_environment)
    engine = db.create_engine(settings)
    worker = make_worker(engine, settings, concurrency=concurrency)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    try:
        await worker.run()
    finally:
        await engine.dispose()
