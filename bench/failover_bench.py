"""What a writability check in pre-ping would cost, to choose how the pool avoids a read-only
server (issue: Aurora failover). Per checkout from a warm pool of one MariaDB connection:

- `ping`: SQLAlchemy's pre-ping (`pool_pre_ping=True`: asyncmy's COM_PING), what the service uses;
- `ping+read_only`: pre-ping plus `SELECT @@global.read_only, @@global.innodb_read_only` on
  every checkout, the alternative;
- `none`: no pre-ping (the floor).

Prints microseconds per checkout (median of 5 runs of N checkouts each). Starts its own MariaDB
(tests/support/mariadb.py) on a free loopback port and stops it by PID.

    .venv/bin/python bench/failover_bench.py [--checkouts 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.mariadb import MariaDB, tools_present

CHECK = "SELECT @@global.read_only, @@global.innodb_read_only"


async def per_checkout(url: str, mode: str, checkouts: int) -> float:
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=mode != "none")
    if mode == "ping+read_only":

        @event.listens_for(engine.sync_engine, "checkout")
        def _writable(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(CHECK)
            cursor.fetchall()
            cursor.close()

    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(checkouts):
                async with engine.connect() as conn:
                    await conn.get_raw_connection()
            runs.append((time.perf_counter() - started) / checkouts * 1e6)
        return statistics.median(runs)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkouts", type=int, default=5000)
    args = parser.parse_args()
    if not tools_present():
        raise SystemExit("needs mariadb-server (make setup installs it)")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        server = MariaDB(Path(tmp)).start()
        try:
            for mode in ("none", "ping", "ping+read_only"):
                cost = asyncio.run(per_checkout(server.url(), mode, args.checkouts))
                print(f"{mode:>15}: {cost:7.1f} µs per checkout")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
