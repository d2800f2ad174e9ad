"""The /v1 routes."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import zlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service import db, dberrors, store
from service.auth import ApiKey
from service.errors import ApiError, unavailable
from service.jsonutil import JSONError, JSONResponse, loads
from service.records import (
    CONTENT_TYPES,
    CSV,
    JSON,
    BadInput,
    Dataset,
    check_schema,
    media_type,
    parse_body,
    record_key,
    validation_errors,
)
from service.settings import Settings
from service.state import State

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
JOB_ID = re.compile(r"^[0-9a-f]{1,32}$")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def state(request: Request) -> State:
    runtime: State = request.app.state.runtime
    return runtime


async def authorize(request: Request, scope: str) -> ApiKey:
    header = request.headers.get("authorization", "")
    presented = header[7:].strip() if header[:7].lower() == "bearer " else ""
    presented = presented or request.headers.get("x-api-key", "").strip()
    if not presented:
        raise ApiError(
            401,
            "unauthorized",
            "an API key is required (Authorization: Bearer KEY or X-API-Key: KEY)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = await guarded(state(request), state(request).keys.authenticate(presented))
    if key is None:
        raise ApiError(
            401, "unauthorized", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"}
        )
    if not key.allows(scope):
        raise ApiError(403, "forbidden", f"this API key's scope ({key.scope}) cannot {scope}")
    request.scope.setdefault("state", {})["api_key"] = key.name
    return key


async def guarded(runtime: State, awaitable: Any) -> Any:
    """Await a database call; 503 (never a hang, never a 500) when the database is away."""
    try:
        async with asyncio.timeout(runtime.settings.db_request_timeout):  # no extra task
            return await awaitable
    except ApiError:
        raise
    except Exception as error:
        if db.is_unavailable(error):
            dberrors.report(error)
            raise unavailable() from None
        raise


# Like nginx's lingering close: a client may send its whole body before it reads the answer
# (Python's urllib does), and closing a socket with unread data in it makes the kernel send a
# reset that destroys the 413 in flight. So the rest of the body is read and discarded first,
# within these bounds; beyond them the connection is closed as before.
DRAIN_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 30.0


async def read_body(request: Request, settings: Settings) -> bytes:
    limit = settings.max_body_bytes
    length = request.headers.get("content-length")
    too_large = ApiError(413, "payload_too_large", f"the body is larger than {limit} bytes")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise ApiError(400, "bad_request", "invalid Content-Length") from None
        if declared > limit:
            await discard_body(request, declared)
            raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            await discard_body(request, None, size)
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def discard_body(request: Request, declared: int | None, received: int = 0) -> None:
    """Read and drop what is left of the body (see DRAIN_BYTES)."""
    if received == 0 and request.headers.get("expect", "").lower() == "100-continue":
        return  # the client waits for our answer before it sends the body: it sends none
    if declared is not None and declared > DRAIN_BYTES:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while received <= DRAIN_BYTES:
                message = await request.receive()
                if message["type"] != "http.request":
                    return  # the client went away
                received += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


async def json_body(request: Request, settings: Settings) -> Any:
    if media_type(request.headers.get("content-type")) != JSON:
        raise ApiError(415, "unsupported_media_type", "send application/json")
    body = await read_body(request, settings)
    try:
        return loads(body, settings.max_json_depth)
    except JSONError as error:
        raise ApiError(400, "invalid_json", str(error)) from None


def dataset_name(request: Request) -> str:
    name = request.path_params["name"]
    if not NAME.match(name):
        raise ApiError(
            400,
            "bad_request",
            "a dataset name is 1-64 letters, digits, '_', '-' or '.'"
            " and starts with a letter or digit",
        )
    return str(name)


def limit_param(request: Request, settings: Settings) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return settings.page_size
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ApiError(400, "bad_request", "limit must be an integer from 1 to 1000")
    return int(raw)


async def load_dataset(runtime: State, name: str) -> Dataset:
    """The dataset (cached for a second: every POST needs it). Requests that miss the cache at
    the same time share one read: when an entry expires under load, every request in flight
    would otherwise read the dataset on its own."""
    cached = runtime.datasets.get(name)
    if cached and time.monotonic() - cached[0] < 1.0:
        return cached[1]
    reading = runtime.dataset_reads.get(name)
    if reading is None:
        reading = asyncio.ensure_future(read_dataset(runtime, name))
        runtime.dataset_reads[name] = reading
        reading.add_done_callback(lambda done: forget_read(runtime, name, done))
    dataset: Dataset = await asyncio.shield(reading)  # a waiter that gives up leaves the read be
    return dataset


def forget_read(runtime: State, name: str, done: asyncio.Future[Dataset]) -> None:
    runtime.dataset_reads.pop(name, None)
    if not done.cancelled():
        done.exception()  # retrieved here too: every waiter may have given up


async def read_dataset(runtime: State, name: str) -> Dataset:
    row = await guarded(runtime, db.read(runtime.engine, lambda c: store.get_dataset_row(c, name)))
    if row is None:
        raise ApiError(404, "not_found", f"dataset {name!r} is not registered")
    dataset = store.dataset_from_row(row)
    runtime.datasets[name] = (time.monotonic(), dataset)
    return dataset


# ---- datasets --------------------------------------------------------------------------------


async def put_dataset(request: Request) -> Response:
    runtime = state(request)
    await authorize(request, "write")
    name = dataset_name(request)
    body = await json_body(request, runtime.settings)
    if not isinstance(body, dict):
        raise ApiError(422, "validation_failed", 'send {"schema": {...}, "key_fields": [...]}')
    unknown = sorted(set(body) - {"schema", "key_fields"})
    if unknown:
        raise ApiError(422, "validation_failed", "unknown fields", {"unknown": unknown})
    schema, key_fields = body.get("schema"), body.get("key_fields")
    problem = check_schema(schema)
    if problem:
        raise ApiError(422, "validation_failed", problem, {"field": "schema"})
    if (
        not isinstance(key_fields, list)
        or not 1 <= len(key_fields) <= 8
        or not all(isinstance(f, str) and 0 < len(f) <= 128 for f in key_fields)
        or len(set(key_fields)) != len(key_fields)
    ):
        raise ApiError(
            422,
            "validation_failed",
            "key_fields must be a list of 1-8 distinct field names",
            {"field": "key_fields"},
        )
    assert isinstance(schema, dict)
    created, row = await guarded(
        runtime,
        db.transaction(runtime.engine, lambda c: store.put_dataset(c, name, schema, key_fields)),
    )
    runtime.datasets.pop(name, None)
    return JSONResponse(store.dataset_json(row), status_code=201 if created else 200)


async def get_dataset(request: Request) -> Response:
    runtime = state(request)
    await authorize(request, "read")
    name = dataset_name(request)
    row = await guarded(runtime, db.read(runtime.engine, lambda c: store.get_dataset_row(c, name)))
    if row is None:
        raise ApiError(404, "not_found", f"dataset {name!r} is not registered")
    return JSONResponse(store.dataset_json(row))


# ---- records ---------------------------------------------------------------------------------


async def post_records(request: Request) -> Response:
    runtime = state(request)
    settings = runtime.settings
    await authorize(request, "write")
    name = dataset_name(request)
    kind = media_type(request.headers.get("content-type"))
    if kind not in CONTENT_TYPES:
        raise ApiError(
            415, "unsupported_media_type", f"send one of {', '.join(CONTENT_TYPES)}", {"got": kind}
        )
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not IDEMPOTENCY_KEY.match(idempotency_key):
        raise ApiError(400, "bad_request", "Idempotency-Key is 1-200 printable ASCII characters")
    body = await read_body(request, settings)
    dataset = await load_dataset(runtime, name)
    try:
        items = parse_body(body, kind, dataset, settings.max_json_depth)
    except BadInput as error:
        code = "invalid_csv" if kind == CSV else "invalid_json"
        raise ApiError(400, code, str(error), error.details) from None
    if not items:
        raise ApiError(422, "validation_failed", "the body holds no records")
    if len(items) > settings.max_records_per_batch:
        raise ApiError(
            413, "payload_too_large", f"at most {settings.max_records_per_batch} records a batch"
        )
    invalid = check_records(items, dataset, settings.max_validation_errors)
    if invalid:
        raise ApiError(
            422,
            "validation_failed",
            "records do not match the dataset schema",
            {"records": invalid},
        )
    content_type = kind if kind == CSV else ("application/json" if kind == JSON else kind)
    job = store.job_row(
        name,
        records=len(items),
        content_type=content_type,
        idempotency_key=idempotency_key,
        request_hash=store.request_hash(name, kind, body) if idempotency_key else None,
        schema_version=dataset.version,  # validated above against exactly this version
    )
    batch = {"job_id": job["id"], "content_type": kind, "created_at": job["created_at"]}
    batch.update(stored(body))
    holder = await guarded(runtime, runtime.writer.submit(job, batch))
    if holder is not None:  # the Idempotency-Key was used before: nothing new was stored
        if holder.request_hash != job["request_hash"]:
            raise ApiError(
                409,
                "idempotency_conflict",
                "this Idempotency-Key was used for a different request",
                {"job_id": holder.id},
            )
        return JSONResponse({"job_id": holder.id, "records": holder.records}, 200)
    runtime.wake_worker()
    return JSONResponse({"job_id": job["id"], "records": len(items)}, status_code=202)


def stored(body: bytes) -> dict[str, Any]:
    """Bodies go to the database compressed: less to escape, send and write (level 1: cheap)."""
    if len(body) < 512:
        return {"body": body, "encoding": None}
    return {"body": zlib.compress(body, 1), "encoding": "zlib"}


def check_records(items: list[Any], dataset: Dataset, limit: int) -> list[dict[str, Any]]:
    invalid: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        errors = validation_errors(item, dataset)
        try:
            record_key(item, dataset.key_fields)
        except BadInput as error:
            errors.append(str(error))
        if errors:
            invalid.append({"index": index, "errors": errors})
            if len(invalid) >= limit:
                break
    return invalid


async def get_records(request: Request) -> Response:
    runtime = state(request)
    await authorize(request, "read")
    name = dataset_name(request)
    limit = limit_param(request, runtime.settings)
    params = request.query_params
    since = None
    if params.get("since"):
        try:
            since = datetime.fromisoformat(params["since"].replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(400, "bad_request", "since must be an ISO 8601 timestamp") from None
        if since.tzinfo is not None:
            since = since.astimezone(UTC).replace(tzinfo=None)
    cursor = None
    if params.get("cursor"):
        try:
            cursor = int(store.decode_cursor(params["cursor"]))
        except Exception:
            raise ApiError(400, "bad_request", "cursor is not one this API gave out") from None
    await load_dataset(runtime, name)

    async def work(conn: AsyncConnection) -> Any:
        return await store.list_records(
            conn, name, key=params.get("key"), since=since, cursor=cursor, limit=limit
        )

    rows, next_id = await guarded(runtime, db.read(runtime.engine, work))
    return JSONResponse(
        {
            "items": [store.record_json(row) for row in rows],
            "next_cursor": None if next_id is None else store.encode_cursor(next_id),
        }
    )


# ---- jobs ------------------------------------------------------------------------------------


def job_id(request: Request) -> str:
    value = request.path_params["job_id"]
    if not JOB_ID.match(value):
        raise ApiError(404, "not_found", "no such job")
    return str(value)


async def get_job(request: Request) -> Response:
    runtime = state(request)
    await authorize(request, "read")
    ident = job_id(request)

    async def work(conn: AsyncConnection) -> Any:
        row = await store.get_job(conn, ident)
        if row is None:
            return None
        return row, await store.record_errors(conn, ident, runtime.settings.max_validation_errors)

    found = await guarded(runtime, db.read(runtime.engine, work))
    if found is None:
        raise ApiError(404, "not_found", f"no job {ident}")
    row, errors = found
    return JSONResponse({**store.job_json(row), "errors": errors})


async def list_jobs(request: Request) -> Response:
    runtime = state(request)
    await authorize(request, "read")
    params = request.query_params
    status = params.get("status") or None
    if status is not None and status not in store.STATUSES:
        raise ApiError(400, "bad_request", f"status is one of {', '.join(store.STATUSES)}")
    dataset = params.get("dataset") or None
    if dataset is not None and not NAME.match(dataset):
        raise ApiError(400, "bad_request", "not a dataset name")
    cursor = None
    if params.get("cursor"):
        try:
            cursor = str(store.decode_cursor(params["cursor"]))
        except Exception:
            raise ApiError(400, "bad_request", "cursor is not one this API gave out") from None
    limit = limit_param(request, runtime.settings)

    async def work(conn: AsyncConnection) -> Any:
        return await store.list_jobs(
            conn, status=status, dataset=dataset, cursor=cursor, limit=limit
        )

    rows, last = await guarded(runtime, db.read(runtime.engine, work))
    return JSONResponse(
        {
            "items": [store.job_json(row) for row in rows],
            "next_cursor": None if last is None else store.encode_cursor(last),
        }
    )


async def retry_job(request: Request) -> Response:
    runtime = state(request)
    await authorize(request, "write")
    ident = job_id(request)

    async def work(conn: AsyncConnection) -> Any:
        changed = await store.retry_job(conn, ident)
        return changed, await store.get_job(conn, ident)

    changed, row = await guarded(runtime, db.transaction(runtime.engine, work))
    if row is None:
        raise ApiError(404, "not_found", f"no job {ident}")
    if not changed:
        raise ApiError(
            409, "conflict", f"job {ident} is {row.status}; only dead or failed jobs are retried"
        )
    runtime.wake_worker()
    return JSONResponse(store.job_json(row), status_code=202)


ROUTES = [
    Route("/v1/datasets/{name}", put_dataset, methods=["PUT"]),
    Route("/v1/datasets/{name}", get_dataset, methods=["GET"]),
    Route("/v1/datasets/{name}/records", post_records, methods=["POST"]),
    Route("/v1/datasets/{name}/records", get_records, methods=["GET"]),
    Route("/v1/jobs", list_jobs, methods=["GET"]),
    Route("/v1/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/v1/jobs/{job_id}/retry", retry_job, methods=["POST"]),
]
