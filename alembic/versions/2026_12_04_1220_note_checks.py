"""Note checks: how many statements the evidence check removed from a note version and why, and where each risk
flag came from (the rule lexicon or the language model) with its short qualifier.

Revision ID: 0007_note_checks
Revises: 0006_speaker_corrections
Create Date: 2026-12-04 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_note_checks"
down_revision: str | None = "0006_speaker_corrections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild): the search triggers on these tables stay in place.
    op.add_column("notes", sa.Column("removed_statements", sa.Integer(), server_default="0", nullable=False))
    op.add_column("notes", sa.Column("warnings", JSON, server_default="[]", nullable=False))
    op.add_column("risk_flags", sa.Column("source", sa.String(16), server_default="rules", nullable=False))
    op.add_column("risk_flags", sa.Column("detail", sa.String(200), server_default="", nullable=False))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), as the upgrade added them: rebuilding ``notes`` would delete and re-add every
    # note, and the deletes would cascade to its addenda and drop the search triggers.
    op.drop_column("risk_flags", "detail")
    op.drop_column("risk_flags", "source")
    op.drop_column("notes", "warnings")
    op.drop_column("notes", "removed_statements")
