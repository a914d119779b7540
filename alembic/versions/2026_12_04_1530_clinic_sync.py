"""Clinic sync: the workstation's identity, linked clinic accounts, the outbox of local changes, conflict records,
and which workstation holds a session's recording.

The capture triggers that fill the outbox are not created here: they are derived from the models and (re)installed
at every start-up (``tbdesktop.services.sync.capture``), because a later batch migration that rebuilds a table
drops its triggers.

Revision ID: 0008_clinic_sync
Revises: 0007_note_checks
Create Date: 2026-12-04 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = "0008_clinic_sync"
down_revision: str | None = "0007_note_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("therapy_sessions", sa.Column("recording_host", sa.String(200), nullable=True))
    op.create_table(
        "sync_workstation",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("workstation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("applying", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_workstation")),
    )
    op.create_table(
        "sync_accounts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("server_url", sa.String(1000), nullable=False),
        sa.Column("login", sa.String(320), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("ca_file", sa.String(1000), nullable=True),
        sa.Column("remember", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("pull_cursor", sa.String(32), server_default="0", nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sync_accounts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_sync_accounts")),
    )
    op.create_table(
        "sync_outbox",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("owner_id", sa.String(36), nullable=True),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("fields", sa.Text(), nullable=True),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("schema_rev", sa.String(64), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sync_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sync_outbox_owner_id_seq", "sync_outbox", ["owner_id", "seq"])
    op.create_table(
        "sync_conflicts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("row_key", JSON, nullable=False),
        sa.Column("field", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("kept_text", sa.Text(), nullable=True),
        sa.Column("lost_text", sa.Text(), nullable=True),
        sa.Column("lost_workstation", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_sync_conflicts_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["therapy_sessions.id"],
            name=op.f("fk_sync_conflicts_session_id_therapy_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_conflicts")),
    )
    op.create_index("ix_sync_conflicts_session_id", "sync_conflicts", ["session_id"])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # the capture triggers read these tables; without them every write would fail
        for (name,) in bind.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'sync\\_%' ESCAPE '\\'"
        ).fetchall():
            bind.exec_driver_sql(f'DROP TRIGGER IF EXISTS "{name}"')
    op.drop_index("ix_sync_conflicts_session_id", table_name="sync_conflicts")
    op.drop_table("sync_conflicts")
    op.drop_index("ix_sync_outbox_owner_id_seq", table_name="sync_outbox")
    op.drop_table("sync_outbox")
    op.drop_table("sync_accounts")
    op.drop_table("sync_workstation")
    if bind.dialect.name == "sqlite":
        # a plain DROP COLUMN (SQLite 3.35+): rebuilding the table would delete and re-add every session, firing
        # the cascades and search triggers of their transcripts
        op.execute("ALTER TABLE therapy_sessions DROP COLUMN recording_host")
    else:
        op.drop_column("therapy_sessions", "recording_host")
