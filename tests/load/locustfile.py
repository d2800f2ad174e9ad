"""Load for the ingestion service: mixed single and bulk POSTs, job polling and reads, at a
chosen rate, against any base URL (the local service or an environment's ALB).

    INGEST_API_KEY=ik_... .venv/bin/locust -f tests/load/locustfile.py --headless \\
        --host https://ingest.staging.example.com --users 50 --spawn-rate 10 --run-time 15m

Each user makes LOAD_RATE_PER_USER requests a second (default 2): the total rate is users x
rate. LOAD_DATASET (default "load") is registered on start; LOAD_BULK_RECORDS (default 1000)
records go in each bulk POST. See docs/service.md, "Load testing", for watching the Auto
Scaling group scale out on CPU and QueueDepth and back in.
"""

from __future__ import annotations

import itertools
import os
import random
import threading

import orjson
from locust import FastHttpUser, constant_throughput, events, task
from locust.env import Environment

API_KEY = os.environ.get("INGEST_API_KEY", "")
DATASET = os.environ.get("LOAD_DATASET", "load")
RATE = float(os.environ.get("LOAD_RATE_PER_USER", "2"))
BULK = int(os.environ.get("LOAD_BULK_RECORDS", "1000"))
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "payload": {"type": "string"},
    },
    "required": ["id"],
}
_ids = itertools.count(random.randrange(1, 2**40))
_lock = threading.Lock()


def next_id() -> int:
    with _lock:
        return next(_ids)


@events.test_start.add_listener
def check_key(environment: Environment, **_kwargs: object) -> None:
    if not API_KEY:
        raise SystemExit("set INGEST_API_KEY to a write key (ingest-service api-key create)")


class IngestUser(FastHttpUser):
    wait_time = constant_throughput(RATE)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {API_KEY}"}
        self.jobs: list[str] = []
        self.client.put(
            f"/v1/datasets/{DATASET}",
            data=orjson.dumps({"schema": SCHEMA, "key_fields": ["id"]}).decode(),
            headers={**self.headers, "Content-Type": "application/json"},
            name="PUT /v1/datasets/[name]",
        )

    def _remember(self, response: object) -> None:
        try:
            job_id = orjson.loads(response.content)["job_id"]  # type: ignore[attr-defined]
        except (ValueError, KeyError, TypeError):
            return
        self.jobs = [*self.jobs[-49:], job_id]

    @task(10)
    def post_single(self) -> None:
        record = {"id": next_id(), "name": "single", "payload": "x" * 1000}
        with self.client.post(
            f"/v1/datasets/{DATASET}/records",
            data=orjson.dumps([record]).decode(),
            headers={**self.headers, "Content-Type": "application/json"},
            name="POST records (1)",
            catch_response=True,
        ) as response:
            if response.status_code == 202:
                self._remember(response)
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(1)
    def post_bulk(self) -> None:
        body = b"\n".join(
            orjson.dumps({"id": next_id(), "name": "bulk", "payload": "y" * 100})
            for _ in range(BULK)
        )
        with self.client.post(
            f"/v1/datasets/{DATASET}/records",
            data=body.decode(),
            headers={**self.headers, "Content-Type": "application/x-ndjson"},
            name=f"POST records ({BULK}, NDJSON)",
            catch_response=True,
        ) as response:
            if response.status_code == 202:
                self._remember(response)
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(5)
    def poll_job(self) -> None:
        if self.jobs:
            self.client.get(
                f"/v1/jobs/{random.choice(self.jobs)}",
                headers=self.headers,
                name="GET /v1/jobs/[id]",
            )

    @task(3)
    def read_records(self) -> None:
        self.client.get(
            f"/v1/datasets/{DATASET}/records?limit=100",
            headers=self.headers,
            name="GET records",
        )

    @task(1)
    def list_jobs(self) -> None:
        self.client.get(
            f"/v1/jobs?dataset={DATASET}&limit=20", headers=self.headers, name="GET jobs"
        )

    @task(1)
    def health(self) -> None:
        self.client.get("/health", name="GET /health")
