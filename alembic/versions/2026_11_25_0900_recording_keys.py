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
    # The keys are the only way to open encrypted recordings, and the release before this one cannot read an
    # encrypted recording at all: going back past here with any would lose them. Refused; nothing is changed.
    sealed = op.get_bind().execute(sa.text("SELECT count(*) FROM therapy_sessions WHERE recording_key IS NOT NULL"))
    count = int(sealed.scalar() or 0)
    if count:
        from tbdesktop.errors import ValidationError

        raise ValidationError(
            f"Going back before revision {revision} would make {count} encrypted recording(s) unreadable: releases "
            "before it cannot open encrypted recordings. To go back that far, restore the copy of the data folder "
            "taken before the upgrade instead."
        )
    op.drop_column("therapy_sessions", "recording_key")  # SQLite 3.35+ drops a column in place
