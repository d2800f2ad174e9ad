"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs throughput): request id and access
log, HTTPS enforcement behind the ALB, security headers, request metrics."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import errors, logs, metrics
from service.settings import Settings

log = logging.getLogger("service.access")

SECURITY_HEADERS = [
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = headers.get("x-request-id") or os.urandom(8).hex()
        request_id = request_id[:64]
        token = logs.request_id.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}

        if self.settings.redirect_http and headers.get("x-forwarded-proto", "").lower() == "http":
            host = headers.get("host", "localhost")
            query = scope.get("query_string", b"").decode("latin-1")
            location = (
                f"https://{host}{scope.get('raw_path', scope['path'].encode()).decode('latin-1')}"
            )
            if query:
                location += f"?{query}"
            await send(
                {
                    "type": "http.response.start",
                    "status": 301,
                    "headers": [
                        (b"location", location.encode("latin-1")),
                        (b"content-length", b"0"),
                        *SECURITY_HEADERS,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            logs.request_id.reset(token)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = 1
                message["headers"] = [
                    *message.get("headers", []),
                    *SECURITY_HEADERS,
                    (b"x-request-id", request_id.encode("latin-1", "replace")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as error:  # no traceback to the user, ever; 503 if the database is away
            response = await errors.unhandled(None, error)  # type: ignore[arg-type]
            if status_holder.get("started"):
                raise
            await response(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            status = status_holder["status"]
            metrics.REQUESTS.labels(method, label, str(status)).inc()
            metrics.LATENCY.labels(method, label).observe(elapsed)
            if self.settings.access_log:
                log.info(
                    "%s %s %s",
                    method,
                    scope["path"],
                    status,
                    extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
                )
            logs.request_id.reset(token)
