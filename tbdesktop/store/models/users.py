from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tbdesktop.store.models.base import Base, JSONType, UTCDateTime, new_id, utcnow


class Role(enum.StrEnum):
    THERAPIST = "therapist"
    PRACTICE_MANAGER = "practice_manager"
    ADMIN = "admin"


DEFAULT_USER_SETTINGS: dict[str, Any] = {
    "retention_recording_days": None,
    "retention_transcript_days": None,
    "consent_required": True,
    "default_template": None,
    "idle_lock_minutes": 15,
}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('therapist', 'practice_manager', 'admin')", name="role"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), default=Role.THERAPIST.value)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=lambda: dict(DEFAULT_USER_SETTINGS))
