"""`make ami` (packer/build.sh) with a stand-in packer: the wheel is built from HEAD, packer gets
the right variables, and stdout is exactly the AMI id `opsctl bluegreen deploy --ami` takes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.amitools import PACKER_DIR
from tests.support.paths import REPO

pytestmark = pytest.mark.slow

STAND_IN = r"""#!/bin/bash
set -euo pipefail
echo "$*" >>"$CALLS"
case "$1" in
  version) echo "Packer v${FAKE_VERSION}" ;;
  init) ;;
  build)
    manifest=""
    for arg in "$@"; do
      case "$arg" in manifest_path=*) manifest="${arg#manifest_path=}" ;; esac
    done
    cat >"$manifest" <<JSON
{"builds": [
  {"name": "al2023", "packer_run_uuid": "old", "artifact_id": "eu-west-1:ami-0000000000000000a"},
  {"name": "al2023", "packer_run_uuid": "new", "artifact_id": "eu-west-1:ami-0123456789abcdef0"}
], "last_run_uuid": "new"}
JSON
    echo "==> Builds finished."
    ;;
esac
"""


def _run(tmp_path: Path, version: str) -> subprocess.CompletedProcess[str]:
    packer = tmp_path / "packer"
    packer.write_text(STAND_IN)
    packer.chmod(0o755)
    env = {
        **os.environ,
        "PACKER": str(packer),
        "PYTHON": sys.executable,
        "FAKE_VERSION": version,
        "CALLS": str(tmp_path / "calls"),
        "AMI_DIST": str(tmp_path / "dist"),
        "AMI_MANIFEST": str(tmp_path / "manifest.json"),
        "AMI_ARCH": "arm64",
        "AWS_REGION": "eu-central-1",
    }
    return subprocess.run(
        [str(PACKER_DIR / "build.sh")], env=env, capture_output=True, text=True, timeout=300
    )


def test_make_ami_prints_the_ami_id(tmp_path: Path) -> None:
    result = _run(tmp_path, "1.11.2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ami-0123456789abcdef0\n"  # the last run's artifact, nothing else
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0] == "version"
    assert calls[1] == f"init {PACKER_DIR}"
    build = calls[2]
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (wheel,) = (tmp_path / "dist").glob("ingest_platform-*.whl")
    for var in (
        "architecture=arm64",
        "region=eu-central-1",
        f"git_sha={head}",
        f"wheel={wheel}",
        f"app_version={wheel.name.split('-')[1]}",
    ):
        assert f"-var {var} " in build
    assert build.endswith(str(PACKER_DIR))


def test_make_ami_refuses_the_debian_packer(tmp_path: Path) -> None:
    result = _run(tmp_path, "1.6.6")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "packer 1.6.6 is too old" in result.stderr
    assert (tmp_path / "calls").read_text() == "version\n"
