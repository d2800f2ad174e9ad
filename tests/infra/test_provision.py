"""provision.sh for real into a temporary INSTALL_ROOT: the wheel installs into the venv, the
files land with their modes, and the units' ExecStart lines run the service."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from opsctl.local.processes import free_port, stop, wait_for
from tests.support.amitools import PROVISION, UNITS, parse_unit
from tests.support.paths import REPO

pytestmark = pytest.mark.slow

EXPECTED_MODES = {
    "etc/systemd/system/ingest-web.service": 0o644,
    "etc/systemd/system/ingest-worker.service": 0o644,
    "etc/systemd/system/ingest-migrate.service": 0o644,
    "etc/nginx/nginx.conf": 0o644,
    "etc/nginx/conf.d/ingest.conf": 0o644,
    "etc/logrotate.d/ingest": 0o644,
    "etc/ssh/sshd_config.d/01-ingest-hardening.conf": 0o600,
    "etc/dnf/automatic.conf": 0o644,
    "etc/dnf/vars/releasever": 0o644,
    "opt/ingest/BUILD": 0o644,
    "etc/ingest": 0o750,
    "var/lib/ingest": 0o750,
    "var/log/ingest": 0o750,
}


@dataclass
class Installed:
    root: Path
    wheel: Path
    first_run: subprocess.CompletedProcess[str]

    @property
    def venv(self) -> Path:
        return self.root / "opt/ingest/venv"


def _provision(root: Path, wheel: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "INSTALL_ROOT": str(root),
        "INGEST_WHEEL": str(wheel),
        "INGEST_PYTHON": sys.executable,  # the test venv's Python: 3.11+ like the AMI's
        "INGEST_VERSION": "0.1.0",
        "INGEST_GIT_SHA": "0123abc",
    }
    return subprocess.run(
        ["bash", str(PROVISION)], env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    # The wheel, built from a copy of the sources so setuptools leaves nothing in build/.
    source = tmp_path_factory.mktemp("source")
    for name in ("service", "opsctl"):
        shutil.copytree(
            REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("ingest_platform-*.whl")
    root = tmp_path_factory.mktemp("root")
    result = _provision(root, wheel)
    assert result.returncode == 0, result.stdout + result.stderr
    return Installed(root, wheel, result)


def test_files_land_with_their_modes(installed: Installed) -> None:
    for relative, mode in EXPECTED_MODES.items():
        path = installed.root / relative
        assert path.exists(), relative
        assert path.stat().st_mode & 0o7777 == mode, f"{relative}: {oct(path.stat().st_mode)}"
    for unit in UNITS.glob("*.service"):
        installed_unit = installed.root / "etc/systemd/system" / unit.name
        assert installed_unit.read_bytes() == unit.read_bytes()
    build = (installed.root / "opt/ingest/BUILD").read_text()
    assert "version=0.1.0\ngit_sha=0123abc\n" in build
    # Nothing outside the install root: no packages, users or host configuration touched.
    assert "packages" not in installed.first_run.stderr
    assert "system user" not in installed.first_run.stderr


def test_web_and_worker_are_enabled_migrate_is_not(installed: Installed) -> None:
    wants = installed.root / "etc/systemd/system/multi-user.target.wants"
    assert sorted(p.name for p in wants.iterdir()) == [
        "ingest-web.service",
        "ingest-worker.service",
    ]
    for link in wants.iterdir():
        assert os.readlink(link) == f"/etc/systemd/system/{link.name}"


def test_the_wheel_is_installed_in_the_venv(installed: Installed) -> None:
    script = installed.venv / "bin/ingest-service"
    assert os.access(script, os.X_OK)
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for command in ("serve", "worker", "migrate"):
        assert command in result.stdout
    freeze = subprocess.run(
        [str(installed.venv / "bin/python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "ingest-platform==0.1.0" in freeze
    assert "uvicorn==" in freeze


def test_a_second_run_converges(installed: Installed) -> None:
    def digest() -> dict[str, str]:
        return {
            str(path.relative_to(installed.root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(installed.root.rglob("*"))
            if path.is_file() and installed.venv not in path.parents
        }

    before = digest()
    result = _provision(installed.root, installed.wheel)
    assert result.returncode == 0, result.stdout + result.stderr
    assert digest() == before


def test_provision_refuses_an_old_python(tmp_path: Path, installed: Installed) -> None:
    old = tmp_path / "python3"
    # Answers the version probe like Python 3.9 would, and fails the 3.11 check.
    old.write_text('#!/bin/sh\ncase "$2" in *exit*) exit 1 ;; *) echo 3.9 ;; esac\n')
    old.chmod(0o755)
    env = {
        **os.environ,
        "INSTALL_ROOT": str(tmp_path / "root"),
        "INGEST_WHEEL": str(installed.wheel),
        "INGEST_PYTHON": str(old),
    }
    result = subprocess.run(["bash", str(PROVISION)], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "needs Python 3.11 or newer" in result.stderr


# --------------------------------------------------------------------------------------------
# The units' ExecStart lines, run from the install root (paths and port moved, nothing else).
# --------------------------------------------------------------------------------------------
def _exec_start(installed: Installed, unit: str, port: int | None = None) -> list[str]:
    (line,) = parse_unit(UNITS / unit)["Service"]["ExecStart"]
    line = line.replace("/opt/ingest/venv", str(installed.venv))
    if port is not None:
        assert "--port 8080" in line
        line = line.replace("--port 8080", f"--port {port}")
    return shlex.split(line)


@pytest.fixture
def service_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INGEST_", "AWS_"))}
    return env | {
        "INGEST_ENV": "local",
        "INGEST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ingest.db",
        "INGEST_EMF_ENVIRONMENT": "Local",
        "AWS_EMF_ENVIRONMENT": "Local",
        "INGEST_SHUTDOWN_GRACE_SECONDS": "2",
    }


@pytest.fixture
def migrated(installed: Installed, service_env: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        _exec_start(installed, "ingest-migrate.service"),
        env=service_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_web_unit_execstart_answers_health(
    installed: Installed, service_env: dict[str, str], migrated: None, tmp_path: Path
) -> None:
    port = free_port()
    log = (tmp_path / "web.log").open("wb")
    process = subprocess.Popen(
        _exec_start(installed, "ingest-web.service", port),
        env=service_env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def healthy() -> bool:
            assert process.poll() is None, (tmp_path / "web.log").read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, 60, "ingest-web /health")
        response = httpx.get(f"http://127.0.0.1:{port}/health")
        assert response.json() == {"status": "ok"}
        assert "server" not in response.headers
    finally:
        stop(process, timeout=30)
        log.close()
    assert process.returncode == 0


def test_worker_unit_execstart_stops_on_sigterm(
    installed: Installed, service_env: dict[str, str], migrated: None, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _exec_start(installed, "ingest-worker.service"),
            env=service_env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(lambda: log_path.stat().st_size > 0, 60, "the worker's first log line")
            assert process.poll() is None, log_path.read_text()
            process.send_signal(signal.SIGTERM)
            timeout = int(
                parse_unit(UNITS / "ingest-worker.service")["Service"]["TimeoutStopSec"][0]
            )
            assert process.wait(timeout) == 0, log_path.read_text()
        finally:
            stop(process)
