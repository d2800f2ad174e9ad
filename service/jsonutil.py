"""JSON in and out with orjson, and the checks every JSON body passes: depth, number range."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSONResponse

_BIG = float(2**63)
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class JSONError(ValueError):
    pass


def _checked_int(text: str) -> int:
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise JSONError(f"integer out of range (64-bit signed): {text[:40]}")
    return value


def _checked_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JSONError(f"number out of range: {text[:40]}")
    return value


def _reject_constant(name: str) -> Any:
    raise JSONError(f"{name} is not valid JSON")


def loads(data: bytes | str, max_depth: int) -> Any:
    """Parse JSON; reject NaN/Infinity, integers beyond 64 bits, and nesting deeper than
    `max_depth`. Raises JSONError with a message for the user."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        value = orjson.loads(raw)
    except (orjson.JSONDecodeError, ValueError, RecursionError) as error:
        raise JSONError(f"malformed JSON: {error}") from None
    if _walk(value, max_depth):
        # orjson turns integers beyond 64 bits into floats: parse exactly and range-check.
        try:
            json.loads(
                raw,
                parse_int=_checked_int,
                parse_float=_checked_float,
                parse_constant=_reject_constant,
            )
        except JSONError:
            raise
        except (ValueError, RecursionError) as error:
            raise JSONError(f"malformed JSON: {error}") from None
    return value


def _walk(value: Any, max_depth: int) -> bool:
    """Check the nesting depth; True if a float large enough to be a rounded big integer."""
    if not isinstance(value, dict | list):
        return isinstance(value, float) and not -_BIG < value < _BIG
    suspicious = False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise JSONError(f"JSON nested deeper than {max_depth} levels")
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif isinstance(child, float) and not -_BIG < child < _BIG:
                suspicious = True
            elif isinstance(child, int) and not INT_MIN <= child <= INT_MAX:
                raise JSONError(f"integer out of range (64-bit signed): {child}")
    return suspicious


def check_depth(value: Any, max_depth: int) -> None:
    _walk(value, max_depth)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
