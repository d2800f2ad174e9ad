"""`opsctl release`: plan check -> expand migrations (on the new colour, before it serves) ->
blue/green deploy -> contract migrations (once nothing old runs).

log.py    the release log: local build/ENV/release.jsonl, shared in the state bucket
gates.py  the contract gate and the rollback-past-contract guard
"""

from opsctl.release.log import (
    FINISHED,
    MIGRATIONS_ON_EMULATOR,
    STEPS,
    Release,
    SharedLog,
    latest,
    log_path,
)

__all__ = [
    "FINISHED",
    "MIGRATIONS_ON_EMULATOR",
    "STEPS",
    "Release",
    "SharedLog",
    "latest",
    "log_path",
]
