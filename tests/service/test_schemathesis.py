"""schemathesis against /openapi.json of a real server: no server errors, no response that
breaks the documented schema, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from opsctl.local.processes import free_port, wait_for
from service.migrate import migrate
from service.settings import Settings
from tests.support.service import FAST, SCHEMA, WRITE, Proc, env_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def api_schema(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    if request.param == "mariadb":
        url = str(request.getfixturevalue("mariadb_migrated"))
    else:
        url = f"sqlite+aiosqlite:///{tmp}/ingest.db"
        asyncio.run(migrate(Settings(database_url=url)))
    port = free_port()
    proc = Proc(
        ["serve", "--port", str(port), "--with-worker"],
        env_for({**FAST, "database_url": url}),
        tmp / "serve.log",
    ).start()
    base = f"http://127.0.0.1:{port}"
    try:

        def live() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=1) as response:  # noqa: S310
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_for(live, 30, "the service")
        body = orjson.dumps({"schema": SCHEMA, "key_fields": ["id"]})
        put = urllib.request.Request(  # noqa: S310
            f"{base}/v1/datasets/orders",
            data=body,
            method="PUT",
            headers={**WRITE, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(put, timeout=5):  # noqa: S310
            pass
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")
    finally:
        proc.stop()
        assert "Traceback" not in proc.output()


def test_api_conforms(api_schema: Any) -> None:
    """Every operation, fuzzed (schemathesis' pytest plugin does not load under pytest 9, so
    each operation's hypothesis strategy is driven here)."""
    failures: dict[str, str] = {}
    operations = 0
    calls = [0]
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            # Records are checked against each dataset's own JSON Schema, which the OpenAPI
            # document cannot know: a body that fits the document may rightly get 422.
            calls[0] += 1
            case.call_and_validate(headers=WRITE, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as error:
            failures[operation.label] = str(error)[:3000]
    assert operations == 10, operations  # all but /openapi.json, which schemathesis skips
    assert calls[0] >= 100, calls  # hypothesis really generated cases
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
