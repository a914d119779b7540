from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tbdesktop.store.models.base import Base, JSONType, UTCDateTime, new_id, utcnow


class NoteTemplate(Base):
    __tablename__ = "note_templates"
    __table_args__ = (Index("ix_note_templates_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    template_content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Shipped with the app (resources/templates), seeded by migration, read-only.
    builtin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = (
        UniqueConstraint("session_id", "version"),
        CheckConstraint("status IN ('draft', 'signed')", name="status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("therapy_sessions.id", ondelete="CASCADE")
    )
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("note_templates.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    sections: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    generator: Mapped[str] = mapped_column(String(120), default="local")
    # What the generator's checks left out: the count of unsupported statements removed, and why (plain text).
    removed_statements: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    warnings: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))


class NoteAddendum(Base):
    """A change to a signed note: its own text, author and time; the signed note itself never changes."""

    __tablename__ = "note_addenda"
    __table_args__ = (Index("ix_note_addenda_note_id", "note_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    note_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("notes.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RiskFlag(Base):
    __tablename__ = "risk_flags"
    __table_args__ = (Index("ix_risk_flags_session_id", "session_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("therapy_sessions.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    quote: Mapped[str] = mapped_column(Text)
    segment_idx: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), default="rules", server_default="rules")
    detail: Mapped[str] = mapped_column(String(200), default="", server_default="")


class RiskFlagReview(Base):
    """A clinician marked one risk flag of one note version as reviewed (who and when; never the quote). A flag is
    named by its kind and the transcript line it quotes (-1: none), since flags are rewritten with each version."""

    __tablename__ = "risk_flag_reviews"
    __table_args__ = (UniqueConstraint("note_id", "flag_kind", "segment_idx"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    note_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("notes.id", ondelete="CASCADE"))
    flag_kind: Mapped[str] = mapped_column(String(64))
    segment_idx: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
