"""Every route's contract, auth, idempotency, pagination and bad input: on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from service import store
from service.app import create_app
from service.db import create_engine
from service.settings import Settings
from tests.support.service import READ, SCHEMA, WRITE, register, unique, wait_job

pytestmark = pytest.mark.slow


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert "Traceback" not in response.text
    if code:
        assert body["error"]["code"] == code
    return body["error"]


# ---- health, metrics, openapi -----------------------------------------------------------------


def test_health_live_metrics_openapi(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/health/live").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    for name in (
        "ingest_http_requests_total",
        "ingest_http_request_duration_seconds",
        "ingest_jobs{",
        "ingest_queue_depth",
        "ingest_records_processed_total",
        "ingest_records_failed_total",
    ):
        assert name in metrics.text
    document = client.get("/openapi.json").json()
    app_routes = {
        (route.path, method.lower())
        for route in client.app.routes  # type: ignore[attr-defined]
        for method in route.methods
        if method != "HEAD"
    }
    described = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert app_routes == described


def test_security_headers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"]


def test_https_redirect_outside_local(make_settings: Any) -> None:
    with TestClient(create_app(make_settings(env="prod", run_worker=False))) as client:
        response = client.get(
            "/v1/jobs?x=1",
            headers={"X-Forwarded-Proto": "http", "Host": "api.example.com"},
            follow_redirects=False,
        )
        assert response.status_code == 301
        assert response.headers["location"] == "https://api.example.com/v1/jobs?x=1"
        assert client.get("/health", headers={"X-Forwarded-Proto": "https"}).status_code == 200
        assert client.get("/health").status_code == 200  # the ALB's own health check
    with TestClient(create_app(make_settings(run_worker=False))) as client:  # local: off
        assert client.get("/health", headers={"X-Forwarded-Proto": "http"}).status_code == 200


# ---- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("PUT", "/v1/datasets/x", "write"),
        ("GET", "/v1/datasets/x", "read"),
        ("POST", "/v1/datasets/x/records", "write"),
        ("GET", "/v1/datasets/x/records", "read"),
        ("GET", "/v1/jobs", "read"),
        ("GET", "/v1/jobs/abc", "read"),
        ("POST", "/v1/jobs/abc/retry", "write"),
    ],
)
def test_auth(client: TestClient, method: str, path: str, scope: str) -> None:
    assert_error(client.request(method, path), 401, "unauthorized")
    assert_error(client.request(method, path, headers={"Authorization": "Bearer nope"}), 401)
    assert_error(client.request(method, path, headers={"X-API-Key": "wrong"}), 401)
    with_read = client.request(method, path, headers=READ)
    if scope == "write":
        assert_error(with_read, 403, "forbidden")
    else:
        assert with_read.status_code not in (401, 403)


def test_api_key_created_by_the_cli_works_at_once(client: TestClient, make_settings: Any) -> None:
    from service.auth import create_key

    settings: Settings = make_settings()

    async def make() -> str:
        engine = create_engine(settings)
        try:
            return await create_key(engine, "fresh", "read")
        finally:
            await engine.dispose()

    key = asyncio.run(make())
    assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert_error(client.put("/v1/datasets/x", json={}, headers={"X-API-Key": key}), 403)


# ---- datasets ----------------------------------------------------------------------------------


def test_dataset_register_update_get(client: TestClient) -> None:
    name = unique()
    created = client.put(
        f"/v1/datasets/{name}", json={"schema": SCHEMA, "key_fields": ["id"]}, headers=WRITE
    )
    assert created.status_code == 201
    assert created.json()["key_fields"] == ["id"]
    updated = client.put(
        f"/v1/datasets/{name}",
        json={"schema": {"type": "object"}, "key_fields": ["id", "name"]},
        headers=WRITE,
    )
    assert updated.status_code == 200
    got = client.get(f"/v1/datasets/{name}", headers=READ).json()
    assert got["schema"] == {"type": "object"}
    assert got["key_fields"] == ["id", "name"]
    assert_error(client.get(f"/v1/datasets/{unique()}", headers=READ), 404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"schema": {"type": "nonsense"}, "key_fields": ["id"]},
        {"schema": [], "key_fields": ["id"]},
        {"schema": SCHEMA, "key_fields": []},
        {"schema": SCHEMA, "key_fields": "id"},
        {"schema": SCHEMA, "key_fields": ["id", "id"]},
        {"schema": SCHEMA},
        {"schema": SCHEMA, "key_fields": ["id"], "extra": 1},
        [],
    ],
)
def test_dataset_rejects_bad_definitions(client: TestClient, body: Any) -> None:
    assert_error(
        client.put(f"/v1/datasets/{unique()}", json=body, headers=WRITE), 422, "validation_failed"
    )


def test_dataset_name_and_content_type(client: TestClient) -> None:
    assert_error(
        client.put(
            "/v1/datasets/x';DROP TABLE jobs;--",
            json={"schema": SCHEMA, "key_fields": ["id"]},
            headers=WRITE,
        ),
        400,
    )
    assert_error(
        client.put(
            f"/v1/datasets/{unique()}",
            content=b"schema",
            headers={**WRITE, "Content-Type": "text/plain"},
        ),
        415,
        "unsupported_media_type",
    )
    assert_error(
        client.put(
            f"/v1/datasets/{unique()}",
            content=b"{bad",
            headers={**WRITE, "Content-Type": "application/json"},
        ),
        400,
        "invalid_json",
    )


# ---- records in, jobs, records out ------------------------------------------------------------


def test_post_json_ndjson_csv_then_read_job_and_records(client: TestClient) -> None:
    name = unique()
    register(client, name)
    bodies = [
        (
            "application/json",
            json.dumps([{"id": 1, "name": "a"}, {"id": 2, "amount": 2.5}]).encode(),
        ),
        ("application/x-ndjson", b'{"id": 3}\n{"id": 4, "name": "d"}\n'),
        ("text/csv; charset=utf-8", b"id,name,amount\n5,e,1.5\n6,f,\n"),
    ]
    for content_type, body in bodies:
        response = client.post(
            f"/v1/datasets/{name}/records",
            content=body,
            headers={**WRITE, "Content-Type": content_type},
        )
        assert response.status_code == 202, response.text
        assert response.json()["records"] == 2
        job = wait_job(client, response.json()["job_id"])
        assert job["status"] == "succeeded", job
        assert job["dataset"] == name
        assert (job["records"], job["processed"], job["failed_records"], job["attempts"]) == (
            2,
            2,
            0,
            1,
        )
        assert job["last_error"] is None
    items = client.get(f"/v1/datasets/{name}/records", headers=READ).json()["items"]
    assert [item["key"] for item in items] == ["1", "2", "3", "4", "5", "6"]
    assert items[4]["data"] == {"id": 5, "name": "e", "amount": 1.5}
    one = client.get(f"/v1/datasets/{name}/records", params={"key": "4"}, headers=READ).json()
    assert [item["data"] for item in one["items"]] == [{"id": 4, "name": "d"}]


def test_a_single_object_is_one_record_and_keys_upsert(client: TestClient) -> None:
    name = unique()
    register(client, name)
    for value in ("first", "second"):
        response = client.post(
            f"/v1/datasets/{name}/records", json={"id": 7, "name": value}, headers=WRITE
        )
        assert response.status_code == 202
        wait_job(client, response.json()["job_id"])
    items = client.get(f"/v1/datasets/{name}/records", headers=READ).json()["items"]
    assert [(item["key"], item["data"]["name"]) for item in items] == [("7", "second")]


def test_idempotency_key(client: TestClient) -> None:
    name = unique()
    register(client, name)
    key = {"Idempotency-Key": unique("idem")}
    first = client.post(f"/v1/datasets/{name}/records", json=[{"id": 1}], headers={**WRITE, **key})
    again = client.post(f"/v1/datasets/{name}/records", json=[{"id": 1}], headers={**WRITE, **key})
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == first.json()
    different = client.post(
        f"/v1/datasets/{name}/records", json=[{"id": 2}], headers={**WRITE, **key}
    )
    assert_error(different, 409, "idempotency_conflict")
    jobs = client.get("/v1/jobs", params={"dataset": name}, headers=READ).json()["items"]
    assert len(jobs) == 1


def test_jobs_pagination_and_filters(client: TestClient) -> None:
    name = unique()
    register(client, name)
    ids = [
        client.post(f"/v1/datasets/{name}/records", json=[{"id": n}], headers=WRITE).json()[
            "job_id"
        ]
        for n in range(5)
    ]
    for job_id in ids:
        wait_job(client, job_id)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"dataset": name, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/jobs", params=params, headers=READ).json()
        seen += [job["id"] for job in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(ids, reverse=True)
    succeeded = client.get(
        "/v1/jobs", params={"dataset": name, "status": "succeeded"}, headers=READ
    ).json()
    assert len(succeeded["items"]) == 5
    assert (
        client.get("/v1/jobs", params={"dataset": name, "status": "dead"}, headers=READ).json()[
            "items"
        ]
        == []
    )
    assert_error(client.get("/v1/jobs", params={"status": "bogus"}, headers=READ), 400)
    assert_error(client.get("/v1/jobs", params={"cursor": "!!!"}, headers=READ), 400)
    assert_error(client.get("/v1/jobs", params={"limit": "0"}, headers=READ), 400)
    assert_error(client.get(f"/v1/jobs/{'f' * 24}", headers=READ), 404)


def test_records_pagination_and_since(client: TestClient) -> None:
    name = unique()
    register(client, name)
    response = client.post(
        f"/v1/datasets/{name}/records", json=[{"id": n} for n in range(25)], headers=WRITE
    )
    job = wait_job(client, response.json()["job_id"])
    keys: list[str] = []
    cursor = None
    while True:
        params = {"limit": "10", **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/datasets/{name}/records", params=params, headers=READ).json()
        keys += [item["key"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(keys, key=int) == [str(n) for n in range(25)]
    later = client.get(
        f"/v1/datasets/{name}/records", params={"since": "2999-01-01T00:00:00Z"}, headers=READ
    )
    assert later.json()["items"] == []
    earlier = client.get(
        f"/v1/datasets/{name}/records",
        params={"since": job["created_at"], "limit": "100"},
        headers=READ,
    )
    assert len(earlier.json()["items"]) == 25
    assert_error(
        client.get(f"/v1/datasets/{name}/records", params={"since": "yesterday"}, headers=READ), 400
    )
    assert_error(client.get(f"/v1/datasets/{unique()}/records", headers=READ), 404)


def test_retry_dead_job(client: TestClient, make_settings: Any) -> None:
    name = unique()
    register(client, name)
    dead = store.job_row(name, records=0, status="dead", last_error="made dead by the test")
    dead["content_type"] = "application/json"
    settings: Settings = make_settings()

    async def insert() -> None:
        engine = create_engine(settings)
        try:
            async with engine.begin() as conn:
                await store.insert_jobs(
                    conn,
                    [dead],
                    [
                        {
                            "job_id": dead["id"],
                            "content_type": "application/json",
                            "body": b'[{"id": 9}]',
                            "created_at": dead["created_at"],
                        }
                    ],
                )
        finally:
            await engine.dispose()

    asyncio.run(insert())
    assert client.get(f"/v1/jobs/{dead['id']}", headers=READ).json()["status"] == "dead"
    retried = client.post(f"/v1/jobs/{dead['id']}/retry", headers=WRITE)
    assert retried.status_code == 202
    assert retried.json()["status"] == "queued"
    job = wait_job(client, dead["id"])
    assert job["status"] == "succeeded"
    assert_error(client.post(f"/v1/jobs/{dead['id']}/retry", headers=WRITE), 409, "conflict")
    assert_error(client.post(f"/v1/jobs/{'e' * 24}/retry", headers=WRITE), 404)


# ---- bad input: always a 4xx with the JSON error, never a 500 --------------------------------


def nested(depth: int) -> bytes:
    return b'[{"id": 1, "x": ' + b"[" * depth + b"]" * depth + b"}]"


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", b"[{", 400, "invalid_json"),
        ("application/json", b"", 400, "invalid_json"),
        ("application/json", b"[1, 2]", 400, "invalid_json"),
        ("application/json", b"[]", 422, "validation_failed"),
        ("application/json", b'[{"id": "not-an-int"}]', 422, "validation_failed"),
        ("application/json", b'[{"id": 1, "unknown": true}]', 422, "validation_failed"),
        ("application/json", b'[{"name": "no key"}]', 422, "validation_failed"),
        ("application/json", b'[{"id": 1}]\x00', 400, "invalid_json"),
        ("application/json", b'[{"id": 1, "name": "a\x00b"}]', 400, "invalid_json"),
        ("application/json", nested(40), 400, "invalid_json"),
        ("application/json", nested(5000), 400, "invalid_json"),
        ("application/json", b'[{"id": 123456789012345678901234567890}]', 400, "invalid_json"),
        ("application/json", b'[{"id": 1, "amount": 1e999}]', 400, "invalid_json"),
        ("application/json", b'[{"id": 1, "amount": NaN}]', 400, "invalid_json"),
        ("application/json", b"\xff\xfe", 400, "invalid_json"),
        ("application/x-ndjson", b'{"id": 1}\n{"id": \n', 400, "invalid_json"),
        ("application/x-ndjson", b'{"id": 1}\n[1]\n', 400, "invalid_json"),
        ("text/csv", b"id,bogus\n1,2\n", 400, "invalid_csv"),
        ("text/csv", b"name\nx\n", 400, "invalid_csv"),
        ("text/csv", b"id,name\n1,a,extra\n", 400, "invalid_csv"),
        ("text/csv", b"id,name\n1,a\x00\n", 400, "invalid_csv"),
        ("text/csv", b"", 400, "invalid_csv"),
        ("text/csv", b"id\nabc\n", 422, "validation_failed"),
        ("text/plain", b"id\n1\n", 415, "unsupported_media_type"),
        ("application/xml", b"<a/>", 415, "unsupported_media_type"),
    ],
)
def test_bad_records_are_4xx(
    client: TestClient, content_type: str, body: bytes, status: int, code: str
) -> None:
    name = unique()
    register(client, name)
    response = client.post(
        f"/v1/datasets/{name}/records",
        content=body,
        headers={**WRITE, "Content-Type": content_type},
    )
    assert_error(response, status, code)


def test_huge_body_is_413(client: TestClient) -> None:
    name = unique()
    register(client, name)
    body = b'[{"id": 1, "name": "' + b"x" * (11 * 1024 * 1024) + b'"}]'
    response = client.post(
        f"/v1/datasets/{name}/records",
        content=body,
        headers={**WRITE, "Content-Type": "application/json"},
    )
    assert_error(response, 413, "payload_too_large")

    def chunks() -> Any:  # no Content-Length: counted while streaming
        for _ in range(11):
            yield b" " * (1024 * 1024)

    streamed = client.post(
        f"/v1/datasets/{name}/records",
        content=chunks(),
        headers={**WRITE, "Content-Type": "application/json"},
    )
    assert_error(streamed, 413, "payload_too_large")


def test_sql_injection_strings_are_data(client: TestClient) -> None:
    name = unique()
    register(client, name, {"type": "object", "properties": {"id": {"type": "string"}}})
    evil = ["1' OR '1'='1", "x'); DROP TABLE records;--", '" OR ""="', "\\'; SELECT SLEEP(5);--"]
    response = client.post(
        f"/v1/datasets/{name}/records", json=[{"id": value} for value in evil], headers=WRITE
    )
    assert response.status_code == 202
    assert wait_job(client, response.json()["job_id"])["status"] == "succeeded"
    for value in evil:
        found = client.get(
            f"/v1/datasets/{name}/records", params={"key": value}, headers=READ
        ).json()["items"]
        assert [item["data"]["id"] for item in found] == [value]
    assert (
        client.get("/v1/jobs", params={"dataset": "x' OR 1=1 --"}, headers=READ).status_code == 400
    )
    assert (
        client.get(
            f"/v1/datasets/{name}/records", params={"key": "' OR 1=1 --"}, headers=READ
        ).json()["items"]
        == []
    )


def test_nul_in_values_and_keys(client: TestClient) -> None:
    name = unique()
    register(client, name, {"type": "object"})
    ok = client.post(
        f"/v1/datasets/{name}/records",
        content=b'[{"id": 1, "v": "a\\u0000b"}]',
        headers={**WRITE, "Content-Type": "application/json"},
    )
    assert ok.status_code == 202
    assert wait_job(client, ok.json()["job_id"])["status"] == "succeeded"
    stored = client.get(f"/v1/datasets/{name}/records", headers=READ).json()["items"]
    assert stored[0]["data"]["v"] == "a\x00b"
    bad_key = client.post(
        f"/v1/datasets/{name}/records",
        content=b'[{"id": "a\\u0000b"}]',
        headers={**WRITE, "Content-Type": "application/json"},
    )
    assert_error(bad_key, 422, "validation_failed")


def test_unknown_dataset_and_routes(client: TestClient) -> None:
    assert_error(
        client.post(f"/v1/datasets/{unique()}/records", json=[{"id": 1}], headers=WRITE),
        404,
        "not_found",
    )
    assert_error(client.get("/v1/nothing", headers=READ), 404)
    assert_error(client.delete("/v1/jobs", headers=READ), 405)
