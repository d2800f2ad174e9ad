"""A fast path for the JSON Schemas most datasets use (types, properties, required, bounds,
lengths, patterns, string enums, items). `compile_fast(schema)` returns a predicate that is
True exactly when the record is valid, or None when the schema uses anything else; then (and
whenever the predicate says False, to get the messages) `jsonschema` decides. It builds closures,
never source code, so a schema cannot inject anything. tests/service/test_validation.py checks it
against jsonschema on generated schemas and records."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "examples", "default",
               "format", "deprecated", "readOnly", "writeOnly"}  # fmt: skip
SUPPORTED = ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "items",
    "minItems",
    "maxItems",
}
DRAFTS = (
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-07/schema#",
    "http://json-schema.org/draft-07/schema",
    "http://json-schema.org/draft-06/schema#",
    "http://json-schema.org/draft-06/schema",
)


class Unsupported(Exception):
    pass


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    # draft 6 and later: 1.0 is an integer
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
}


def _one_of(options: frozenset[str], has_null: bool) -> Check:
    return lambda v: (v is None and has_null) or (isinstance(v, str) and v in options)


def compile_fast(schema: Any) -> Check | None:
    if not isinstance(schema, dict) or schema.get("$schema", DRAFTS[0]) not in DRAFTS:
        return None
    try:
        return _compile(schema)
    except (Unsupported, re.error, TypeError, ValueError):
        return None


def _compile(schema: Any) -> Check:
    if schema is True or schema == {}:
        return lambda _v: True
    if not isinstance(schema, dict) or set(schema) - SUPPORTED:
        raise Unsupported
    checks: list[Check] = []

    kind = schema.get("type")
    if kind is not None:
        names = [kind] if isinstance(kind, str) else kind
        if not isinstance(names, list) or not names or any(n not in TYPES for n in names):
            raise Unsupported
        tests = [TYPES[n] for n in names]
        checks.append(tests[0] if len(tests) == 1 else lambda v: any(t(v) for t in tests))

    for word in ("enum", "const"):
        if word in schema:
            allowed = schema[word] if word == "enum" else [schema[word]]
            if not isinstance(allowed, list) or not all(
                isinstance(a, str) or a is None for a in allowed
            ):
                raise Unsupported  # numbers and booleans compare subtly: leave to jsonschema
            options = frozenset(a for a in allowed if isinstance(a, str))
            has_null = None in allowed
            checks.append(_one_of(options, has_null))

    lengths = (schema.get("minLength"), schema.get("maxLength"))
    if any(x is not None for x in lengths):
        if not all(x is None or (isinstance(x, int) and not isinstance(x, bool)) for x in lengths):
            raise Unsupported
        low, high = lengths[0] or 0, lengths[1]
        checks.append(
            lambda v: not isinstance(v, str) or (low <= len(v) and (high is None or len(v) <= high))
        )

    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            raise Unsupported
        regex = re.compile(schema["pattern"])
        checks.append(lambda v: not isinstance(v, str) or regex.search(v) is not None)

    bounds = []
    for word, test in (
        ("minimum", lambda v, b: v >= b),
        ("maximum", lambda v, b: v <= b),
        ("exclusiveMinimum", lambda v, b: v > b),
        ("exclusiveMaximum", lambda v, b: v < b),
    ):
        if word in schema:
            if not _is_number(schema[word]):
                raise Unsupported
            bounds.append((test, schema[word]))
    if bounds:
        checks.append(lambda v: not _is_number(v) or all(t(v, b) for t, b in bounds))

    if "items" in schema:
        item = _compile(schema["items"])
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    counts = (schema.get("minItems"), schema.get("maxItems"))
    if any(x is not None for x in counts):
        if not all(x is None or (isinstance(x, int) and not isinstance(x, bool)) for x in counts):
            raise Unsupported
        few, many = counts[0] or 0, counts[1]
        checks.append(
            lambda v: (
                not isinstance(v, list) or (few <= len(v) and (many is None or len(v) <= many))
            )
        )

    properties = schema.get("properties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise Unsupported
    if not all(isinstance(name, str) for name in required):
        raise Unsupported
    if properties or required or additional is not True:
        compiled = {name: _compile(sub) for name, sub in properties.items()}
        needed = tuple(required)
        if additional is False:
            extra: Check | None = None
            closed = True
        else:
            extra = None if additional is True else _compile(additional)
            closed = False

        def check_object(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for name in needed:
                if name not in v:
                    return False
            for name, value in v.items():
                sub = compiled.get(name)
                if sub is not None:
                    if not sub(value):
                        return False
                elif closed or (extra is not None and not extra(value)):
                    return False
            return True

        checks.append(check_object)

    if not checks:
        return lambda _v: True
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(check(v) for check in checks)
