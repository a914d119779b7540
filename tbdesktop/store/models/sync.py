"""Clinic sync bookkeeping on the workstation: its identity, the clinicians who joined a clinic here, the outbox of
local changes waiting to be pushed, and conflict records the clinician can see and restore from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tbdesktop.store.models.base import Base, JSONType, UTCDateTime, new_id, utcnow


class SyncWorkstation(Base):
    """One row (id 1) once any clinician joined a clinic here. ``applying`` is 1 only inside the transaction that
    applies pulled rows, so the capture triggers do not echo them back into the outbox."""

    __tablename__ = "sync_workstation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workstation_id: Mapped[uuid.UUID] = mapped_column(Uuid, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    applying: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncAccount(Base):
    """A local profile linked to its clinic login. The password is in the secret store, never here."""

    __tablename__ = "sync_accounts"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    server_url: Mapped[str] = mapped_column(String(1000))  # host, port, database and TLS options; no credentials
    login: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(32))
    ca_file: Mapped[str | None] = mapped_column(String(1000))
    remember: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # The server change number (a PostgreSQL transaction id) below which every change was pulled.
    pull_cursor: Mapped[str] = mapped_column(String(32), default="0", server_default="0")
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when sync cannot go on until someone acts (a newer schema on one side, a password that changed).
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # Changes the server refused (e.g. a clinic template edited without the right): counted, shown, dropped.
    rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SyncOutbox(Base):
    """One local change of a synced row, written by a trigger in the same transaction as the change. The op id is
    (workstation id, seq); the row's values are read when it is pushed."""

    __tablename__ = "sync_outbox"
    # AUTOINCREMENT: a sequence number is never reused, even after the outbox was emptied (the server skips
    # op ids at or below the last one it applied)
    __table_args__ = (Index("ix_sync_outbox_owner_id_seq", "owner_id", "seq"), {"sqlite_autoincrement": True})

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[str | None] = mapped_column(String(36))
    table_name: Mapped[str] = mapped_column(String(64))
    row_key: Mapped[str] = mapped_column(Text)  # JSON object of the primary key's columns
    op: Mapped[str] = mapped_column(String(8))  # upsert | delete
    fields: Mapped[str | None] = mapped_column(Text)  # JSON list of changed columns; null = every column
    old: Mapped[str | None] = mapped_column(Text)  # JSON: values before the change of the last-writer-wins fields
    schema_rev: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[str | None] = mapped_column(String(32))


class SyncConflict(Base):
    """Text that lost a concurrent edit (kind ``overwritten``), or an edit made to a note that was signed on another
    workstation (kind ``signed_elsewhere``: kept to be added as an addendum). Synced, so every workstation of the
    clinician shows it."""

    __tablename__ = "sync_conflicts"
    __table_args__ = (Index("ix_sync_conflicts_session_id", "session_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("therapy_sessions.id", ondelete="CASCADE"))
    table_name: Mapped[str] = mapped_column(String(64))
    row_key: Mapped[dict[str, Any]] = mapped_column(JSONType)
    field: Mapped[str] = mapped_column(String(200))  # column, or "sections.<key>" for a note section
    kind: Mapped[str] = mapped_column(String(32), default="overwritten")
    kept_text: Mapped[str | None] = mapped_column(Text)
    lost_text: Mapped[str | None] = mapped_column(Text)
    lost_workstation: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
