"""All tables; importing this package registers them on Base.metadata."""

from tbdesktop.store.models.audit import AuditEvent
from tbdesktop.store.models.base import Base, utcnow
from tbdesktop.store.models.clients import Client
from tbdesktop.store.models.jobs import JobKind, JobStatus, ProcessingJob
from tbdesktop.store.models.notes import Note, NoteAddendum, NoteTemplate, RiskFlag, RiskFlagReview
from tbdesktop.store.models.sessions import (
    ACTIVE_STATUSES,
    CAPTURE_KEY,
    CHANNEL_PER_SPEAKER,
    SESSION_TYPES,
    SPEAKERS_HINT,
    ProcessingStatus,
    TherapySession,
    TranscriptSegment,
)
from tbdesktop.store.models.sync import SyncAccount, SyncConflict, SyncOutbox, SyncWorkstation
from tbdesktop.store.models.users import DEFAULT_USER_SETTINGS, Role, User

__all__ = [
    "ACTIVE_STATUSES",
    "SESSION_TYPES",
    "CAPTURE_KEY",
    "CHANNEL_PER_SPEAKER",
    "SPEAKERS_HINT",
    "DEFAULT_USER_SETTINGS",
    "AuditEvent",
    "Base",
    "Client",
    "JobKind",
    "JobStatus",
    "Note",
    "NoteAddendum",
    "NoteTemplate",
    "ProcessingJob",
    "ProcessingStatus",
    "RiskFlag",
    "RiskFlagReview",
    "SyncAccount",
    "SyncConflict",
    "SyncOutbox",
    "SyncWorkstation",
    "Role",
    "TherapySession",
    "TranscriptSegment",
    "User",
    "utcnow",
]
