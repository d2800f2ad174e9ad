"""`opsctl apply` of a whole environment, once more on a reset moto if moto raced.

moto 5.2.5's threaded server changes its backends without locks (getmoto/moto#372; see also
serial_moto.py). Under the suite's three parallel applies, about one whole-stack apply in three
CI runs has failed with `InvalidSubnet.Conflict` or `DuplicateTargetGroupName` on a resource
the same apply had just created: a create that moto carried out and the provider then sent
again (moto's log shows no error answer before it; the cause is not known). That failure names
the emulator, not the stack, so the apply runs once more on a reset emulator; any other failure
fails at once. docs/emulator.md lists this gap.
"""

from __future__ import annotations

from opsctl.local.emulator import MotoServer
from tests.support.opsctl_run import Opsctl, Result

# A create that the same apply had just made, sent again (seen: a subnet, a target group). An
# ordering bug in the modules fails differently (not found, invalid): those are never retried.
EMULATOR_RACES = (
    "InvalidSubnet.Conflict",
    "DuplicateTargetGroupName",
    "already exists",
    "AlreadyExists",
)


def emulator_raced(output: str) -> bool:
    return any(signature in output for signature in EMULATOR_RACES)


def apply_fresh(moto_server: MotoServer, opsctl: Opsctl, env: str) -> Result:
    """Apply `env`; when moto raced, reset it and apply once more (the caller's stack is then
    the only thing in the emulator)."""
    result = opsctl("apply", env, "--yes")
    if result.code != 0 and emulator_raced(result.output):
        print(f"moto raced (tests/support/stack_apply.py), again:\n{result.output[-3000:]}")
        moto_server.reset()
        result = opsctl("apply", env, "--yes")
    assert result.code == 0, result.output
    return result
