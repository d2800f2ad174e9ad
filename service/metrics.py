"""Metrics: Prometheus text at /metrics (this process's request counters plus job gauges read
from the database), and CloudWatch Embedded Metric Format for the worker (QueueDepth drives the
Auto Scaling group, an alarm watches DeadJobs)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

registry = CollectorRegistry()
REQUESTS = Counter(
    "ingest_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
)
LATENCY = Histogram(
    "ingest_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=registry,
)
JOBS = Gauge("ingest_jobs", "Jobs by status", ["status"], registry=registry)
QUEUE_DEPTH = Gauge("ingest_queue_depth", "Jobs queued and due", registry=registry)
RECORDS_PROCESSED = Counter(
    "ingest_records_processed", "Records stored by this process's worker", registry=registry
)
RECORDS_FAILED = Counter(
    "ingest_records_failed", "Records rejected by this process's worker", registry=registry
)
DB_ERRORS = Counter(
    "ingest_db_errors",
    "Requests answered 503 because of the database, by kind (read_only, connection_lost,"
    " timeout, pool_exhausted, unreachable)",
    ["kind"],
    registry=registry,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render() -> bytes:
    return generate_latest(registry)


def ensure_emf_environment(environment: str) -> None:
    """aws-embedded-metrics auto-detects by calling the instance metadata address: never let it."""
    os.environ.setdefault("AWS_EMF_ENVIRONMENT", environment)


async def put_emf(namespace: str, environment: str, service: str, values: dict[str, float]) -> None:
    """One EMF document. The only dimension is Environment: the ASG's QueueDepth scaling policy
    and the DeadJobs alarm (modules/compute, modules/monitoring) match exactly that set."""
    from aws_embedded_metrics.logger.metrics_logger_factory import create_metrics_logger

    metrics = create_metrics_logger()
    metrics.set_namespace(namespace)
    metrics.set_dimensions({"Environment": environment})
    metrics.set_property("Service", service)
    for name, value in values.items():
        metrics.put_metric(name, value, "Count")
    await metrics.flush()
