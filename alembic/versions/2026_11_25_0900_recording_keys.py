"""Recordings encrypted at rest: each session row keeps its recording's data key, wrapped by the master key.

Revision ID: 0005_recording_keys
Revises: 0004_search
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_recording_keys"
down_revision: str | None = "0004_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild): the search triggers on this table stay in place.
    op.add_column("therapy_sessions", sa.Column("recording_key", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("therapy_sessions", "recording_key")  # SQLite 3.35+ drops a column in place
