"""A body over the limit gets its 413 even from a client that writes the whole body before it
reads the answer (Python's urllib does): against a real `ingest-service serve` process, over a
raw socket, so nothing between the client and uvicorn hides a reset."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest

from service.migrate import migrate
from service.settings import Settings
from tests.support.service import FAST, WRITE_KEY, Processes, http, register, unique

LIMIT = 10 * 1024 * 1024  # the default INGEST_MAX_BODY_BYTES


def json_body(megabytes: int) -> bytes:
    return b"[" + b'{"id": 1},' * (megabytes * 1024 * 1024 // 10) + b'{"id": 2}]'


def post_whole_body_then_read(base: str, path: str, body: bytes, chunked: bool) -> bytes:
    """Send headers and every byte of the body, then read: what urllib does (it also asks for
    `Connection: close`, so the server closes the socket once it has answered)."""
    parts = urlsplit(base)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
        f"Authorization: Bearer {WRITE_KEY}\r\nContent-Type: application/json\r\n"
        "Connection: close\r\n"
    )
    if chunked:
        chunk = 1024 * 1024
        pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        head += "Transfer-Encoding: chunked\r\n\r\n"
    else:
        payload = body
        head += f"Content-Length: {len(body)}\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        try:
            sock.sendall(head.encode() + payload)
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except OSError as error:
            pytest.fail(f"the connection failed before the answer arrived: {error!r}")
    return answer


# With Content-Length the service answers before reading; chunked, it reads up to the limit
# first, so the body must exceed the limit by more than the socket buffers hold.
@pytest.mark.parametrize(
    ("chunked", "megabytes"), [(False, 11), (True, 30)], ids=["content-length", "chunked"]
)
def test_413_reaches_a_client_that_sends_the_whole_body_first(
    processes: Processes, tmp_path: Path, chunked: bool, megabytes: int
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/ingest.db"
    asyncio.run(migrate(Settings(database_url=url)))
    _proc, base = processes.serve({**FAST, "database_url": url})
    name = unique()
    with http(base) as client:
        register(client, name)
    body = json_body(megabytes)
    assert len(body) > LIMIT
    answer = post_whole_body_then_read(base, f"/v1/datasets/{name}/records", body, chunked)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), answer[:300]
    body = rest.partition(b"\r\n\r\n")[2]
    assert orjson.loads(body)["error"]["code"] == "payload_too_large"
