"""A session's processing status moves only along these transitions, through one function.

uploading → queued (imported) · queued ⇄ a stage (preprocessing, transcribing, diarizing, generating notes; back to
queued when a dead process's job is resumed) · a stage → another stage · queued or a stage → completed, failed or
cancelled · completed → queued (regenerate the note, separate the voices again) · failed or cancelled → queued
(retry) · completed → completed (a job that ends without changing the transcript, e.g. a note written again).
Anything else — progress shown for a cancelled session, a failed one completing without a retry — is refused.
Rows pulled from the clinic server are the server's truth and are applied as they are.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tbdesktop.errors import ValidationError
from tbdesktop.store.models import ACTIVE_STATUSES, ProcessingStatus, TherapySession, utcnow

S = ProcessingStatus
_ENDS = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
ALLOWED: dict[ProcessingStatus, frozenset[ProcessingStatus]] = {
    S.UPLOADING: frozenset({S.QUEUED, S.FAILED, S.CANCELLED}),
    S.QUEUED: frozenset({S.QUEUED}) | ACTIVE_STATUSES | _ENDS,
    **{stage: frozenset({S.QUEUED}) | ACTIVE_STATUSES | _ENDS for stage in ACTIVE_STATUSES},
    S.COMPLETED: frozenset({S.QUEUED, S.COMPLETED}),
    # the same end again only rewrites its details (e.g. the job of a session cancelled elsewhere winding down)
    S.FAILED: frozenset({S.QUEUED, S.FAILED}),
    S.CANCELLED: frozenset({S.QUEUED, S.CANCELLED}),
}


class InvalidTransitionError(ValidationError):
    def __init__(self, current: ProcessingStatus, to: ProcessingStatus) -> None:
        super().__init__(f"A session that is {_words(current)} cannot become {_words(to)}.")
        self.current = current
        self.to = to


def _words(status: ProcessingStatus) -> str:
    return status.value.replace("_", " ")


def check(current: ProcessingStatus | str, to: ProcessingStatus | str) -> None:
    cur, new = ProcessingStatus(current), ProcessingStatus(to)
    if new not in ALLOWED[cur]:
        raise InvalidTransitionError(cur, new)


def move(row: TherapySession, to: ProcessingStatus, **fields: Any) -> None:
    """Changes a loaded session row's status (and the fields that go with it) after checking the transition."""
    check(row.processing_status, to)
    row.processing_status = to
    for name, value in fields.items():
        setattr(row, name, value)


def queue(row: TherapySession, detail: str) -> None:
    """Back in the queue, from the start: progress, error and time left cleared."""
    move(
        row,
        ProcessingStatus.QUEUED,
        processing_progress=0,
        processing_stage_detail=detail,
        processing_error=None,
        eta_seconds=None,
    )


def move_by_id(s: Session, session_id: uuid.UUID, **values: Any) -> bool:
    """The runner's write: one UPDATE of the session's processing fields; a status in ``values`` is checked
    against the stored one first. False when the session is gone."""
    to = values.get("processing_status")
    if to is not None:
        current = s.scalar(select(TherapySession.processing_status).where(TherapySession.id == session_id))
        if current is None:
            return False
        check(current, to)
    values.setdefault("updated_at", utcnow())
    result = s.execute(
        update(TherapySession)
        .where(TherapySession.id == session_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
