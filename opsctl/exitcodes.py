"""Exit codes: a contract for every opsctl command (docs/opsctl.md#exit-codes-every-command)."""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0  # done, or no changes
    ERROR = 1
    CHANGES = 2  # changes pending
    LOCKED = 3  # the environment lock is held
    ABORTED = 4  # stopped by a guard or the user
    ROLLED_BACK = 5
