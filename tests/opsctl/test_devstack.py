"""`make run`'s local stack: it serves /health, a file copied into its ingest bucket with awscli
becomes a succeeded job, and Ctrl-C leaves none of its processes behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from opsctl.aws import DUMMY_CREDENTIALS
from opsctl.local import ingest_path
from opsctl.local.processes import free_port, wait_for
from tests.support.paths import REPO
from tests.support.procfs import alive
from tests.support.service import API_KEYS, READ, register, unique
from tests.support.tools import require

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


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    service: str
    emulator: str


@contextmanager
def devstack(tmp_path: Path) -> Iterator[Stack]:
    """`make run` (opsctl.local.devstack) as a subprocess on free ports, its output in a file."""
    service_port, emulator_port = free_port(), free_port()
    env = dict(
        os.environ,
        INGEST_PORT=str(service_port),
        OPSCTL_EMULATOR_PORT=str(emulator_port),
        INGEST_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/ingest.db",
        INGEST_API_KEYS=API_KEYS,
    )
    # A file, not a pipe nobody reads: the service's access log would fill a pipe and block it.
    with (tmp_path / "devstack.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "opsctl.local.devstack"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: healthy(service_port), 240, "GET /health via the local stack")
            yield Stack(
                process, f"http://127.0.0.1:{service_port}", f"http://127.0.0.1:{emulator_port}"
            )
        finally:
            if process.poll() is None:
                process.kill()


def interrupt_and_check(stack: Stack) -> None:
    """Ctrl-C (SIGINT to devstack alone) stops every process it started."""
    started = children_of(stack.process.pid)
    assert len(started) >= 2, "expected the emulator and the service as children"
    stack.process.send_signal(signal.SIGINT)  # what Ctrl-C delivers
    assert stack.process.wait(30) == 0
    wait_for(lambda: not any(alive(pid) for pid in started), 10, "children to exit")
    assert not healthy(int(stack.service.rsplit(":", 1)[1]))


def test_local_stack_serves_health_and_stops_cleanly(tmp_path: Path) -> None:
    with devstack(tmp_path) as stack:
        interrupt_and_check(stack)


def final_job(api: httpx.Client, dataset: str, source_ref: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def done() -> bool:
        jobs = api.get("/v1/jobs", params={"dataset": dataset}, headers=READ).json()["items"]
        for job in jobs:
            if job["source_ref"] == source_ref and job["status"] in ("succeeded", "failed", "dead"):
                found.update(job)
                return True
        return False

    wait_for(done, 120, f"a finished job for {source_ref}")
    return found


def test_a_file_copied_into_the_bucket_with_awscli_becomes_a_succeeded_job(
    tmp_path: Path,
) -> None:
    aws_cli = Path(sys.executable).with_name("aws")
    require(aws_cli.exists(), "awscli (in the dev extras)")
    lines = [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}, {"id": 3, "name": "three"}]
    upload = tmp_path / "x.ndjson"
    upload.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    with devstack(tmp_path) as stack, httpx.Client(base_url=stack.service, timeout=10) as api:
        dataset = unique()
        register(api, dataset)
        target = f"s3://{ingest_path.BUCKET}/{dataset}/x.ndjson"
        # The CLI as a newcomer runs it: dummy credentials, no profile of the machine's user.
        cli_env = dict(
            os.environ,
            **DUMMY_CREDENTIALS,
            AWS_DEFAULT_REGION="eu-west-1",
            AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        )
        cli_env.pop("AWS_ENDPOINT_URL", None)
        copied = subprocess.run(
            [str(aws_cli), "s3", "cp", str(upload), target, "--endpoint-url", stack.emulator],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert copied.returncode == 0, copied.stderr

        job = final_job(api, dataset, target)
        assert (job["status"], job["source"], job["records"], job["processed"]) == (
            "succeeded",
            "s3",
            3,
            3,
        ), job
        items = api.get(f"/v1/datasets/{dataset}/records", headers=READ).json()["items"]
        assert [(item["key"], item["data"]) for item in items] == [
            (str(line["id"]), line) for line in lines
        ]
        interrupt_and_check(stack)
