"""The OpenAPI 3.1 document served at /openapi.json: every route, every answer."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF + name}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad request (malformed JSON/CSV, bad parameter)",
        401: "Missing or invalid API key",
        403: "The API key's scope does not allow this",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        415: "Unsupported content type",
        422: "Validation failed",
        503: "The database is unavailable; retry",
    }
    return {str(code): _json("Error", text[code]) for code in codes}


NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
}
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
CURSOR = {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}}
LIMIT = {
    "name": "limit",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
}
AUTH: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {},
                },
            }
        },
    },
    "DatasetPut": {
        "type": "object",
        "required": ["schema", "key_fields"],
        "additionalProperties": False,
        "properties": {
            "schema": {"type": "object", "description": "JSON Schema (2020-12 by default)"},
            "key_fields": {
                "type": "array",
                "minItems": 1,
                "maxItems": 8,
                "uniqueItems": True,
                "items": {"type": "string", "minLength": 1, "maxLength": 128},
            },
        },
    },
    "Dataset": {
        "type": "object",
        "required": ["name", "schema", "key_fields", "created_at", "updated_at"],
        "properties": {
            "name": {"type": "string"},
            "schema": {"type": "object"},
            "key_fields": {"type": "array", "items": {"type": "string"}},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["job_id", "records"],
        "properties": {"job_id": {"type": "string"}, "records": {"type": "integer"}},
    },
    "Job": {
        "type": "object",
        "required": [
            "id",
            "status",
            "dataset",
            "records",
            "processed",
            "failed_records",
            "attempts",
            "last_error",
        ],
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["queued", "running", "succeeded", "failed", "dead"]},
            "dataset": {"type": ["string", "null"]},
            "records": {"type": "integer"},
            "processed": {"type": "integer"},
            "failed_records": {"type": "integer"},
            "attempts": {"type": "integer"},
            "last_error": {"type": ["string", "null"]},
            "source": {"type": "string"},
            "source_ref": {"type": ["string", "null"]},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "started_at": TIMESTAMP,
            "finished_at": TIMESTAMP,
            "errors": {"type": "array", "description": "per-record errors (first 100)"},
        },
    },
    "JobList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("Job")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Record": {
        "type": "object",
        "required": ["key", "data", "job_id", "updated_at"],
        "properties": {
            "key": {"type": "string"},
            "data": {"type": "object"},
            "job_id": {"type": "string"},
            "updated_at": TIMESTAMP,
        },
    },
    "RecordList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("Record")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": ["ok", "unavailable"]}, "error": {}},
    },
}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    records_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": {"type": "object"}, "minItems": 1},
                        {"type": "object"},
                    ]
                }
            },
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "summary": "Readiness for the load balancer (a database round trip)",
                "responses": {
                    "200": _json("Health", "Healthy"),
                    "503": _json("Health", "The database is unreachable"),
                },
            }
        },
        "/health/live": {
            "get": {
                "summary": "Liveness (the process answers)",
                "responses": {"200": _json("Health", "Alive")},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/v1/datasets/{name}": {
            "parameters": [NAME],
            "put": {
                "summary": "Register or update a dataset (scope: write)",
                "security": AUTH,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("DatasetPut")}},
                },
                "responses": {
                    "200": _json("Dataset", "Updated"),
                    "201": _json("Dataset", "Created"),
                    **_errors(400, 401, 403, 413, 415, 422, 503),
                },
            },
            "get": {
                "summary": "A dataset (scope: read)",
                "security": AUTH,
                "responses": {
                    "200": _json("Dataset", "The dataset"),
                    **_errors(400, 401, 403, 404, 503),
                },
            },
        },
        "/v1/datasets/{name}/records": {
            "parameters": [NAME],
            "post": {
                "summary": "Submit records: a JSON array, NDJSON or CSV (scope: write)",
                "security": AUTH,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^[!-~]{1,200}$"},
                    }
                ],
                "requestBody": records_body,
                "responses": {
                    "200": _json("Accepted", "Same Idempotency-Key: the job made before"),
                    "202": _json("Accepted", "Stored durably; a job will process it"),
                    **_errors(400, 401, 403, 404, 409, 413, 415, 422, 503),
                },
            },
            "get": {
                "summary": "Processed records (scope: read)",
                "security": AUTH,
                "parameters": [
                    {"name": "key", "in": "query", "required": False, "schema": {"type": "string"}},
                    {
                        "name": "since",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    CURSOR,
                    LIMIT,
                ],
                "responses": {
                    "200": _json("RecordList", "A page of records"),
                    **_errors(400, 401, 403, 404, 503),
                },
            },
        },
        "/v1/jobs": {
            "get": {
                "summary": "Jobs, newest first (scope: read)",
                "security": AUTH,
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["queued", "running", "succeeded", "failed", "dead"]},
                    },
                    {
                        "name": "dataset",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                    CURSOR,
                    LIMIT,
                ],
                "responses": {
                    "200": _json("JobList", "A page of jobs"),
                    **_errors(400, 401, 403, 503),
                },
            }
        },
        "/v1/jobs/{job_id}": {
            "parameters": [JOB_ID],
            "get": {
                "summary": "A job (scope: read)",
                "security": AUTH,
                "responses": {"200": _json("Job", "The job"), **_errors(401, 403, 404, 503)},
            },
        },
        "/v1/jobs/{job_id}/retry": {
            "parameters": [JOB_ID],
            "post": {
                "summary": "Queue a dead (or failed) job again (scope: write)",
                "security": AUTH,
                "responses": {
                    "202": _json("Job", "Queued again"),
                    **_errors(401, 403, 404, 409, 503),
                },
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ingestion service", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
