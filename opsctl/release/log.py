"""The release log: each step of `opsctl release` as it starts and ends.

Appended to build/<env>/release.jsonl, and (SharedLog) copied to the environment's state bucket
after every entry, `s3://<bucket>/opsctl/<env>/releases/<id>.jsonl` plus a `LATEST` pointer, so
`release status` and `release resume` work from another operator's machine. Only the holder of
the environment lock writes it (and the lock's fence checks every write).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsctl.terraform import render

STEPS = ("plan", "expand-migrations", "deploy", "contract-migrations")
FINISHED = ("done", "skipped")
# Without --database-url the migrations run through SSM, which moto cannot execute.
MIGRATIONS_ON_EMULATOR = (
    "the emulator cannot run commands on instances (SSM Run Command), so `opsctl migrate up"
    " --phase {phase}` is skipped here (pass --database-url to run it); against AWS expand runs"
    " on an instance of the new colour before it serves, contract on the live one"
)


def log_path(env_name: str) -> Path:
    return render.build_dir(env_name) / "release.jsonl"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class SharedLog:
    """The copy in the state bucket every operator reads."""

    s3: Any
    bucket: str
    env: str

    def key(self, name: str) -> str:
        return f"opsctl/{self.env}/releases/{name}"

    def save(self, release: Release) -> None:
        body = "".join(json.dumps(e) + "\n" for e in release.entries)
        self.s3.put_object(
            Bucket=self.bucket, Key=self.key(f"{release.id}.jsonl"), Body=body.encode()
        )
        self.s3.put_object(Bucket=self.bucket, Key=self.key("LATEST"), Body=release.id.encode())

    def latest(self) -> list[str] | None:
        """The latest release's lines, or None when none is recorded."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            latest_id = self._get(self.key("LATEST")).strip()
            return self._get(self.key(f"{latest_id}.jsonl")).splitlines()
        except (ClientError, BotoCoreError):
            return None  # none shared (or the bucket unreachable): this machine's file

    def _get(self, key: str) -> str:
        return str(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode())


@dataclass
class Release:
    id: str
    env: str
    ami: str
    options: dict[str, Any]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> last entry
    entries: list[dict[str, Any]] = field(default_factory=list)
    shared: SharedLog | None = field(default=None, repr=False)

    @classmethod
    def new(
        cls, env: str, ami: str, options: dict[str, Any], shared: SharedLog | None = None
    ) -> Release:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        release = cls(
            id=f"{stamp}-{uuid.uuid4().hex[:6]}", env=env, ami=ami, options=options, shared=shared
        )
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
        if self.shared is not None:
            try:
                self.shared.save(self)
            except Exception as error:  # the local file has it; the next entry tries again
                import sys

                print(
                    f"warning: release log not copied to s3://{self.shared.bucket} "
                    f"({type(error).__name__}: {error}); it is in {path}",
                    file=sys.stderr,
                )

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


def latest(env_name: str, shared: SharedLog | None = None) -> Release | None:
    """The latest release: from the shared log when given (another operator may have started
    it), else from this machine's file."""
    lines = shared.latest() if shared is not None else None
    if lines is None:
        path = log_path(env_name)
        if not path.exists():
            return None
        lines = path.read_text(encoding="utf-8").splitlines()
    release: Release | None = None
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if entry.get("step") == "release" and entry.get("status") == "started":
            release = Release(
                entry["release"], env_name, entry["ami"], entry.get("options", {}), shared=shared
            )
        if release is not None and entry.get("release") == release.id:
            release._add(entry)
    return release
