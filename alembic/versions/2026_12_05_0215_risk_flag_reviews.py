"""Risk flag reviews: a clinician marks a flag of a note version as reviewed (who and when, never the quote).

Revision ID: 0009_risk_flag_reviews
Revises: 0008_clinic_sync
Create Date: 2026-12-05 02:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_risk_flag_reviews"
down_revision: str | None = "0008_clinic_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_flag_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("flag_kind", sa.String(64), nullable=False),
        sa.Column("segment_idx", sa.Integer(), server_default="-1", nullable=False),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"], ["notes.id"], name=op.f("fk_risk_flag_reviews_note_id_notes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_risk_flag_reviews_reviewed_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_flag_reviews")),
        sa.UniqueConstraint(
            "note_id", "flag_kind", "segment_idx", name=op.f("uq_risk_flag_reviews_note_id_flag_kind_segment_idx")
        ),
    )


def downgrade() -> None:
    op.drop_table("risk_flag_reviews")
