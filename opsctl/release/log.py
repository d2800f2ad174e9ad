"""`opsctl release`: plan check -> expand migrations -> blue/green deploy -> contract migrations.

Each step is appended to build/<env>/release.jsonl as it starts and ends, so `release status`
shows progress and `release resume` continues after a crash from the first step not finished.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsctl import render

STEPS = ("plan", "expand-migrations", "deploy", "contract-migrations")
FINISHED = ("done", "skipped")
# Without --database-url the migrations run through SSM, which moto cannot execute.
MIGRATIONS_ON_EMULATOR = (
    "the emulator cannot run commands on instances (SSM Run Command), so `opsctl migrate up"
    " --phase {phase}` is skipped here (pass --database-url to run it); against AWS it runs on a"
    " live-colour instance"
)


def log_path(env_name: str) -> Path:
    return render.build_dir(env_name) / "release.jsonl"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Release:
    id: str
    env: str
    ami: str
    options: dict[str, Any]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> last entry
    entries: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def new(cls, env: str, ami: str, options: dict[str, Any]) -> Release:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        release = cls(id=f"{stamp}-{uuid.uuid4().hex[:6]}", env=env, ami=ami, options=options)
        release.log("release", "started", ami=ami, options=options)
        return release

    def log(self, step: str, status: str, **detail: Any) -> None:
        entry = {"release": self.id, "at": _now(), "step": step, "status": status, **detail}
        path = log_path(self.env)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
            out.flush()
        self._add(entry)

    def _add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        self.steps[entry["step"]] = entry

    def status_of(self, step: str) -> str:
        return self.steps.get(step, {}).get("status", "pending")

    @property
    def outcome(self) -> str:
        """running | done | rolled_back | failed | aborted | interrupted."""
        status = self.steps.get("release", {}).get("status", "started")
        return "running" if status == "started" else status

    @property
    def finished(self) -> bool:
        return self.outcome in ("done", "rolled_back")

    def next_step(self) -> str | None:
        return next((s for s in STEPS if self.status_of(s) not in FINISHED), None)


def latest(env_name: str) -> Release | None:
    path = log_path(env_name)
    if not path.exists():
        return None
    release: Release | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if entry.get("step") == "release" and entry.get("status") == "started":
            release = Release(entry["release"], env_name, entry["ami"], entry.get("options", {}))
        if release is not None and entry.get("release") == release.id:
            release._add(entry)
    return release
