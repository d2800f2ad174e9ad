"""The local AWS emulator (moto server): started by `make run` and by the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from opsctl.processes import free_port, stop, wait_for

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any key; never a real one
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class MotoServer:
    """moto server on 127.0.0.1; `endpoint` is what boto3 and terraform point at."""

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> MotoServer:
        env = dict(os.environ, **DUMMY_CREDENTIALS)
        # Attaching AWS-managed policies (SSM core, Config role, RDS monitoring) 404s without this.
        env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.ready, timeout, f"moto server on {self.endpoint}")
        return self

    def ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"moto server exited with {self.process.returncode}")
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):  # noqa: S310
                return True
        except OSError:
            return False

    def reset(self) -> None:
        """Forget every resource (a clean account)."""
        url = f"{self.endpoint}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
