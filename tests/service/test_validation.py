"""The fast validation path agrees with jsonschema on every schema it accepts."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from service.validation import compile_fast

NAMES = ["a", "b", "c"]
TYPE_NAMES = ["object", "array", "string", "boolean", "null", "number", "integer"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, 1, 1.0, 2.5, -3, 10, 100])
    | st.text(alphabet="ab0129 ", max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from([*NAMES, "d"]), inner, max_size=4)
    ),
    max_leaves=12,
)
numbers = st.integers(min_value=-5, max_value=105) | st.floats(
    min_value=-5, max_value=105, allow_nan=False
)


@st.composite
def schemas(draw: Any, depth: int = 0) -> Any:
    schema: dict[str, Any] = {}
    if draw(st.booleans()):
        kinds = draw(st.lists(st.sampled_from(TYPE_NAMES), min_size=1, max_size=3, unique=True))
        schema["type"] = kinds[0] if len(kinds) == 1 and draw(st.booleans()) else kinds
    if draw(st.integers(0, 5)) == 0:
        schema["enum"] = draw(
            st.lists(st.none() | st.text(alphabet="ab", max_size=2), min_size=1, max_size=3)
        )
    if draw(st.integers(0, 3)) == 0:
        schema["minLength"] = draw(st.integers(0, 3))
    if draw(st.integers(0, 3)) == 0:
        schema["maxLength"] = draw(st.integers(0, 4))
    if draw(st.integers(0, 4)) == 0:
        schema["pattern"] = draw(st.sampled_from(["^a", "b$", "[0-9]+", "^$"]))
    for word in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if draw(st.integers(0, 4)) == 0:
            schema[word] = draw(numbers)
    if depth < 2 and draw(st.integers(0, 2)) == 0:
        schema["items"] = draw(schemas(depth + 1))
        if draw(st.booleans()):
            schema["maxItems"] = draw(st.integers(0, 3))
    if depth < 2 and draw(st.booleans()):
        schema["properties"] = {
            name: draw(schemas(depth + 1))
            for name in draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
        }
        schema["required"] = draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True))
        schema["additionalProperties"] = (
            draw(st.booleans() | schemas(depth + 1)) if draw(st.booleans()) else True
        )
    return schema


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(schema=schemas(), records=st.lists(json_values, min_size=1, max_size=8))
def test_fast_path_agrees_with_jsonschema(schema: Any, records: list[Any]) -> None:
    Draft202012Validator.check_schema(schema)
    fast = compile_fast(schema)
    assert fast is not None, schema
    validator = Draft202012Validator(schema)
    for record in records:
        assert fast(record) == validator.is_valid(record), (schema, record)


def test_unsupported_keywords_fall_back() -> None:
    schema: Any
    for schema in (
        {"anyOf": [{"type": "string"}]},
        {"$ref": "#/$defs/x", "$defs": {"x": {}}},
        {"enum": [1, True]},
        {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"},
        {"properties": {"a": {"patternProperties": {}}}},
        {"items": [{"type": "string"}]},
        {"pattern": "("},
    ):
        assert compile_fast(schema) is None, schema
