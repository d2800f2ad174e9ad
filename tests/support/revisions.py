"""Extra Alembic revisions for tests, written to the folder INGEST_MIGRATIONS_EXTRA names
(service/migrate.py adds it to the real versions; see the `extra` fixture in conftest.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

REVISION = '''"""{doc}"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
phase = "{phase}"
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
'''


def write_revision(
    folder: Path, rev: str, body: str, phase: str = "expand", down: str = "0002"
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = REVISION.format(
        doc=f"test revision {rev}",
        rev=rev,
        down=down,
        phase=phase,
        body=textwrap.indent(body, "    "),
    )
    (folder / f"{rev}_test.py").write_text(text, encoding="utf-8")
