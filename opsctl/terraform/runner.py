"""Running terraform: one environment recipe and thin wrappers for the commands we use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PLUGIN_DIR = Path("/opt/tf-plugins")


class TerraformError(RuntimeError):
    """A terraform command failed; `output` holds what it printed."""

    def __init__(self, args: list[str], returncode: int, output: str) -> None:
        super().__init__(f"terraform {' '.join(args)} failed (exit {returncode})")
        self.returncode = returncode
        self.output = output


def binary() -> str:
    found = shutil.which(os.environ.get("OPSCTL_TERRAFORM", "terraform"))
    if not found:
        raise FileNotFoundError("terraform is not on PATH (install terraform >= 1.11)")
    return found


def plugin_dir() -> Path | None:
    """The offline provider mirror: $OPSCTL_TF_PLUGIN_DIR, else /opt/tf-plugins when present.

    Elsewhere terraform downloads providers as usual, so a missing mirror is not an error.
    """
    configured = os.environ.get("OPSCTL_TF_PLUGIN_DIR")
    if configured:
        return Path(configured)
    return DEFAULT_PLUGIN_DIR if DEFAULT_PLUGIN_DIR.is_dir() else None


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"})
    if env.get("NO_COLOR"):
        env["TF_CLI_ARGS"] = (env.get("TF_CLI_ARGS", "") + " -no-color").strip()
    env.update(extra or {})
    return env


@dataclass
class Terraform:
    """terraform in one working directory."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(
        self, *args: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [binary(), *args],
            cwd=self.workdir,
            env=environment(self.env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise TerraformError(list(args), result.returncode, result.stdout + result.stderr)
        return result

    def stream(self, *args: str, on_line: Callable[[str], None]) -> tuple[int, str]:
        """Run and hand each output line to `on_line` as it arrives; (exit code, all output)."""
        process = subprocess.Popen(
            [binary(), *args],
            cwd=self.workdir,
            env=environment(self.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            on_line(line.rstrip("\n"))
        return process.wait(), "".join(lines)

    def init(self, *extra: str, backend: bool = True) -> str:
        args = ["init", "-no-color", "-input=false"]
        mirror = plugin_dir()
        if mirror is not None:
            args.append(f"-plugin-dir={mirror}")
        if not backend:
            args.append("-backend=false")
        return self.run(*args, *extra).stdout

    def validate(self) -> dict[str, Any]:
        output = self.run("validate", "-json", "-no-color", check=False).stdout
        return json.loads(output)

    def test(self) -> str:
        return self.run("test", "-no-color").stdout

    def fmt_check(self, recursive: bool = True) -> str:
        args = ["fmt", "-check", "-list=true", "-no-color"]
        if recursive:
            args.append("-recursive")
        return self.run(*args).stdout

    def plan(self, out: str = "tfplan", *extra: str) -> int:
        """Plan to a saved file; returns 0 (no changes) or 2 (changes); raises on error."""
        args = ["plan", "-no-color", "-input=false", "-detailed-exitcode", f"-out={out}", *extra]
        result = self.run(*args, check=False)
        if result.returncode not in (0, 2):
            raise TerraformError(args, result.returncode, result.stdout + result.stderr)
        return result.returncode

    def show_json(self, plan_file: str = "tfplan") -> dict[str, Any]:
        return json.loads(self.run("show", "-json", plan_file).stdout)
