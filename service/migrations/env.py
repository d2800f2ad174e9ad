"""Alembic environment: `service.migrate` hands us an open connection (it holds the lock)."""

from __future__ import annotations

from alembic import context

from service.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `ingest-service migrate`")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
