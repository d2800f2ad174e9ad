"""Reading the running data plane's status (its admin endpoint) for `opsctl local status`."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from opsctl.paths import REPO

STATE_FILE = REPO / "var" / "dataplane.json"


def admin_url(flag: str | None = None) -> str | None:
    """--admin, else $OPSCTL_DATAPLANE_URL, else what the running data plane recorded (in
    $OPSCTL_DATAPLANE_STATE, default var/dataplane.json)."""
    if flag or os.environ.get("OPSCTL_DATAPLANE_URL"):
        return flag or os.environ["OPSCTL_DATAPLANE_URL"]
    state_file = Path(os.environ.get("OPSCTL_DATAPLANE_STATE") or STATE_FILE)
    try:
        return str(json.loads(state_file.read_text())["admin"])
    except (OSError, ValueError, KeyError):
        return None


def fetch(url: str, timeout: float = 5) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url.rstrip('/')}/status", timeout=timeout) as response:  # noqa: S310
        return dict(json.loads(response.read()))
