"""Signals during a deployment: SIGINT (Ctrl-C), SIGTERM (kill, a CI runner stopping) and
SIGHUP (the SSH session or terminal closing) all become `Interrupted`, a KeyboardInterrupt, so
the engine can put the weights back on the source colour before the process ends. While it
does so, further signals are ignored (`shielded`).

SIGKILL, a power cut or a laptop going to sleep cannot be caught: then nothing runs and the
traffic stays where it was (the record and `opsctl bluegreen status` show it).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

TRAPPED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    def __init__(self, signame: str) -> None:
        super().__init__(signame)
        self.signame = signame


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextmanager
def trapped() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise Interrupted inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise) for sig in TRAPPED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def shielded() -> Iterator[None]:
    """No signal interrupts the block (the clean-up after a first signal); later signals are
    ignored, since the process is stopping anyway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in TRAPPED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
