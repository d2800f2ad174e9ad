"""Reading Terraform files with python-hcl2 (8.x keeps quotes and marks blocks; we strip both)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import hcl2


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unquote(k): _clean(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            text = str(json.loads(text))
        except ValueError:
            text = text[1:-1]
    if text.startswith("<<"):  # heredoc: <<EOT / <<-EOT ... EOT
        body = text.split("\n", 1)[1] if "\n" in text else ""
        body = body.rsplit("\n", 1)[0]
        return textwrap.dedent(body) if text.startswith("<<-") else body
    return text


def load_file(path: Path) -> dict[str, Any]:
    """One .tf file as plain dicts: block labels and strings without their quotes."""
    with path.open(encoding="utf-8") as handle:
        return _clean(hcl2.load(handle))


def load_module(directory: Path) -> dict[str, list[Any]]:
    """Every top-level .tf file of a module merged: {"variable": [...], "resource": [...], ...}."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for kind, blocks in load_file(path).items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def expression(value: Any) -> str:
    """An attribute as Terraform source text (python-hcl2 wraps expressions in ${...})."""
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
        return json.dumps(value)
    return json.dumps(value)
