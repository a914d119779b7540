from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tbdesktop.store.models.base import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """Who did what to which object, when and where. Never PHI: ids and verbs only."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_user_id_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    workstation: Mapped[str | None] = mapped_column(String(200))
