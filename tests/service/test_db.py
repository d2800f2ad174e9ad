"""service/db.py's engine stores bytes exactly, whichever way they reach the driver: on MySQL
they are sent as hex literals (db._bytes_as_hex_literals), one row or many (the group commit
inserts batches with executemany)."""

from __future__ import annotations

import asyncio
import os
import uuid

from sqlalchemy import insert, select

from service import db
from service.settings import Settings
from service.tables import raw_batches

EVERY_BYTE = bytes(range(256)) * 20  # NUL, quotes, backslash, \x1a and everything above 127
LARGE = os.urandom(db.HEX_LITERAL_MAX + 1)  # sent in asyncmy's own escaped form


def test_bodies_round_trip_byte_for_byte(database_url: str) -> None:
    bodies = [EVERY_BYTE, b"", os.urandom(5000), b"'\\\"\x00", LARGE, EVERY_BYTE[::-1]]

    async def run() -> list[bytes]:
        engine = db.create_engine(Settings(database_url=database_url))
        ids = [uuid.uuid4().hex for _ in bodies]
        rows = [
            {
                "job_id": job_id,
                "content_type": "application/octet-stream",
                "body": body,
                "encoding": None,
                "created_at": db.utcnow(),
            }
            for job_id, body in zip(ids, bodies, strict=True)
        ]
        try:
            async with engine.begin() as conn:
                await conn.execute(insert(raw_batches), rows[:1])  # a single row
                await conn.execute(insert(raw_batches), rows[1:])  # executemany
            async with engine.connect() as conn:
                found = {
                    row.job_id: row.body
                    for row in await conn.execute(
                        select(raw_batches.c.job_id, raw_batches.c.body).where(
                            raw_batches.c.job_id.in_(ids)
                        )
                    )
                }
            return [found[job_id] for job_id in ids]
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == bodies
