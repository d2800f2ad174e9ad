"""Alembic environment.

Online: `service.migrate` hands us an open connection (it holds the migration lock) and a
callback recording each revision in migration_log. Offline (`opsctl migrate sql`): SQL for the
dialect named in `dialect_name`, rendered without a database.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from service.tables import metadata


def include_object(_obj: Any, name: str | None, kind: str, _reflected: bool, _other: Any) -> bool:
    return not (kind == "table" and name == "migration_log")  # service.migrate's own table


attributes = context.config.attributes
if context.is_offline_mode():
    context.configure(
        dialect_name=attributes.get("dialect_name", "mysql"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
        transaction_per_migration=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `ingest-service migrate` or `opsctl migrate`")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        # One transaction per revision: on SQLite a failed revision rolls back alone; on MySQL
        # (DDL commits implicitly) each revision's alembic_version update follows its DDL.
        transaction_per_migration=True,
        on_version_apply=attributes.get("on_version_apply"),
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
