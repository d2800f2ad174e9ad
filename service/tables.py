"""The tables (SQLAlchemy Core). The migrations in service/migrations create exactly these."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from service.dbtypes import BigId, Blob, MediumBlob, Timestamp

metadata = MetaData()

datasets = Table(
    "datasets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("json_schema", MediumBlob, nullable=False),
    Column("key_fields", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("dataset", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("source_ref", String(1024), nullable=True),
    Column("content_type", String(64), nullable=True),
    Column("idempotency_key", String(255), nullable=True, unique=True),
    Column("request_hash", String(64), nullable=True),
    # The dataset version (its updated_at) the API validated the batch against, if it did.
    Column("schema_version", Timestamp, nullable=True),
    Column("records", Integer, nullable=False, default=0),
    Column("processed", Integer, nullable=False, default=0),
    Column("failed_records", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", Timestamp, nullable=True),
    Column("available_at", Timestamp, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("started_at", Timestamp, nullable=True),
    Column("finished_at", Timestamp, nullable=True),
    Index("ix_jobs_status_available", "status", "available_at"),
    Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    Index("ix_jobs_dataset_id", "dataset", "id"),
)

raw_batches = Table(
    "raw_batches",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("content_type", String(64), nullable=False),
    Column("body", Blob, nullable=False),
    Column("encoding", String(16), nullable=True),  # "zlib", or NULL for the body as sent
    Column("created_at", Timestamp, nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("dataset", String(64), nullable=False),
    Column("record_key", String(512), nullable=False),
    Column("data", MediumBlob, nullable=False),
    Column("job_id", String(32), nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    UniqueConstraint("dataset", "record_key", name="uq_records_dataset_key"),
    Index("ix_records_dataset_updated", "dataset", "updated_at"),
)

job_events = Table(
    "job_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job_id", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Index("ix_job_events_job", "job_id", "kind"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp, nullable=True),
)
