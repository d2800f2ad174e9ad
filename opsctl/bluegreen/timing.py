"""Durations (`--keep-old 15m`), and how often and how long a run polls AWS.

Polling intervals and timeouts come from the environment so tests and the emulator run fast:
OPSCTL_BG_POLL_SECONDS (default 5), OPSCTL_BG_HEALTHY_TIMEOUT (default 900),
OPSCTL_BG_DRAIN_SECONDS (default: the target group's deregistration delay),
OPSCTL_BG_METRIC_DELAY (default 120: how late CloudWatch sees a datapoint; it is added to the
alarms' evaluation window to get the shortest bake that lets an alarm fire),
OPSCTL_BG_MIN_BAKE (default: that computed minimum; the emulator and tests set 0).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}


def parse_duration(text: str) -> float:
    """'90' / '90s' / '15m' / '1h' / '500ms' -> seconds. ValueError with a usable message."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration: use e.g. 30s, 15m, 1h or plain seconds")
    return float(match.group(1)) * _UNIT[match.group(2)]


def parse_canary(text: str) -> list[int]:
    """'10,50' -> [10, 50]: rising percentages of traffic below 100 (100 is the final switch)."""
    if not text.strip():
        return []
    try:
        steps = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--canary {text!r}: give percentages such as 10,50") from None
    if any(not 0 < step < 100 for step in steps) or steps != sorted(set(steps)):
        raise ValueError(f"--canary {text!r}: percentages must rise, each between 1 and 99")
    return steps


def _env_float(name: str, default: float | None) -> float | None:
    value = os.environ.get(name)
    return parse_duration(value) if value else default


@dataclass(frozen=True)
class Timings:
    poll: float = 5.0
    healthy_timeout: float = 900.0
    drain: float | None = None  # None: the target group's deregistration delay
    metric_delay: float = 120.0
    min_bake: float | None = None  # None: the alarms' evaluation window + metric_delay

    @classmethod
    def from_env(cls) -> Timings:
        return cls(
            poll=_env_float("OPSCTL_BG_POLL_SECONDS", 5.0) or 5.0,
            healthy_timeout=_env_float("OPSCTL_BG_HEALTHY_TIMEOUT", 900.0) or 900.0,
            drain=_env_float("OPSCTL_BG_DRAIN_SECONDS", None),
            metric_delay=_env_float("OPSCTL_BG_METRIC_DELAY", 120.0) or 0.0,
            min_bake=_env_float("OPSCTL_BG_MIN_BAKE", None),
        )


def human(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
