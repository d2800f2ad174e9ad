"""The one interface opsctl's migrate commands use, whichever database they reach."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol


class TargetError(Exception):
    """The service could not be run at all (not installed, no instance, AWS refused)."""


@dataclass(frozen=True)
class Outcome:
    """What `ingest-service schema ACTION` ended with: its exit code (the contract: 0 ok,
    1 error, 2 pending, 3 lock held, 4 refused) and what it printed."""

    code: int
    stdout: str
    stderr: str


class Target(Protocol):
    env: str
    # `migrate status` prints `heading` first and adds `context` to its JSON (empty via SSM).
    heading: str | None
    context: dict[str, Any]

    def run(self, action: str, args: list[str]) -> Outcome:
        """Run `ingest-service schema ACTION ARGS` against this target's database."""
        ...

    def lock(self, command: str) -> AbstractContextManager[object]:
        """What a writing command holds around `run` (the environment lock via SSM)."""
        ...
