"""Check that a module uses only arguments and blocks that exist in AWS provider 6.x.

We test on provider 5.100 (terraform validate catches what 5.x lacks); this covers the other side
of the `>= 5.100, < 7.0` constraint with the schema of provider 6.25.0.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

from opsctl.paths import REPO
from opsctl.terraform.hcl import load_module

SCHEMA = REPO / "tests" / "data" / "aws-6.25.0.json.gz"
META_ARGUMENTS = {"count", "for_each", "provider", "depends_on", "lifecycle", "connection"}
META_ARGUMENTS |= {"provisioner", "timeouts"}


@cache
def load_schema(path: Path = SCHEMA) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _check_body(body: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    problems = []
    arguments = schema.get("arguments", {})
    blocks = schema.get("blocks", {})
    for key, value in body.items():
        if key in META_ARGUMENTS:
            continue
        if key == "dynamic":
            for dynamic in value:
                for label, spec in dynamic.items():
                    content = spec.get("content", [{}])
                    content = content[0] if isinstance(content, list) else content
                    problems += _check_body({label: [content]}, schema, where)
            continue
        if key in blocks:
            nested = blocks[key]
            if nested.get("opaque"):
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    problems += _check_body(item, nested, f"{where}.{key}")
        elif key in arguments:
            if arguments[key].get("computed") and "required" not in arguments[key]:
                problems.append(f"{where}.{key}: read-only in provider 6.x")
        else:
            problems.append(f"{where}.{key}: not an argument or block in provider 6.x")
    return problems


def check_module(directory: Path) -> list[str]:
    """Every problem as 'resource.TYPE.NAME.path: reason'; empty when the module is clean."""
    schema = load_schema()
    module = load_module(directory)
    problems = []
    for kind, section in (("resource", "resources"), ("data", "data_sources")):
        for block in module.get(kind, []):
            for type_name, instances in block.items():
                if not type_name.startswith("aws_"):
                    continue
                type_schema = schema[section].get(type_name)
                if type_schema is None:
                    problems.append(f"{kind}.{type_name}: does not exist in provider 6.x")
                    continue
                for name, body in instances.items():
                    problems += _check_body(body, type_schema, f"{kind}.{type_name}.{name}")
    return problems
