"""Notes: built-in templates (seeded, read-only), note edits and signatures, addenda to signed notes.

Revision ID: 0003_notes
Revises: 0002_session_type
Create Date: 2026-11-25 07:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003_notes"
down_revision: str | None = "0002_session_type"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("note_templates") as batch:
        batch.add_column(sa.Column("builtin", sa.Boolean(), server_default="0", nullable=False))
    with op.batch_alter_table("notes") as batch:
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("signed_by", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_notes_signed_by_users"), "users", ["signed_by"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "note_addenda",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"], ["notes.id"], name=op.f("fk_note_addenda_note_id_notes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_note_addenda_author_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_addenda")),
    )
    op.create_index("ix_note_addenda_note_id", "note_addenda", ["note_id"], unique=False)

    # The built-ins as this revision knows the table (the app refreshes their content at every start).
    from tbdesktop.store.builtin_templates import load_builtins

    templates = sa.table(
        "note_templates",
        sa.column("id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("template_content", sa.JSON()),
        sa.column("is_default", sa.Boolean()),
        sa.column("builtin", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    rows = [
        {
            "id": b.id,
            "user_id": None,
            "name": b.name,
            "template_content": b.content,
            "is_default": b.is_default,
            "builtin": True,
            "created_at": now,
            "updated_at": now,
        }
        for b in load_builtins()
    ]
    op.bulk_insert(templates, rows)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM note_templates WHERE builtin"))
    op.drop_index("ix_note_addenda_note_id", table_name="note_addenda")
    op.drop_table("note_addenda")
    with op.batch_alter_table("notes") as batch:
        batch.drop_constraint(op.f("fk_notes_signed_by_users"), type_="foreignkey")
        batch.drop_column("signed_by")
        batch.drop_column("updated_at")
    # A plain DROP COLUMN (SQLite 3.35+), not a batch rebuild: rebuilding the table would clear the template of
    # every note (ON DELETE SET NULL).
    op.drop_column("note_templates", "builtin")
