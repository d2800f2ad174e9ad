"""Where opsctl finds the repository, and where it writes (build/, or $OPSCTL_BUILD_DIR)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULES = REPO / "modules"
TEMPLATES = REPO / "envs" / "templates"
BUILD = Path(os.environ.get("OPSCTL_BUILD_DIR") or REPO / "build")
