"""`make run`'s local stack: it serves /health, and Ctrl-C leaves none of its processes behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from opsctl.local.processes import free_port, wait_for
from tests.support.paths import REPO

pytestmark = pytest.mark.slow


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_local_stack_serves_health_and_stops_cleanly(tmp_path: Path) -> None:
    service_port, emulator_port = free_port(), free_port()
    env = dict(
        os.environ,
        INGEST_PORT=str(service_port),
        OPSCTL_EMULATOR_PORT=str(emulator_port),
        INGEST_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/ingest.db",
    )
    stack = subprocess.Popen(
        [sys.executable, "-m", "opsctl.local.devstack"], cwd=REPO, env=env, stdout=subprocess.PIPE
    )
    try:
        wait_for(lambda: healthy(service_port), 60, "GET /health via the local stack")
        started = children_of(stack.pid)
        assert len(started) >= 2, "expected the emulator and the service as children"
        stack.send_signal(signal.SIGINT)  # what Ctrl-C delivers
        assert stack.wait(30) == 0
        wait_for(lambda: not any(alive(pid) for pid in started), 10, "children to exit")
        assert not healthy(service_port)
    finally:
        if stack.poll() is None:
            stack.kill()
