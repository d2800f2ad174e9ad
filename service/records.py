"""Records: parsing request bodies and S3 objects (JSON array, NDJSON, CSV), validating them
against a dataset's JSON Schema, and normalising them (canonical JSON, record key)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jsonschema import exceptions as schema_exceptions
from jsonschema.protocols import Validator
from jsonschema.validators import Draft202012Validator, validator_for

from service import jsonutil
from service.validation import compile_fast

JSON = "application/json"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
CONTENT_TYPES = (JSON, NDJSON, CSV)
MAX_KEY_LENGTH = 512
_ABSENT = object()
_CONTROL = re.compile(r"[\x00-\x1f]")


class BadInput(ValueError):
    """The body (or object) cannot be read as records; `details` says where."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class Dataset:
    name: str
    schema: dict[str, Any]
    key_fields: tuple[str, ...]
    validator: Validator = field(compare=False)
    version: datetime | None = None  # the dataset's updated_at
    fast: Callable[[Any], bool] | None = field(default=None, compare=False)

    @classmethod
    def build(
        cls,
        name: str,
        schema: dict[str, Any],
        key_fields: Iterable[str],
        version: datetime | None = None,
    ) -> Dataset:
        return cls(
            name, schema, tuple(key_fields), compile_schema(schema), version, compile_fast(schema)
        )

    @property
    def columns(self) -> set[str] | None:
        properties = self.schema.get("properties")
        return set(properties) if isinstance(properties, dict) else None


def compile_schema(schema: dict[str, Any]) -> Validator:
    """A validator for `schema` (draft from `$schema`, 2020-12 by default). No remote refs are
    ever fetched (jsonschema's `referencing` retrieves nothing unless told to)."""
    cls = validator_for(schema, default=Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def check_schema(schema: Any) -> str | None:
    """None if `schema` is a usable JSON Schema, else the reason."""
    if not isinstance(schema, dict):
        return "schema must be a JSON object (a JSON Schema)"
    try:
        compile_schema(schema)
    except schema_exceptions.SchemaError as error:
        return f"invalid JSON Schema: {error.message}"
    except Exception as error:
        return f"invalid JSON Schema: {error}"
    return None


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


# ---- parsing -------------------------------------------------------------------------------


def parse_body(body: bytes, kind: str, dataset: Dataset, max_depth: int) -> list[Any]:
    """All records of a request body; raises BadInput."""
    if kind == JSON:
        try:
            value = jsonutil.loads(body, max_depth + 1)
        except jsonutil.JSONError as error:
            raise BadInput(str(error)) from None
        records = value if isinstance(value, list) else [value]
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise BadInput("every record must be a JSON object", {"index": index})
        return records
    if kind == NDJSON:
        return list(iter_ndjson(body.split(b"\n"), max_depth))
    if kind == CSV:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadInput("CSV must be UTF-8") from None
        return list(iter_csv(io.StringIO(text, newline=""), dataset))
    raise BadInput(f"unsupported content type {kind!r}")


def iter_ndjson(
    lines: Iterable[bytes], max_depth: int, *, bad_lines: str = "raise"
) -> Iterator[Any]:
    """The records of NDJSON `lines`. A line that is not a JSON object raises BadInput
    (`bad_lines="raise"`: a request body is all or nothing) or is yielded as a BadInput in the
    record's place (`bad_lines="yield"`: one bad line of an S3 object is a per-record error)."""
    if bad_lines not in ("raise", "yield"):
        raise ValueError(f"bad_lines is 'raise' or 'yield', not {bad_lines!r}")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = jsonutil.loads(line, max_depth)
        except jsonutil.JSONError as error:
            problem = BadInput(f"line {number}: {error}", {"line": number})
        else:
            if isinstance(record, dict):
                yield record
                continue
            problem = BadInput(f"line {number}: a record must be a JSON object", {"line": number})
        if bad_lines == "raise":
            raise problem
        yield problem


def iter_csv(lines: Iterable[str], dataset: Dataset) -> Iterator[dict[str, Any]]:
    """Rows as records, header first; values coerced to the schema's property types."""
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise BadInput("CSV needs a header row naming the columns")
        check_columns(header, dataset)
        types = _property_types(dataset.schema)
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise BadInput(
                    f"CSV line {reader.line_num}: {len(row)} fields, the header has {len(header)}",
                    {"line": reader.line_num},
                )
            if any("\x00" in value for value in row):
                raise BadInput(f"CSV line {reader.line_num}: NUL byte", {"line": reader.line_num})
            record = {}
            for name, value in zip(header, row, strict=True):
                coerced = _coerce(value, types.get(name))
                if coerced is not _ABSENT:
                    record[name] = coerced
            yield record
    except csv.Error as error:
        raise BadInput(f"malformed CSV: {error}") from None


def check_columns(header: list[str], dataset: Dataset) -> None:
    problems: dict[str, list[str]] = {}
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        problems["duplicate"] = duplicates
    missing = [name for name in dataset.key_fields if name not in header]
    if missing:
        problems["missing"] = missing
    columns = dataset.columns
    if columns is not None:
        unknown = [name for name in header if name not in columns]
        if unknown:
            problems["unknown"] = unknown
    if problems:
        raise BadInput("CSV columns do not match the dataset schema", problems)


def _property_types(schema: dict[str, Any]) -> dict[str, set[str]]:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    types: dict[str, set[str]] = {}
    for name, spec in properties.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if isinstance(kind, str):
            types[name] = {kind}
        elif isinstance(kind, list):
            types[name] = {k for k in kind if isinstance(k, str)}
    return types


def _coerce(value: str, types: set[str] | None) -> Any:
    """CSV has only strings: turn them into what the schema expects, when they read as such."""
    if not types or "string" in types:
        return value
    if value == "":  # an empty cell: null if allowed, else the field is absent
        return None if "null" in types else _ABSENT
    if "integer" in types:
        try:
            number = int(value)
            if jsonutil.INT_MIN <= number <= jsonutil.INT_MAX:
                return number
        except ValueError:
            pass
    if "number" in types:
        try:
            result = float(value)
            if result not in (float("inf"), float("-inf")) and result == result:
                return result
        except ValueError:
            pass
    if "boolean" in types and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


# ---- validation and normalisation ------------------------------------------------------------


def validation_errors(record: Any, dataset: Dataset, limit: int = 5) -> list[str]:
    if dataset.fast is not None and dataset.fast(record):
        return []
    errors = []
    for error in dataset.validator.iter_errors(record):
        where = "/".join(str(part) for part in error.absolute_path)
        errors.append(f"{where or '(record)'}: {error.message[:300]}")
        if len(errors) >= limit:
            break
    return errors


def record_key(record: dict[str, Any], key_fields: tuple[str, ...]) -> str:
    """The record's key: the key field's value as text, or a JSON array for composite keys."""
    values = []
    for name in key_fields:
        value = record.get(name)
        if value is None or isinstance(value, dict | list):
            raise BadInput(f"key field {name!r} must be present and a string, number or boolean")
        values.append(value)
    if len(values) == 1:
        value = values[0]
        if isinstance(value, str):
            key = value
        elif isinstance(value, int) and not isinstance(value, bool):
            key = str(value)
        else:
            key = jsonutil.dumps(value).decode()
    else:
        key = jsonutil.dumps(values).decode()
    if len(key) > MAX_KEY_LENGTH:
        raise BadInput(f"record key longer than {MAX_KEY_LENGTH} characters")
    if _CONTROL.search(key):
        raise BadInput("record key contains control characters")
    return key
