"""opsctl start-up and render cost: CPU seconds of whole commands, against bare Python.

Run by `make bench`; prints a markdown table for docs/benchmarks.md. Ratios are against
`python -c pass` measured in the same run, so the figures compare across machines.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = 15


def cpu_seconds(command: list[str], env: dict[str, str]) -> float:
    """Median user+sys CPU of a child command over RUNS runs."""
    samples = []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, env=env, cwd=REPO, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as build:
        env = dict(os.environ, OPSCTL_BUILD_DIR=build, NO_COLOR="1")
        python = [sys.executable]
        baseline = cpu_seconds([*python, "-c", "pass"], env)
        rows = [
            ("python -c pass (baseline)", baseline),
            ("opsctl --help", cpu_seconds([*python, "-m", "opsctl", "--help"], env)),
            (
                "opsctl render prod (up to date)",
                cpu_seconds([*python, "-m", "opsctl", "render", "prod"], env),
            ),
            ("opsctl envs", cpu_seconds([*python, "-m", "opsctl", "envs"], env)),
        ]
    print(f"| command | CPU s (median of {RUNS}) | x baseline |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| `{name}` | {seconds:.3f} | {seconds / baseline:.1f} |")


if __name__ == "__main__":
    main()
