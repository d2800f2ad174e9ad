"""Instances as real processes: each InService instance of either Auto Scaling group runs the
service as the AMI's systemd units do (packer/files/systemd: `ingest-service serve` and
`ingest-service worker`), from the code of the AMI it booted from (EC2's ImageId).

- An AMI made by `opsctl local ami` names its wheel in the tag `ingest:local-wheel`; the wheel
  is unpacked once under WORKDIR/amis/AMI/ and put first on PYTHONPATH, with this venv's
  interpreter (the AMI's dependencies are the project's, already installed here). Any other AMI
  (the env file's placeholder the stack is applied with) runs the checkout's code.
- Each instance's web process listens on a loopback port of its own (instance id -> port).
- When an instance leaves its group (scale-in, termination), its processes keep running until
  its targets have drained (targets.py), then get SIGTERM (uvicorn finishes in-flight
  requests; the worker stops claiming and releases its leases) and SIGKILL after the units'
  TimeoutStopSec. A process that dies is not restarted (systemd would restart it after
  RestartSec; on AWS the ELB health check makes the group replace the instance).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from opsctl.local.dataplane.emulator import Instance, Snapshot
from opsctl.local.processes import free_port
from opsctl.paths import REPO

WHEEL_TAG = "ingest:local-wheel"
STOP_TIMEOUT = {"web": 30.0, "worker": 90.0}  # TimeoutStopSec of ingest-web / ingest-worker


@dataclass
class Process:
    role: str  # web | worker
    popen: subprocess.Popen[bytes]
    kill_at: float | None = None

    @property
    def exit_code(self) -> int | None:
        return self.popen.poll()


@dataclass
class Running:
    instance: Instance
    port: int
    code: str  # the wheel, or "checkout"
    directory: Path
    processes: list[Process] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    stopping: bool = False

    def process(self, role: str) -> Process | None:
        return next((p for p in self.processes if p.role == role), None)

    @property
    def exited(self) -> bool:
        return all(p.exit_code is not None for p in self.processes)


class Supervisor:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir, self.env = workdir, env
        self.running: dict[str, Running] = {}
        self.gone: list[Running] = []  # stopped, kept for the status view (last 20)

    def port_of(self, instance: str) -> int | None:
        found = self.running.get(instance)
        if found is None or found.stopping:
            return None
        web = found.process("web")
        return found.port if web is not None and web.exit_code is None else None

    def sync(self, snapshot: Snapshot, still_targeted: set[str]) -> None:
        for instance in snapshot.instances.values():
            if instance.id not in self.running:
                self.start(instance, snapshot.image_tags.get(instance.image_id, {}))
        now = time.monotonic()
        for instance_id, running in list(self.running.items()):
            left = instance_id not in snapshot.instances
            if left and not running.stopping and instance_id not in still_targeted:
                self._terminate(running, now)
            if running.stopping:
                for process in running.processes:
                    if process.exit_code is None and process.kill_at and now >= process.kill_at:
                        _signal(process.popen, signal.SIGKILL)
                if running.exited:
                    del self.running[instance_id]
                    self.gone = [*self.gone, running][-20:]

    def code_for(self, ami: str, tags: dict[str, str]) -> tuple[str, Path | None]:
        wheel = tags.get(WHEEL_TAG)
        if not wheel:
            return "checkout", None
        target = self.workdir / "amis" / ami
        if not (target / ".unpacked").exists():
            target.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(target)
            (target / ".unpacked").write_text(wheel)
        return wheel, target

    def start(self, instance: Instance, tags: dict[str, str]) -> Running:
        directory = self.workdir / "instances" / instance.id
        directory.mkdir(parents=True, exist_ok=True)
        try:
            code, path = self.code_for(instance.image_id, tags)
        except (OSError, zipfile.BadZipFile) as error:
            (directory / "boot.log").write_text(f"cannot unpack the AMI's wheel: {error}\n")
            code, path = f"broken: {error}", None
            running = Running(instance, 0, code, directory)
            self.running[instance.id] = running
            return running
        env = dict(self.env)
        env["PYTHONPATH"] = str(path or REPO)
        port = free_port()
        running = Running(instance, port, code, directory)
        commands = {
            "web": ["serve", "--host", "127.0.0.1", "--port", str(port)],
            "worker": ["worker"],
        }
        for role, args in commands.items():
            with (directory / f"{role}.log").open("ab") as log:
                popen = subprocess.Popen(
                    [sys.executable, "-m", "service.cli", *args],
                    cwd=directory,  # not the checkout: `-m` puts the cwd first on sys.path
                    env=env | {"INGEST_INSTANCE_ID": instance.id},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            running.processes.append(Process(role, popen))
        self.running[instance.id] = running
        return running

    def _terminate(self, running: Running, now: float) -> None:
        running.stopping = True
        for process in running.processes:
            if process.exit_code is None:
                _signal(process.popen, signal.SIGTERM)
                process.kill_at = now + STOP_TIMEOUT[process.role]

    def stop_all(self, timeout: float = 15.0) -> None:
        now = time.monotonic()
        for running in self.running.values():
            self._terminate(running, now)
        deadline = now + timeout
        for running in self.running.values():
            for process in running.processes:
                try:
                    process.popen.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _signal(process.popen, signal.SIGKILL)
                    process.popen.wait()
        self.running.clear()


def _signal(popen: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)
