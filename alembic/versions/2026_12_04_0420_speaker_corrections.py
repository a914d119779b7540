"""Speaker corrections: lines the therapist corrected (kept by a re-run of speaker separation), the line a split
line came from, when who-said-what last changed (notes older than that are offered for regeneration), and the
``rediarize`` job kind.

Revision ID: 0006_speaker_corrections
Revises: 0005_recording_keys
Create Date: 2026-12-04 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_speaker_corrections"
down_revision: str | None = "0005_recording_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('process', 'regenerate_notes')"
NEW_KINDS = "kind IN ('process', 'regenerate_notes', 'rediarize')"


def _replace_kind_check(condition: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot alter a constraint: the (small) jobs table is rebuilt with the new one.
        with op.batch_alter_table(
            "processing_jobs", recreate="always", reflect_kwargs={"resolve_fks": False}
        ) as batch:
            batch.drop_constraint(op.f("ck_processing_jobs_kind"), type_="check")
            batch.create_check_constraint("kind", condition)
    else:
        op.drop_constraint(op.f("ck_processing_jobs_kind"), "processing_jobs", type_="check")
        op.create_check_constraint("kind", "processing_jobs", condition)


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild): the search triggers on these tables stay in place.
    op.add_column(
        "transcript_segments", sa.Column("manual", sa.Boolean(), server_default="0", nullable=False)
    )
    op.add_column("transcript_segments", sa.Column("split_from", sa.Integer(), nullable=True))
    op.add_column("therapy_sessions", sa.Column("transcript_edited_at", sa.DateTime(timezone=True), nullable=True))
    _replace_kind_check(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM processing_jobs WHERE kind = 'rediarize'")
    _replace_kind_check(OLD_KINDS)
    op.drop_column("therapy_sessions", "transcript_edited_at")
    op.drop_column("transcript_segments", "split_from")
    op.drop_column("transcript_segments", "manual")
