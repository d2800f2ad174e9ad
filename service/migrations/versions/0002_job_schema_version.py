"""jobs.schema_version (the dataset version the API validated a batch against) and
raw_batches.encoding (bodies are stored zlib-compressed).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.dbtypes import Timestamp

revision = "0002"
phase = "expand"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("schema_version", Timestamp, nullable=True))
    with op.batch_alter_table("raw_batches") as batch:
        batch.add_column(sa.Column("encoding", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("raw_batches") as batch:
        batch.drop_column("encoding")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("schema_version")
