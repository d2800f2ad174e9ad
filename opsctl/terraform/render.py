"""Render envs/templates/*.tf.j2 for one environment into build/<env>/."""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from opsctl.config import Environment
from opsctl.paths import BUILD, MODULES, TEMPLATES

EMULATOR_OVERRIDE = "emulator_override.tf"


def build_dir(env_name: str) -> Path:
    return BUILD / env_name


def hcl(value: Any) -> str:
    """A Python value as an HCL literal (strings JSON-quoted, so nothing can inject syntax)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(hcl(v) for v in value) + "]"
    if isinstance(value, BaseModel):  # a section of the env file, e.g. a routing rule
        return hcl(value.model_dump())
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {hcl(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot render {type(value).__name__} as HCL")


def _jinja() -> jinja2.Environment:
    environment = jinja2.Environment(  # noqa: S701 - renders HCL, not HTML
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["hcl"] = hcl
    return environment


def render(env: Environment, folder: str = "") -> dict[str, str]:
    """{file name: content} of the root module for `env` (envs/templates/FOLDER/*.tf.j2)."""
    out = build_dir(env.name) / folder
    context = {
        "env": env,
        "modules": os.path.relpath(MODULES, out),
        "header": f"# Generated from envs/{env.name}.yaml by opsctl render. Do not edit: change"
        " the YAML or envs/templates/.",
    }
    jinja = _jinja()
    prefix = f"{folder}/" if folder else ""
    return {
        template.removeprefix(prefix).removesuffix(".j2"): jinja.get_template(template).render(
            context
        )
        for template in sorted(jinja.list_templates(extensions=["j2"]))
        if os.path.dirname(template) == folder
    }


@dataclass(frozen=True)
class Change:
    path: Path
    kind: str  # "create", "update" or "delete"
    diff: str


def changes(env: Environment, files: dict[str, str], folder: str = "") -> list[Change]:
    """What writing `files` into build/<env>/FOLDER would change (rendered .tf files only)."""
    out = build_dir(env.name) / folder
    found = []
    for name, content in files.items():
        path = out / name
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old == content:
            continue
        diff = "".join(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                content.splitlines(keepends=True),
                fromfile=f"a/{path.relative_to(BUILD.parent)}",
                tofile=f"b/{path.relative_to(BUILD.parent)}",
            )
        )
        found.append(Change(path, "create" if old is None else "update", diff))
    stale = {p.name for p in out.glob("*.tf")} - set(files) - {EMULATOR_OVERRIDE}
    for name in sorted(stale):
        found.append(Change(out / name, "delete", f"deleted {out / name}\n"))
    return found


def write(env: Environment, folder: str = "") -> list[Change]:
    """Render and write build/<env>/FOLDER, touching only files whose content changed."""
    files = render(env, folder)
    pending = changes(env, files, folder)
    (build_dir(env.name) / folder).mkdir(parents=True, exist_ok=True)
    for change in pending:
        if change.kind == "delete":
            change.path.unlink()
        else:
            tmp = change.path.with_suffix(".tmp")
            tmp.write_text(files[change.path.name], encoding="utf-8")
            tmp.replace(change.path)
    return pending
