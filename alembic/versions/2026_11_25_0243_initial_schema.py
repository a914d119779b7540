"""Initial schema: the whole data model of the architecture, with its indexes.

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-25 02:43:22.340325
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001_initial'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.CheckConstraint("role IN ('therapist', 'practice_manager', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workstation', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_events_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index('ix_audit_events_user_id_at', 'audit_events', ['user_id', 'at'], unique=False)
    op.create_table('clients',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('pronouns', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_clients_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients'))
    )
    op.create_index('ix_clients_owner_id_name', 'clients', ['owner_id', 'name'], unique=False)
    op.create_table('note_templates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('template_content', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('is_default', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_note_templates_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_note_templates'))
    )
    op.create_index('ix_note_templates_user_id', 'note_templates', ['user_id'], unique=False)
    op.create_table('therapy_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=True),
    sa.Column('session_date', sa.Date(), nullable=False),
    sa.Column('duration_mins', sa.Float(), nullable=True),
    sa.Column('recording_path', sa.String(length=500), nullable=True),
    sa.Column('recording_sha256', sa.String(length=64), nullable=True),
    sa.Column('recording_bytes', sa.Integer(), nullable=True),
    sa.Column('recording_deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transcript_deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_anonymous', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('ai_summary', sa.Text(), nullable=True),
    sa.Column('processing_status', sa.Enum('uploading', 'queued', 'preprocessing', 'transcribing', 'diarizing', 'generating_notes', 'completed', 'failed', 'cancelled', name='processing_status'), nullable=False),
    sa.Column('processing_progress', sa.Integer(), server_default='0', nullable=False),
    sa.Column('processing_stage_detail', sa.String(length=200), nullable=True),
    sa.Column('processing_error', sa.Text(), nullable=True),
    sa.Column('eta_seconds', sa.Integer(), nullable=True),
    sa.Column('speakers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('consent_obtained_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consent_method', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rev', sa.Integer(), server_default='1', nullable=False),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_therapy_sessions_client_id_clients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_therapy_sessions_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_therapy_sessions'))
    )
    op.create_index('ix_therapy_sessions_owner_id_session_date', 'therapy_sessions', ['owner_id', 'session_date'], unique=False)
    op.create_index('ix_therapy_sessions_processing_status', 'therapy_sessions', ['processing_status'], unique=False)
    op.create_table('notes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('template_id', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('sections', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('generator', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'signed')", name=op.f('ck_notes_status')),
    sa.ForeignKeyConstraint(['session_id'], ['therapy_sessions.id'], name=op.f('fk_notes_session_id_therapy_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['note_templates.id'], name=op.f('fk_notes_template_id_note_templates'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notes')),
    sa.UniqueConstraint('session_id', 'version', name=op.f('uq_notes_session_id_version'))
    )
    op.create_table('processing_jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('progress', sa.Float(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('process', 'regenerate_notes')", name=op.f('ck_processing_jobs_kind')),
    sa.CheckConstraint("status IN ('queued', 'running', 'completed', 'failed', 'cancelled')", name=op.f('ck_processing_jobs_status')),
    sa.ForeignKeyConstraint(['session_id'], ['therapy_sessions.id'], name=op.f('fk_processing_jobs_session_id_therapy_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processing_jobs'))
    )
    op.create_index('ix_processing_jobs_session_id', 'processing_jobs', ['session_id'], unique=False)
    op.create_index('ix_processing_jobs_status_created_at', 'processing_jobs', ['status', 'created_at'], unique=False)
    op.create_table('risk_flags',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('quote', sa.Text(), nullable=False),
    sa.Column('segment_idx', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['therapy_sessions.id'], name=op.f('fk_risk_flags_session_id_therapy_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_flags'))
    )
    op.create_index('ix_risk_flags_session_id', 'risk_flags', ['session_id'], unique=False)
    op.create_table('transcript_segments',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=False),
    sa.Column('speaker', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('words', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['therapy_sessions.id'], name=op.f('fk_transcript_segments_session_id_therapy_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'idx', name=op.f('pk_transcript_segments'))
    )


def downgrade() -> None:
    op.drop_table('transcript_segments')
    op.drop_table('risk_flags')
    op.drop_table('processing_jobs')
    op.drop_table('notes')
    op.drop_table('therapy_sessions')
    op.drop_table('note_templates')
    op.drop_table('clients')
    op.drop_table('audit_events')
    op.drop_table('users')
    sa.Enum(name='processing_status').drop(op.get_bind(), checkfirst=True)
