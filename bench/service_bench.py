"""`make bench`: the ingestion service against its baselines, in one run on one machine.

1. single-record POSTs (10 KB payload), req/s: the service vs a bare Starlette handler doing the
   same single INSERT (the floor), both 2 uvicorn workers on MariaDB, driven by wrk
   (reference: PHP 8.2-FPM + nginx reached ~4.2k req/s on this machine kind);
2. bulk: records/s stored durably via 1,000-record NDJSON POSTs vs raw asyncmy executemany of
   the same rows (the ceiling; ~76k rows/s on this machine kind);
3. worker: records/s processed on MariaDB by 2 worker processes (target >= 20k/s);
4. /health latency p99 at a constant 1,000 req/s (target < 5 ms).

Starts its own MariaDB (tests/support/mariadb.py) and servers on free loopback ports; stops them all
by PID. Prints a table; `--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from opsctl.local.processes import free_port, stop, wait_for  # noqa: E402
from tests.support.mariadb import MariaDB, tools_present  # noqa: E402

KEY = "bench-write-key-0123456789abcdef"
API_KEYS = orjson.dumps(
    [{"name": "bench", "scope": "write", "sha256": hashlib.sha256(KEY.encode()).hexdigest()}]
).decode()
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "payload": {"type": "string"},
    },
    "required": ["id"],
}
SINGLE = orjson.dumps([{"id": 1, "name": "single", "payload": "x" * 10_000}])
PHP_REFERENCE = 4200.0
CEILING_REFERENCE = 76_000.0


# ---- the floor: a bare Starlette handler doing the same single INSERT ---------------------------


def floor_app() -> Any:
    """`uvicorn --factory service_bench:floor_app`: one INSERT per POST, no checks at all."""
    import asyncmy
    from sqlalchemy.engine import make_url
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    url = make_url(os.environ["BENCH_DATABASE_URL"])
    pool: dict[str, Any] = {}

    async def lifespan(_app: Any) -> Any:
        pool["p"] = await asyncmy.create_pool(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            db=url.database,
            minsize=4,
            maxsize=16,
            autocommit=True,
        )
        yield
        pool["p"].close()
        await pool["p"].wait_closed()

    async def post(request: Request) -> JSONResponse:
        body = await request.body()
        async with pool["p"].acquire() as conn, conn.cursor() as cursor:
            await cursor.execute("INSERT INTO bench_floor (body) VALUES (%s)", (body,))
            job_id = cursor.lastrowid
        return JSONResponse({"job_id": job_id, "records": 1}, status_code=202)

    return Starlette(routes=[Route("/records", post, methods=["POST"])], lifespan=lifespan)


# ---- helpers ----------------------------------------------------------------------------------


def start(
    args: list[str], env: dict[str, str], log: Path, port: int, path: str
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        args,
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{args} exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    wait_for(up, 60, f"{args[:4]} on port {port}")
    return process


def service_env(url: str, **extra: str) -> dict[str, str]:
    return dict(
        os.environ,
        INGEST_DATABASE_URL=url,
        INGEST_API_KEYS=API_KEYS,
        INGEST_ACCESS_LOG="false",
        INGEST_AUTO_MIGRATE="false",
        INGEST_METRICS_INTERVAL_SECONDS="3600",
        AWS_EMF_ENVIRONMENT="Local",
        **extra,
    )


def wrk_post(
    url: str, body: bytes, headers: dict[str, str], seconds: int, connections: int, tmp: Path
) -> float:
    body_file = tmp / "body.json"
    body_file.write_bytes(body)
    header_lines = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    script = tmp / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nlocal f = io.open("{body_file}", "rb")\nwrk.body = f:read("*all")\n'
        f"f:close()\n{header_lines}"
        "local bad = 0\n"
        "response = function(status, headers, body) if status ~= 202 then bad = bad + 1 end end\n"
    )
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    if "Non-2xx" in result.stdout:
        raise RuntimeError(f"non-2xx answers during the run:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    assert match, result.stdout
    return float(match.group(1))


async def bulk_posts(base: str, dataset: str, requests: int, concurrency: int) -> float:
    import httpx

    bodies = [
        b"\n".join(
            orjson.dumps({"id": r * 1000 + n, "name": f"n{n}", "payload": "y" * 100})
            for n in range(1000)
        )
        for r in range(requests)
    ]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/x-ndjson"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            while not queue.empty():
                body = queue.get_nowait()
                response = await http.post(
                    f"/v1/datasets/{dataset}/records", content=body, headers=headers
                )
                assert response.status_code == 202, response.text

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return requests * 1000 / (time.perf_counter() - started)


async def executemany_ceiling(url: str, batches: int) -> float:
    import asyncmy
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncmy.connect(
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        db=u.database,
        autocommit=False,
    )
    rows = [
        (f"k{n}", orjson.dumps({"id": n, "name": f"n{n}", "payload": "y" * 100}))
        for n in range(1000)
    ]
    started = time.perf_counter()
    async with conn.cursor() as cursor:
        for _ in range(batches):
            await cursor.executemany("INSERT INTO bench_ceiling (k, body) VALUES (%s, %s)", rows)
            await conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return batches * 1000 / elapsed


async def constant_rate_latency(port: int, rate: int, seconds: float) -> tuple[float, float, int]:
    """p50/p99 (ms) of GET /health at a constant rate, timed from each request's scheduled start
    (no coordinated omission), over keep-alive connections."""
    request = b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(32):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0

    async def one(scheduled: float) -> None:
        nonlocal errors
        reader, writer = await idle.get()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            errors += 1
        latencies.append(time.perf_counter() - scheduled)
        idle.put_nowait((reader, writer))

    tasks = []
    started = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait()[1].close()
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return p50, p99, errors


# ---- the run ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per HTTP run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()
    if not tools_present() or shutil.which("wrk") is None:
        print("make bench needs mariadb-server and wrk (make setup installs them)")
        return 1
    from service.migrate import migrate
    from service.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="service-bench-"))
    db = MariaDB(tmp / "mariadb")
    processes: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {}
    try:
        db.start()
        url = db.url()
        asyncio.run(migrate(Settings(database_url=url)))
        db.sql(
            "CREATE TABLE ingest.bench_floor (id BIGINT AUTO_INCREMENT PRIMARY KEY, body LONGBLOB);"
            "CREATE TABLE ingest.bench_ceiling (id BIGINT AUTO_INCREMENT PRIMARY KEY,"
            " k VARCHAR(64), body MEDIUMBLOB);"
        )
        print(
            f"MariaDB {db.sql('SELECT VERSION()').strip()} on port {db.port};"
            f" {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )

        # 1. single-record POSTs
        floor_port = free_port()
        floor = start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(REPO / "bench"),
                "service_bench:floor_app",
                "--factory",
                "--workers",
                "2",
                "--port",
                str(floor_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            dict(os.environ, BENCH_DATABASE_URL=url),
            tmp / "floor.log",
            floor_port,
            "/records",
        )
        processes.append(floor)
        port = free_port()
        service = start(
            [sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--port", str(port)],
            service_env(url),
            tmp / "service.log",
            port,
            "/health",
        )
        processes.append(service)
        put = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/datasets/bench",
            method="PUT",
            data=orjson.dumps({"schema": SCHEMA, "key_fields": ["id"]}),
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(put, timeout=10).close()  # noqa: S310
        # Alternate short runs (floor, service, floor, ...) and take medians, so that a change in
        # the machine's load during the run does not favour either side.
        floor_runs, service_runs = [], []
        slice_seconds = max(2, options.seconds // 2)
        for _ in range(3):
            floor_runs.append(
                wrk_post(
                    f"http://127.0.0.1:{floor_port}/records",
                    SINGLE,
                    {"Content-Type": "application/json"},
                    slice_seconds,
                    64,
                    tmp,
                )
            )
            service_runs.append(
                wrk_post(
                    f"http://127.0.0.1:{port}/v1/datasets/bench/records",
                    SINGLE,
                    {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
                    slice_seconds,
                    64,
                    tmp,
                )
            )
        stop(floor)
        floor_rps = statistics.median(floor_runs)
        service_rps = statistics.median(service_runs)
        results["single"] = {
            "service": service_rps,
            "floor": floor_rps,
            "service_runs": service_runs,
            "floor_runs": floor_runs,
            "php_reference": PHP_REFERENCE,
        }
        print(
            f"single POST: service {service_rps:,.0f} req/s, floor {floor_rps:,.0f} req/s",
            flush=True,
        )

        # 2. bulk
        urllib.request.urlopen(  # noqa: S310
            urllib.request.Request(  # noqa: S310
                put.full_url.replace("/bench", "/bench-bulk"),
                method="PUT",
                data=put.data,
                headers=put.headers,
            ),
            timeout=10,
        ).close()
        bulk = asyncio.run(bulk_posts(f"http://127.0.0.1:{port}", "bench-bulk", 100, 8))
        ceiling = asyncio.run(executemany_ceiling(url, 100))
        results["bulk"] = {
            "service": bulk,
            "ceiling": ceiling,
            "ceiling_reference": CEILING_REFERENCE,
        }
        print(
            f"bulk: service {bulk:,.0f} records/s, executemany ceiling {ceiling:,.0f} rows/s",
            flush=True,
        )

        # 4. /health p99 at 1k req/s (same service)
        p50, p99, errors = asyncio.run(constant_rate_latency(port, 1000, options.seconds))
        results["health"] = {"p50_ms": p50, "p99_ms": p99, "errors": errors, "rate": 1000}
        print(
            f"/health at 1000 req/s: p50 {p50:.2f} ms, p99 {p99:.2f} ms, {errors} errors",
            flush=True,
        )
        stop(service)

        # 3. worker: 2 processes drain the 100 bulk jobs (100k records, validated at intake);
        # timed from the first claim to the last completion, as the database recorded them.
        db.sql("UPDATE ingest.jobs SET status = 'succeeded' WHERE dataset = 'bench'")  # phase 1's
        env = service_env(url, INGEST_POLL_SECONDS="0.05")
        for i in range(2):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "service.cli", "worker", "--concurrency", "4"],
                    cwd=REPO,
                    env=env,
                    stdout=(tmp / f"worker{i}.log").open("ab"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

        def drained() -> bool:
            left = db.sql(
                "SELECT COUNT(*) FROM ingest.jobs"
                " WHERE dataset = 'bench-bulk' AND status <> 'succeeded'"
            )
            return int(left.strip()) == 0

        wait_for(drained, 600, "the worker benchmark jobs")
        window, records = db.sql(
            "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(started_at), MAX(finished_at)) / 1e6,"
            " SUM(processed)"
            " FROM ingest.jobs WHERE dataset = 'bench-bulk'"
        ).split()
        worker_rate = float(records) / float(window)
        results["worker"] = {
            "records_per_second": worker_rate,
            "workers": 2,
            "records": int(records),
        }
        print(
            f"worker: {worker_rate:,.0f} records/s with 2 workers ({records} records)", flush=True
        )
    finally:
        for process in processes:
            stop(process)
        db.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    s, b, w, h = results["single"], results["bulk"], results["worker"], results["health"]
    rows = [
        (
            "single 10 KB POST, req/s",
            f"{s['service']:,.0f}",
            f"floor (bare Starlette + 1 INSERT) {s['floor']:,.0f}; PHP-FPM ~{PHP_REFERENCE:,.0f}",
            f"{s['service'] / s['floor']:.2f} x floor, {s['service'] / PHP_REFERENCE:.2f} x PHP",
            "> PHP reference",
        ),
        (
            "bulk 1,000-record NDJSON POSTs, records/s",
            f"{b['service']:,.0f}",
            f"asyncmy executemany {b['ceiling']:,.0f} (reference ~{CEILING_REFERENCE:,.0f})",
            f"{b['service'] / b['ceiling']:.2f} x ceiling",
            ">= 0.5",
        ),
        (
            "worker, 2 processes on MariaDB, records/s",
            f"{w['records_per_second']:,.0f}",
            "target 20,000",
            f"{w['records_per_second'] / 20_000:.2f} x target",
            ">= 20,000",
        ),
        (
            "/health at 1,000 req/s, p99 ms",
            f"{h['p99_ms']:.2f} (p50 {h['p50_ms']:.2f})",
            "target 5 ms",
            f"{h['p99_ms'] / 5:.2f} x target",
            "< 5 ms",
        ),
    ]
    print()
    print("| figure | service | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if options.json:
        options.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
