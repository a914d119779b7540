"""A claimed processing job and what the runner's stages share about it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from tbdesktop.store.models import JobStatus, TherapySession
from tbdesktop.store.repositories import SystemJobRepository, SystemStateRepository

MAX_ATTEMPTS = 2
CRASH_MESSAGE = "The processing worker stopped unexpectedly; the recording could not be processed."
UNEXPECTED_MESSAGE = "Processing stopped because of an unexpected error; the recording is kept. Try again (Retry)."


@dataclass(frozen=True)
class StoredRecording:
    """Where a job's recording is and how to open it."""

    name: str
    key: str | None
    owner_id: uuid.UUID
    channel_per_speaker: bool = False  # recorded with one microphone per person, on two channels


@dataclass(frozen=True)
class ClaimedJob:
    """A job this runner holds the lease of: its session, its kind and the try it is on."""

    id: uuid.UUID
    session_id: uuid.UUID
    kind: str
    attempts: int
    recording: StoredRecording | None = None
    speakers_hint: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The job's id as the worker protocol carries it."""
        return str(self.id)


def live_session(s: Session, job: ClaimedJob) -> TherapySession | None:
    """The job's session, or None when it was deleted meanwhile: the job then ends as cancelled."""
    row = SystemStateRepository(s).get(job.session_id)
    if row is None:
        SystemJobRepository(s).finish(job.id, JobStatus.CANCELLED)
    return row
