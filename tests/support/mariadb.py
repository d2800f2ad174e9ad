"""A throwaway MariaDB server for tests: own datadir, loopback port, no systemd, stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from opsctl.local.processes import free_port, port_open, wait_for

DATABASE = "ingest"
USER = "ingest"
PASSWORD = "ingest-test-password"


def tools_present() -> bool:
    return all(shutil.which(tool) for tool in ("mariadbd", "mariadb-install-db", "mariadb"))


@dataclass
class MariaDB:
    """`start()` initialises the datadir on first use; `stop()` / `start()` again keep the data."""

    base: Path
    port: int = field(default_factory=free_port)
    password: str = PASSWORD
    options: list[str] = field(default_factory=list)  # extra mariadbd options (replication)

    @property
    def socket(self) -> Path:
        return self.base / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        return self.base / "mysqld.pid"

    def url(self, driver: str = "mysql+asyncmy") -> str:
        return f"{driver}://{USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self, timeout: float = 60) -> MariaDB:
        datadir = self.base / "data"
        fresh = not datadir.exists()
        if fresh:
            datadir.mkdir(parents=True)
            subprocess.run(
                [
                    "mariadb-install-db",
                    "--no-defaults",
                    "--user=root",
                    f"--datadir={datadir}",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                ],
                check=True,
                capture_output=True,
            )
        self._process = subprocess.Popen(
            [
                "mariadbd",
                "--no-defaults",
                "--user=root",
                f"--datadir={datadir}",
                "--bind-address=127.0.0.1",
                f"--port={self.port}",
                f"--socket={self.socket}",
                f"--pid-file={self.pid_file}",
                f"--log-error={self.base / 'error.log'}",
                "--skip-name-resolve",
                "--max-connections=500",
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._ready, timeout, f"MariaDB on port {self.port}")
        if fresh:
            self.sql(
                f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4;"
                f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{self.password}';"
                f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'%';"
            )
        return self

    def _ready(self) -> bool:
        if self._process.poll() is not None:
            log = (self.base / "error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"mariadbd exited with {self._process.returncode}:\n{log}")
        return self.pid_file.exists() and port_open(self.port)

    def sql(self, statements: str, column_names: bool = False) -> str:
        """Run SQL as root over the socket (root uses socket authentication)."""
        result = subprocess.run(
            [
                "mariadb",
                "--no-defaults",
                f"--socket={self.socket}",
                "-uroot",
                *([] if column_names else ["-N"]),
                "-e",
                statements,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def set_password(self, password: str) -> None:
        self.sql(f"ALTER USER '{USER}'@'%' IDENTIFIED BY '{password}'")
        self.password = password

    def kill(self) -> None:
        """SIGKILL: the server dies as a crashed instance does, nothing flushed or closed."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        if not self.pid_file.exists() or self._process.poll() is not None:
            return
        pid = int(self.pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while self._process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._process.poll() is None:
            os.kill(pid, signal.SIGKILL)
            self._process.wait()
