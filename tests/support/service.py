"""The service under test: API keys, fast settings, the test schema, helpers for the HTTP API and
real `ingest-service` subprocesses stopped by PID."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from opsctl.local.processes import free_port, stop, wait_for
from tests.support.paths import REPO

WRITE_KEY = "test-write-key-0123456789"
READ_KEY = "test-read-key-0123456789"
API_KEYS = orjson.dumps(
    [
        {
            "name": "tests-write",
            "scope": "write",
            "sha256": hashlib.sha256(WRITE_KEY.encode()).hexdigest(),
        },
        {
            "name": "tests-read",
            "scope": "read",
            "sha256": hashlib.sha256(READ_KEY.encode()).hexdigest(),
        },
    ]
).decode()
WRITE = {"Authorization": f"Bearer {WRITE_KEY}"}
READ = {"X-API-Key": READ_KEY}

# Fast timings for tests: short leases, quick polling, no periodic EMF output.
FAST = {
    "poll_seconds": 0.05,
    "lease_seconds": 5.0,
    "heartbeat_seconds": 1.0,
    "reaper_seconds": 0.5,
    "metrics_interval_seconds": 3600.0,
    "retry_base_seconds": 0.05,
    "retry_max_seconds": 0.2,
    "access_log": False,
    "api_keys": API_KEYS,
    "auto_migrate": False,
}


def env_for(settings: dict[str, Any]) -> dict[str, str]:
    """INGEST_* variables for a subprocess."""
    env = dict(os.environ)
    for name, value in settings.items():
        if value is None:
            continue
        env[f"INGEST_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


def unique(prefix: str = "ds") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string", "maxLength": 100},
        "amount": {"type": "number"},
    },
    "required": ["id"],
    "additionalProperties": False,
}


def register(client: Any, name: str, schema: dict[str, Any] | None = None) -> None:
    response = client.put(
        f"/v1/datasets/{name}",
        json={"schema": schema or SCHEMA, "key_fields": ["id"]},
        headers=WRITE,
    )
    assert response.status_code in (200, 201), response.text


def wait_job(
    client: Any,
    job_id: str,
    timeout: float = 30,
    done: tuple[str, ...] = ("succeeded", "failed", "dead"),
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def finished() -> bool:
        response = client.get(f"/v1/jobs/{job_id}", headers=READ)
        if response.status_code != 200:
            return False
        found.update(response.json())
        return found["status"] in done

    wait_for(finished, timeout, f"job {job_id}")
    return found


# ---- real processes -------------------------------------------------------------------------


@dataclass
class Proc:
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", *self.args],
            cwd=REPO,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self, timeout: float = 30) -> None:
        if self.process is not None:
            stop(self.process, timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Processes:
    """Starts `ingest-service` subprocesses; stops every one (by PID) at teardown."""

    tmp: Path
    started: list[Proc] = field(default_factory=list)

    def serve(self, settings: dict[str, Any], *extra: str) -> tuple[Proc, str]:
        port = free_port()
        proc = Proc(
            ["serve", "--port", str(port), *extra],
            env_for(settings),
            self.tmp / f"serve-{port}.log",
        ).start()
        self.started.append(proc)
        base = f"http://127.0.0.1:{port}"

        def live() -> bool:
            assert proc.process is not None
            if proc.process.poll() is not None:
                raise RuntimeError(f"the service exited:\n{proc.output()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/health/live", timeout=1) as response:  # noqa: S310
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_for(live, 30, f"the service on {base}")
        return proc, base

    def worker(self, settings: dict[str, Any], concurrency: int = 4) -> Proc:
        name = f"worker-{len(self.started)}-{time.monotonic_ns()}.log"
        proc = Proc(
            ["worker", "--concurrency", str(concurrency)], env_for(settings), self.tmp / name
        )
        self.started.append(proc.start())
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop()


def http(base: str, timeout: float = 10) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=timeout)
