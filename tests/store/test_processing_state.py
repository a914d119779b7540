"""A session's processing status moves only along the allowed transitions, whichever way it is written."""

from __future__ import annotations

from datetime import date

import pytest

from tbdesktop.store.db import Database
from tbdesktop.store.migrate import upgrade
from tbdesktop.store.models import ProcessingStatus, TherapySession, User
from tbdesktop.store.processing_state import ALLOWED, InvalidTransitionError, check, move, queue
from tbdesktop.store.repositories import SystemStateRepository

S = ProcessingStatus


@pytest.mark.parametrize(
    ("current", "to"),
    [
        (S.UPLOADING, S.QUEUED),
        (S.QUEUED, S.TRANSCRIBING),
        (S.TRANSCRIBING, S.DIARIZING),
        (S.GENERATING_NOTES, S.COMPLETED),
        (S.TRANSCRIBING, S.QUEUED),  # a dead process's job resumed
        (S.COMPLETED, S.QUEUED),  # regenerate, separate the voices again
        (S.FAILED, S.QUEUED),  # retry
        (S.CANCELLED, S.QUEUED),
        (S.QUEUED, S.CANCELLED),
        (S.CANCELLED, S.CANCELLED),
    ],
)
def test_allowed_transitions(current: ProcessingStatus, to: ProcessingStatus) -> None:
    check(current, to)


@pytest.mark.parametrize(
    ("current", "to"),
    [
        (S.CANCELLED, S.TRANSCRIBING),  # progress for a cancelled session
        (S.FAILED, S.COMPLETED),  # completing without a retry
        (S.COMPLETED, S.TRANSCRIBING),  # processing again without being queued
        (S.UPLOADING, S.COMPLETED),
        (S.COMPLETED, S.FAILED),
        (S.QUEUED, S.UPLOADING),
    ],
)
def test_impossible_transitions_are_refused(current: ProcessingStatus, to: ProcessingStatus) -> None:
    with pytest.raises(InvalidTransitionError, match="cannot become"):
        check(current, to)


def test_every_status_has_its_transitions() -> None:
    assert set(ALLOWED) == set(ProcessingStatus)


def test_the_row_and_the_runner_writes_go_through_the_check(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db.engine)
        with db.unit_of_work() as s:
            user = User(display_name="Dana Reyes", settings={})
            s.add(user)
            s.flush()
            row = TherapySession(
                owner_id=user.id, session_date=date(2026, 12, 1), processing_status=S.QUEUED, speakers={}
            )
            s.add(row)
            s.flush()
            session_id = row.id
            move(row, S.CANCELLED, processing_stage_detail="Cancelled")
        with db.unit_of_work() as s, pytest.raises(InvalidTransitionError):
            SystemStateRepository(s).update_state(session_id, processing_status=S.TRANSCRIBING)
        with db.unit_of_work() as s:
            # a write without a status (e.g. a detail) is not a transition
            assert SystemStateRepository(s).update_state(session_id, processing_stage_detail="Cancelled by you")
            row = s.get(TherapySession, session_id)
            assert row is not None
            queue(row, "Waiting to start")
            assert (row.processing_status, row.processing_progress, row.processing_error) == (S.QUEUED, 0, None)
        with db.unit_of_work() as s:
            row = s.get(TherapySession, session_id)
            assert row is not None and row.processing_status == S.QUEUED
    finally:
        db.dispose()
