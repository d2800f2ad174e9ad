"""Run the real `opsctl` CLI in a subprocess, with its env files and build folder redirected."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO


@dataclass
class Opsctl:
    envs_dir: Path
    build_dir: Path
    emulator_url: str | None = None

    def __call__(
        self,
        *args: str,
        timeout: float = 1200,
        stdin: str | None = None,
        env_extra: dict[str, str] | None = None,
    ) -> Result:
        env = dict(
            os.environ,
            OPSCTL_ENVS_DIR=str(self.envs_dir),
            OPSCTL_BUILD_DIR=str(self.build_dir),
            NO_COLOR="1",
            COLUMNS="200",
        ) | (env_extra or {})
        env.pop("OPSCTL_ENV", None)
        if self.emulator_url:
            env["OPSCTL_EMULATOR_URL"] = self.emulator_url
        else:
            env.pop("OPSCTL_EMULATOR_URL", None)
        completed = subprocess.run(
            [sys.executable, "-m", "opsctl", *args],
            cwd=REPO,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr
