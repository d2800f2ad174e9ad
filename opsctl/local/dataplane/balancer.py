"""The load balancer: an ASGI proxy (uvicorn in front, httpx to the targets) that routes as the
listener does in the emulator at that moment (snapshot at most `POLL` seconds old).

Per request: the listener's rules in priority order (conditions `path-pattern` and
`http-request-method`; a rule with any other condition never matches here), else the default
action. `forward` picks a target group by the weights of its ForwardConfig, then the next
routable target of that group round robin (targets.py: healthy ones, fail-open when all are
unhealthy); `fixed-response` and `redirect` answer directly; `authenticate-*` actions are
skipped. No routable target: 503, as an ALB answers. A connection to the target that cannot be
opened (the request never reached it) is tried once on another target of the same group; any
other failure after the request went out is a 502 (504 on a timeout), never retried, as the ALB.

Keep-alive: clients keep their connection for the load balancer's idle timeout
(idle_timeout.timeout_seconds, 60 s); connections to targets are pooled and reused, closed
when idle for as long (the service keeps them 65 s, so a reused one is never one it closed).

Local-only response headers: `X-Local-Target` (instance id and colour) and `X-Local-Weights`
(the weights the request was routed by), so tests and people can see where a request went.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from opsctl.local.dataplane.emulator import Snapshot
from opsctl.local.dataplane.targets import Target, Targets

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
REQUEST_TIMEOUT = 60.0  # the ALB waits up to its idle timeout for a target's answer


def _condition_matches(condition: dict[str, Any], path: str, method: str) -> bool:
    field = condition.get("Field")
    if field == "path-pattern":
        values = (condition.get("PathPatternConfig") or {}).get("Values") or condition.get(
            "Values", []
        )
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in values)
    if field == "http-request-method":
        values = (condition.get("HttpRequestMethodConfig") or {}).get("Values", [])
        return method.upper() in values
    return False


def route(snapshot: Snapshot, path: str, method: str) -> list[dict[str, Any]]:
    """The actions of the first rule whose conditions all match, else the default actions."""
    for _priority, conditions, actions in snapshot.rules:
        if conditions and all(_condition_matches(c, path, method) for c in conditions):
            return actions
    return snapshot.default_actions


def weights_of(action: dict[str, Any]) -> list[tuple[str, int]]:
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    if groups:
        return [(g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups]
    return [(action["TargetGroupArn"], 1)] if action.get("TargetGroupArn") else []


class Balancer:
    """The ASGI app. `snapshot()` gives the emulator's state the data plane last read."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        targets: Targets,
        port_of: Callable[[str], int | None],
    ) -> None:
        self.snapshot, self.targets, self.port_of = snapshot, targets, port_of
        self.served: Counter[str] = Counter()  # by colour
        self.by_instance: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()  # by status code ("502", "503", ...)
        self.retried = 0
        self._turn = itertools.count()
        self._client: httpx.AsyncClient | None = None

    def client(self, idle: float) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                limits=httpx.Limits(
                    max_connections=None, max_keepalive_connections=200, keepalive_expiry=idle
                ),
                timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=2.0),
            )
            self._client.headers.clear()
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, headers, content = await self.handle(scope, body)
        self.statuses[str(status)] += 1
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def handle(
        self, scope: dict[str, Any], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        snapshot = self.snapshot()
        method, path = scope["method"], scope["path"]
        for action in route(snapshot, path, method):
            kind = action.get("Type")
            if kind == "fixed-response":
                config = action.get("FixedResponseConfig") or {}
                content_type = config.get("ContentType", "text/plain").encode()
                return (
                    int(config.get("StatusCode", 200)),
                    [(b"content-type", content_type)],
                    str(config.get("MessageBody", "")).encode(),
                )
            if kind == "redirect":
                config = action.get("RedirectConfig") or {}
                location = (
                    f"{config.get('Protocol', 'https').lower()}://"
                    f"{config.get('Host', '#{host}')}{config.get('Path', path)}"
                )
                code = 301 if config.get("StatusCode") == "HTTP_301" else 302
                return code, [(b"location", location.encode())], b""
            if kind == "forward":
                return await self._forward(snapshot, action, scope, body)
        return _error(503, "no action for this request")

    async def _forward(
        self, snapshot: Snapshot, action: dict[str, Any], scope: dict[str, Any], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        weighted = [(arn, w) for arn, w in weights_of(action) if w > 0]
        if not weighted:
            return _error(503, "the forward action has no target group with weight")
        arn = random.choices([a for a, _ in weighted], [w for _, w in weighted])[0]
        total = sum(w for _, w in weights_of(action)) or 1
        label = ";".join(
            f"{snapshot.groups[a].colour if a in snapshot.groups else a}={round(100 * w / total)}"
            for a, w in weights_of(action)
        )
        tried: set[str] = set()
        for _attempt in range(2):
            candidates = [t for t in self.targets.routable(arn) if t.instance not in tried]
            if not candidates:
                break
            target = candidates[next(self._turn) % len(candidates)]
            tried.add(target.instance)
            port = self.port_of(target.instance)
            if port is None:
                continue
            result = await self._send(target, port, snapshot.idle_timeout, scope, body)
            if result is None:  # could not connect: the request never reached the target
                self.retried += 1
                continue
            status, headers, content = result
            headers += [
                (b"x-local-target", f"{target.instance};{target.colour}".encode()),
                (b"x-local-weights", label.encode()),
            ]
            self.served[target.colour] += 1
            self.by_instance[target.instance] += 1
            target.served += 1
            return status, headers, content
        return _error(503, "no healthy target", label)

    async def _send(
        self, target: Target, port: int, idle: float, scope: dict[str, Any], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        headers = [
            (k, v) for k, v in scope["headers"] if k.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        client_host = (scope.get("client") or ("127.0.0.1", 0))[0]
        headers += [
            (b"x-forwarded-for", client_host.encode()),
            (b"x-forwarded-proto", b"http"),
            (b"x-forwarded-port", str((scope.get("server") or ("", 0))[1]).encode()),
            (
                b"x-amzn-trace-id",
                f"Root=1-{int(time.time()):08x}-{random.getrandbits(96):024x}".encode(),
            ),
        ]
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
        url = f"http://127.0.0.1:{port}{path}"
        if query:
            url += f"?{query}"
        client = self.client(idle)
        target.in_flight += 1
        try:
            request = client.build_request(scope["method"], url, headers=headers, content=body)
            response = await client.send(request, stream=True)
            try:
                content = b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()
        except httpx.ConnectError:
            return None
        except httpx.TimeoutException:
            return _error(504, "the target did not answer in time")
        except httpx.HTTPError as error:
            return _error(502, f"the target closed the connection ({type(error).__name__})")
        finally:
            target.in_flight -= 1
        out = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.multi_items()
            if k.lower() not in HOP_BY_HOP
        ]
        return response.status_code, out, content


def _error(
    status: int, message: str, weights: str = ""
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    headers = [(b"content-type", b"text/plain")]
    if weights:
        headers.append((b"x-local-weights", weights.encode()))
    return status, headers, f"{status} local load balancer: {message}\n".encode()
