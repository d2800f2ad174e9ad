"""`make bench`: the ingestion service against its baselines, in one run on one machine.

1. single-record POSTs (10 KB payload), req/s and CPU per request, driven by wrk: the service
   (started with the ingest-web unit's own command), without and with an Idempotency-Key, vs a
   bare Starlette handler doing one autocommit INSERT (the floor, 2 uvicorn workers); then
   through nginx with the AMI's own site config vs PHP-FPM + nginx from Debian doing the same
   durable insert (bench/php/ingest.php; bench/frontends.py renders the configs);
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
import contextlib
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import frontends  # noqa: E402
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
ROUNDS = 3  # of the single-POST runs (more grow the tables enough to slow the later figures)
SINGLE = orjson.dumps([{"id": 1, "name": "single", "payload": "x" * 10_000}])
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
    url: str,
    body: bytes,
    headers: dict[str, str],
    seconds: int,
    connections: int,
    tmp: Path,
    keyed: str | None = None,
) -> tuple[float, int]:
    """(req/s, requests) of `wrk -t2` POSTing `body`; every answer must be 202. With `keyed`, each
    request carries its own Idempotency-Key (prefix `keyed`), so each one stores a new job."""
    body_file = tmp / "body.json"
    body_file.write_bytes(body)
    header_lines = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    key_line = f'wrk.headers["Idempotency-Key"] = "{keyed}-" .. tid .. "-" .. n\n' if keyed else ""
    script = tmp / "post.lua"
    # Every run builds each request in Lua (the keyed runs must), so wrk costs the same in all.
    script.write_text(
        f'wrk.method = "POST"\nlocal f = io.open("{body_file}", "rb")\nwrk.body = f:read("*all")\n'
        f"f:close()\n{header_lines}"
        "local threads = {}\nlocal started = 0\n"
        "function setup(thread) started = started + 1; thread:set('tid', started);"
        " table.insert(threads, thread) end\n"
        "n = 0\nbad = 0\n"
        f"function request() n = n + 1\n{key_line}return wrk.format() end\n"
        "function response(status, headers, body) if status ~= 202 then bad = bad + 1 end end\n"
        "function done(summary, latency, requests) local total = 0\n"
        "for _, thread in ipairs(threads) do total = total + thread:get('bad') end\n"
        "print('answers other than 202: ' .. total) end\n"
    )
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    if "Non-2xx" in result.stdout or "answers other than 202: 0" not in result.stdout:
        raise RuntimeError(f"answers other than 202 during the run:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    count = re.search(r"(\d+) requests in", result.stdout)
    if match is None or count is None:
        raise RuntimeError(f"no figures in wrk's output:\n{result.stdout}")
    return float(match.group(1)), int(count.group(1))


@contextlib.contextmanager
def profiled(name: str, parent: int, folder: Path, seconds: int) -> Iterator[None]:
    """`py-spy record` of the first uvicorn worker of `parent` while the block runs."""
    folder.mkdir(parents=True, exist_ok=True)
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    worker = max(int(pid) for pid in children)  # the last spawned: a worker, not the tracker
    output = folder / f"{name.replace(' ', '-')}.txt"
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(worker),
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield
    spy.wait(timeout=seconds + 30)
    print(f"  profile of {name}: {output}", flush=True)


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
    parser.add_argument(
        "--profile",
        type=Path,
        help="also profile one uvicorn worker of the service and of the floor with py-spy"
        " (pip install py-spy) during an extra run each; collapsed stacks go to this folder",
    )
    options = parser.parse_args()
    if not tools_present() or shutil.which("wrk") is None:
        print("make bench needs mariadb-server and wrk (make setup installs them)")
        return 1
    if frontends.tools_missing():
        print(f"make bench needs {', '.join(frontends.tools_missing())}")
        return 1
    from sqlalchemy.engine import make_url

    from service.migrate import migrate
    from service.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="service-bench-"))
    db = MariaDB(tmp / "mariadb")
    processes: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {}
    try:
        db.start()
        url = db.url()
        db_url = make_url(url)
        asyncio.run(migrate(Settings(database_url=url)))
        db.sql(
            "CREATE TABLE ingest.bench_floor (id BIGINT AUTO_INCREMENT PRIMARY KEY, body LONGBLOB);"
            "CREATE TABLE ingest.bench_php (id BIGINT AUTO_INCREMENT PRIMARY KEY, body LONGBLOB);"
            "CREATE TABLE ingest.bench_ceiling (id BIGINT AUTO_INCREMENT PRIMARY KEY,"
            " k VARCHAR(64), body MEDIUMBLOB);"
        )
        print(
            f"MariaDB {db.sql('SELECT VERSION()').strip()} on port {db.port};"
            f" {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )

        # 1. single-record POSTs: the floor, the service (started as the unit starts it) directly
        # and through nginx with the AMI's site config, and PHP-FPM + nginx.
        env_base = dict(os.environ, BENCH_DATABASE_URL=url)
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
            env_base,
            tmp / "floor.log",
            floor_port,
            "/records",
        )
        processes.append(floor)
        port = free_port()
        service = start(
            frontends.unit_serve_command(port),
            service_env(url),
            tmp / "service.log",
            port,
            "/health",
        )
        processes.append(service)
        nginx_port, php_port = free_port(), free_port()
        for name, site in (
            ("ingest", frontends.ingest_site(nginx_port, port, tmp)),
            ("php", frontends.php_site(php_port, tmp / "php-fpm.sock", tmp)),
        ):
            (tmp / f"{name}-site.conf").write_text(site)
            (tmp / f"{name}-nginx.conf").write_text(
                frontends.nginx_main(tmp / f"{name}-site.conf", tmp / name)
            )
            (tmp / name).mkdir()
        (tmp / "php-fpm.conf").write_text(
            frontends.php_fpm_config(
                tmp / "php-fpm.sock",
                tmp,
                f"mysql:host=127.0.0.1;port={db.port};dbname=ingest",
                str(db_url.username),
                str(db_url.password),
            )
        )
        fpm = subprocess.Popen(
            frontends.php_fpm_command(tmp / "php-fpm.conf"),
            stdout=(tmp / "php-fpm.out").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(fpm)
        wait_for(lambda: (tmp / "php-fpm.sock").exists(), 30, "php-fpm's socket")
        nginx = {}
        for name, listen, path in (("ingest", nginx_port, "/health"), ("php", php_port, "/")):
            nginx[name] = start(
                ["nginx", "-p", str(tmp / name), "-c", str(tmp / f"{name}-nginx.conf")],
                env_base,
                tmp / f"{name}-nginx.out",
                listen,
                path,
            )
            processes.append(nginx[name])
        put = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/datasets/bench",
            method="PUT",
            data=orjson.dumps({"schema": SCHEMA, "key_fields": ["id"]}),
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(put, timeout=10).close()  # noqa: S310
        auth = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
        plain = {"Content-Type": "application/json"}
        records = "/v1/datasets/bench/records"
        mariadbd = [int(db.pid_file.read_text().strip())]
        # name: (URL, headers, keyed, the processes doing the work besides MariaDB)
        configs: dict[str, tuple[str, dict[str, str], bool, list[int]]] = {
            "floor": (f"http://127.0.0.1:{floor_port}/records", plain, False, [floor.pid]),
            "service": (f"http://127.0.0.1:{port}{records}", auth, False, [service.pid]),
            "service keyed": (f"http://127.0.0.1:{port}{records}", auth, True, [service.pid]),
            "php via nginx": (
                f"http://127.0.0.1:{php_port}/records",
                plain,
                False,
                [fpm.pid, nginx["php"].pid],
            ),
            "service via nginx": (
                f"http://127.0.0.1:{nginx_port}{records}",
                auth,
                False,
                [service.pid, nginx["ingest"].pid],
            ),
            "service keyed via nginx": (
                f"http://127.0.0.1:{nginx_port}{records}",
                auth,
                True,
                [service.pid, nginx["ingest"].pid],
            ),
        }
        # Alternate short runs of every configuration and take medians, so that a change in the
        # machine's load during the run favours none of them. Each round starts one place later
        # in the list: a run leaves MariaDB background work (page flushing, purge) to whichever
        # run follows it, and a fixed order would always hand it to the same one.
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
        slice_seconds = max(2, options.seconds // 2)
        names = list(configs)
        for round_number in range(ROUNDS):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                target, headers, keyed, roots = configs[name]
                app_before, db_before = (
                    frontends.cpu_seconds(roots),
                    frontends.cpu_seconds(mariadbd),
                )
                load = os.getloadavg()[0]
                rps, count = wrk_post(
                    target,
                    SINGLE,
                    headers,
                    slice_seconds,
                    64,
                    tmp,
                    # a key prefix of its own per run: every request must store a new job
                    keyed=f"{name.replace(' ', '-')}-{round_number}" if keyed else None,
                )
                runs[name].append(
                    {
                        "rps": rps,
                        "load": load,
                        "app_cpu_ms": (frontends.cpu_seconds(roots) - app_before) * 1000 / count,
                        "db_cpu_ms": (frontends.cpu_seconds(mariadbd) - db_before) * 1000 / count,
                    }
                )
                print(f"  {name}: {rps:,.0f} req/s (load {load:.1f})", flush=True)
        if options.profile:
            for name in ("floor", "service", "service keyed"):
                target, headers, keyed, roots = configs[name]
                with profiled(name, roots[0], options.profile, slice_seconds * 2):
                    wrk_post(
                        target,
                        SINGLE,
                        headers,
                        slice_seconds * 2,
                        64,
                        tmp,
                        keyed=f"profile-{name.replace(' ', '-')}" if keyed else None,
                    )
        for process in (floor, fpm, nginx["php"], nginx["ingest"]):
            stop(process)
        single = {
            name: {
                "rps": statistics.median(run["rps"] for run in these),
                "app_cpu_ms": statistics.median(run["app_cpu_ms"] for run in these),
                "db_cpu_ms": statistics.median(run["db_cpu_ms"] for run in these),
                "runs": these,
            }
            for name, these in runs.items()
        }
        results["single"] = single
        print(
            "single POST: "
            + ", ".join(f"{name} {figures['rps']:,.0f}" for name, figures in single.items()),
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

    def fig(name: str) -> str:
        return f"{s[name]['rps']:,.0f}"

    def ratio(name: str, baseline: str) -> str:
        return f"{s[name]['rps'] / s[baseline]['rps']:.2f} x"

    rows = [
        (
            "single 10 KB POST, req/s",
            fig("service"),
            f"floor {fig('floor')}",
            ratio("service", "floor"),
            ">= 1.3 x floor",
        ),
        (
            "same, each with a new Idempotency-Key",
            fig("service keyed"),
            f"floor {fig('floor')}",
            ratio("service keyed", "floor"),
            ">= 1.0 x floor",
        ),
        (
            "through nginx (AMI site), req/s",
            fig("service via nginx"),
            f"PHP-FPM + nginx {fig('php via nginx')}",
            ratio("service via nginx", "php via nginx"),
            ">= 1.2 x PHP",
        ),
        (
            "through nginx, keyed",
            fig("service keyed via nginx"),
            f"PHP-FPM + nginx {fig('php via nginx')}",
            ratio("service keyed via nginx", "php via nginx"),
            "-",
        ),
        (
            "direct over through nginx",
            fig("service"),
            f"via nginx {fig('service via nginx')}",
            ratio("service", "service via nginx"),
            "-",
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
    print(
        "| single POST | req/s (runs) | load at each run | CPU ms/request: app (+nginx) | MariaDB |"
    )
    print("|---|---|---|---|---|")
    for name, figures in s.items():
        print(
            f"| {name} | {figures['rps']:,.0f} ("
            + ", ".join(f"{run['rps']:,.0f}" for run in figures["runs"])
            + ") | "
            + ", ".join(f"{run['load']:.1f}" for run in figures["runs"])
            + f" | {figures['app_cpu_ms']:.3f} | {figures['db_cpu_ms']:.3f} |"
        )
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
