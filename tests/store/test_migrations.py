"""Migrations upgrade, downgrade and upgrade again on SQLite and PostgreSQL; models match the schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tbdesktop.store import migrate
from tbdesktop.store.db import Database
from tbdesktop.store.models import Base
from tbdesktop.store.search_repository import is_search_index_object

TABLES = {
    "users",
    "clients",
    "therapy_sessions",
    "transcript_segments",
    "notes",
    "note_templates",
    "risk_flags",
    "processing_jobs",
    "audit_events",
}


def _diff(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        # The full-text indexes live only in the database (FTS5 tables, GIN expression indexes), not in the models.
        opts = {
            "compare_type": True,
            "compare_server_default": False,
            "include_name": lambda name, type_, parent: not is_search_index_object(name),
        }
        mc = MigrationContext.configure(conn, opts=opts)
        return list(compare_metadata(mc, Base.metadata))


def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrate.upgrade(db.engine)
        assert migrate.is_up_to_date(db.engine)
        assert TABLES <= set(inspect(db.engine).get_table_names())

        migrate.downgrade(db.engine, "base")
        assert migrate.current_revision(db.engine) is None
        assert not (TABLES & set(inspect(db.engine).get_table_names()))

        migrate.upgrade(db.engine)
        assert migrate.current_revision(db.engine) == migrate.head_revision(db.engine)
        assert TABLES <= set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()


def test_models_match_migrated_schema(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrate.upgrade(db.engine)
        assert _diff(db) == []
    finally:
        db.dispose()


def test_indexes_exist(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrate.upgrade(db.engine)
        insp = inspect(db.engine)
        session_indexes = {ix["name"]: ix["column_names"] for ix in insp.get_indexes("therapy_sessions")}
        assert session_indexes["ix_therapy_sessions_owner_id_session_date"] == ["owner_id", "session_date"]
        assert session_indexes["ix_therapy_sessions_processing_status"] == ["processing_status"]
        job_indexes = {ix["name"] for ix in insp.get_indexes("processing_jobs")}
        assert "ix_processing_jobs_status_created_at" in job_indexes
    finally:
        db.dispose()


def test_every_session_column_present(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrate.upgrade(db.engine)
        cols = {c["name"] for c in inspect(db.engine).get_columns("therapy_sessions")}
        expected = {
            "id", "owner_id", "client_id", "session_date", "duration_mins", "recording_path",
            "recording_sha256", "recording_bytes", "recording_deleted_at", "transcript_deleted_at",
            "is_anonymous", "ai_summary", "processing_status", "processing_progress",
            "processing_stage_detail", "processing_error", "eta_seconds", "speakers",
            "consent_obtained_at", "consent_method", "created_at", "updated_at", "rev", "synced_at",
        }  # fmt: skip
        assert expected <= cols
    finally:
        db.dispose()
