"""Running checkov and reading its JSON report. checkov has its own virtualenv (.venv-checkov):
it ships bc-python-hcl2, which would shadow python-hcl2 in the main one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from opsctl.paths import REPO

CHECKOV_ARGS = ["--framework", "terraform", "--skip-download", "--compact", "--output", "json"]


def binary() -> str | None:
    for candidate in (
        os.environ.get("OPSCTL_CHECKOV"),
        str(REPO / ".venv-checkov" / "bin" / "checkov"),
        shutil.which("checkov"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Finding:
    check_id: str
    resource: str
    file: str  # relative to the scanned directory, e.g. "/network/main.tf"
    name: str
    reason: str = ""  # the suppress comment of a skipped check


@dataclass(frozen=True)
class Report:
    passed: int
    failed: list[Finding]
    skipped: list[Finding]
    passed_by_dir: dict[str, int]  # first folder under the scanned directory -> passed checks


def scan(directory: Path) -> Report:
    """checkov on one directory (recursively), offline (--skip-download)."""
    checkov = binary()
    if checkov is None:
        raise FileNotFoundError("checkov is not installed (make setup puts it in .venv-checkov)")
    result = subprocess.run(
        [checkov, "-d", str(directory), *CHECKOV_ARGS],
        capture_output=True,
        text=True,
    )
    # checkov exits 1 when a check fails; anything else without JSON is a crash.
    try:
        data = json.loads(result.stdout) if result.stdout.strip() else {}
    except json.JSONDecodeError as error:
        raise RuntimeError(f"checkov failed: {result.stderr[-2000:]}") from error
    if isinstance(data, list):  # several frameworks answer as a list
        data = next((d for d in data if d.get("check_type") == "terraform"), {})
    if not data:
        return Report(passed=0, failed=[], skipped=[], passed_by_dir={})  # nothing to scan

    def findings(kind: str) -> list[Finding]:
        return [
            Finding(
                c["check_id"],
                c["resource"],
                c["file_path"],
                c["check_name"],
                (c.get("check_result") or {}).get("suppress_comment", ""),
            )
            for c in data["results"].get(kind, [])
        ]

    passed_by_dir: dict[str, int] = {}
    for check in data["results"].get("passed_checks", []):
        folder = check["file_path"].strip("/").split("/")[0]
        passed_by_dir[folder] = passed_by_dir.get(folder, 0) + 1
    return Report(
        passed=int(data["summary"]["passed"]),
        failed=findings("failed_checks"),
        skipped=findings("skipped_checks"),
        passed_by_dir=passed_by_dir,
    )
