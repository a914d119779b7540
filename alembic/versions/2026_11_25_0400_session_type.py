"""Session type (individual, couples, family, group): how many voices diarization should expect.

Revision ID: 0002_session_type
Revises: 0001_initial
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_session_type"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("therapy_sessions") as batch:
        batch.add_column(
            sa.Column("session_type", sa.String(length=16), server_default="individual", nullable=False)
        )


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), not a batch rebuild: rebuilding the table would delete and re-add every
    # session, and the deletes would cascade to their transcripts, notes and jobs.
    op.drop_column("therapy_sessions", "session_type")
