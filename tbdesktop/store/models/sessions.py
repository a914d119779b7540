from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tbdesktop.store.models.base import Base, JSONType, UTCDateTime, new_id, utcnow


class ProcessingStatus(enum.StrEnum):
    UPLOADING = "uploading"
    QUEUED = "queued"
    PREPROCESSING = "preprocessing"
    TRANSCRIBING = "transcribing"
    DIARIZING = "diarizing"
    GENERATING_NOTES = "generating_notes"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset(
    {
        ProcessingStatus.QUEUED,
        ProcessingStatus.PREPROCESSING,
        ProcessingStatus.TRANSCRIBING,
        ProcessingStatus.DIARIZING,
        ProcessingStatus.GENERATING_NOTES,
    }
)

processing_status_enum = Enum(
    ProcessingStatus,
    name="processing_status",
    values_callable=lambda e: [m.value for m in e],
    validate_strings=True,
)


SESSION_TYPES = ("individual", "couples", "family", "group")
# In a session's ``speakers`` JSON, how the recording was captured (keys starting with "_" are not speakers):
# {"_capture": {"channels": 2, "layout": "channel_per_speaker", ...}} for one microphone per person.
CAPTURE_KEY = "_capture"
CHANNEL_PER_SPEAKER = "channel_per_speaker"

# How many voices to expect: a hint for diarization, never a limit.
SPEAKERS_HINT = {"individual": 2, "couples": 3, "family": 4, "group": None}


class TherapySession(Base):
    __tablename__ = "therapy_sessions"
    __table_args__ = (
        Index("ix_therapy_sessions_owner_id_session_date", "owner_id", "session_date"),
        Index("ix_therapy_sessions_processing_status", "processing_status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("clients.id", ondelete="SET NULL")
    )
    session_date: Mapped[date] = mapped_column(Date)
    duration_mins: Mapped[float | None] = mapped_column(Float)
    recording_path: Mapped[str | None] = mapped_column(String(500))
    recording_sha256: Mapped[str | None] = mapped_column(String(64))
    recording_bytes: Mapped[int | None] = mapped_column(Integer)
    # The recording's AES-256 data key, wrapped by the owner's master key (services/recording_vault.py).
    recording_key: Mapped[str | None] = mapped_column(String(200))
    # The workstation that holds the recording (recordings and their keys never leave it; others show its name).
    recording_host: Mapped[str | None] = mapped_column(String(200))
    recording_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transcript_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the therapist last changed who said what (split, merge, moved or corrected lines, re-run speaker
    # separation): notes written before then are offered for regeneration.
    transcript_edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    session_type: Mapped[str] = mapped_column(String(16), default="individual", server_default="individual")
    ai_summary: Mapped[str | None] = mapped_column(Text)
    processing_status: Mapped[ProcessingStatus] = mapped_column(
        processing_status_enum, default=ProcessingStatus.UPLOADING
    )
    processing_progress: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    processing_stage_detail: Mapped[str | None] = mapped_column(String(200))
    processing_error: Mapped[str | None] = mapped_column(Text)
    eta_seconds: Mapped[int | None] = mapped_column(Integer)
    speakers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    consent_obtained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_method: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    rev: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    segments: Mapped[list[TranscriptSegment]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        order_by="[TranscriptSegment.start_s, TranscriptSegment.idx]",
        passive_deletes=True,
    )

    def delete_recording(self, now: datetime | None = None) -> str | None:
        """Tombstone the recording and forget its key; returns the stored file name the caller must remove."""
        path = self.recording_path
        self.recording_path = None
        self.recording_key = None
        self.recording_deleted_at = now or utcnow()
        return path

    def delete_transcript(self, now: datetime | None = None) -> None:
        """Purge segment text and word timings, keeping a tombstone."""
        self.segments.clear()
        self.transcript_deleted_at = now or utcnow()

    def mark_anonymous(self, anonymous: bool = True) -> None:
        self.is_anonymous = anonymous


class TranscriptSegment(Base):
    __tablename__ = "transcript_segments"

    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("therapy_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    speaker: Mapped[str] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # The therapist set this line's speaker or words: re-running speaker separation leaves it as it is. (The default
    # is the database's only, so an insert that does not set it also works on a database at an earlier revision.)
    manual: Mapped[bool] = mapped_column(Boolean, server_default="0")
    # The line this one was split from (its words were the end of that line); notes citing that line cover both.
    split_from: Mapped[int | None] = mapped_column(Integer)

    session: Mapped[TherapySession] = relationship(back_populates="segments")
