"""The one cancel of a session's processing, for the runner and the session services."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from tbdesktop.store.models import JobKind, ProcessingStatus
from tbdesktop.store.repositories import SystemJobRepository, SystemStateRepository


def cancel_open_processing(s: Session, session_id: uuid.UUID) -> tuple[int, bool]:
    """Cancels the session's queued and running jobs. Returns how many, and whether they were only speaker
    separations — then the transcript stays and so does "completed"."""
    jobs = SystemJobRepository(s)
    separation = jobs.open_kinds(session_id) == {JobKind.REDIARIZE.value}
    count = jobs.cancel_open_for_session(session_id)
    if count:
        SystemStateRepository(s).update_state(
            session_id,
            processing_status=ProcessingStatus.COMPLETED if separation else ProcessingStatus.CANCELLED,
            processing_stage_detail="Speaker separation cancelled" if separation else "Cancelled",
            eta_seconds=None,
            **({"processing_progress": 100} if separation else {}),
        )
    return count, separation
