"""Repositories scope every query to the acting user, on both databases."""

from __future__ import annotations

from datetime import date

import pytest

from tbdesktop.errors import NotFoundError
from tbdesktop.store import migrate
from tbdesktop.store.db import Database
from tbdesktop.store.models import ProcessingStatus, TherapySession, TranscriptSegment, User
from tbdesktop.store.repositories import ClientRepository, SessionRepository, SystemJobRepository, UserRepository


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url)
    migrate.upgrade(database.engine)
    yield database  # type: ignore[misc]
    database.dispose()


def _users(db: Database) -> tuple[User, User]:
    with db.unit_of_work() as s:
        repo = UserRepository(s)
        a = repo.add(User(display_name="A", email="a@example.org", role="therapist", settings={}))
        b = repo.add(User(display_name="B", email="b@example.org", role="therapist", settings={}))
        return a, b


def test_user_b_cannot_read_user_a_sessions(db: Database) -> None:
    a, b = _users(db)
    with db.unit_of_work() as s:
        client = ClientRepository(s, a.id).add("Alex")
        row = SessionRepository(s, a.id).add(
            TherapySession(client_id=client.id, session_date=date(2026, 11, 2), speakers={})
        )
        s.add(TranscriptSegment(session_id=row.id, idx=0, start_s=0, end_s=1, speaker="S", text="hi", words=[]))
        sid, cid = row.id, client.id

    with db.unit_of_work() as s:
        assert [r.id for r in SessionRepository(s, a.id).list()] == [sid]
        assert SessionRepository(s, b.id).list() == []
        with pytest.raises(NotFoundError):
            SessionRepository(s, b.id).get(sid)
        with pytest.raises(NotFoundError):
            SessionRepository(s, b.id).segments(sid)
        with pytest.raises(NotFoundError):
            ClientRepository(s, b.id).get(cid)
        assert ClientRepository(s, b.id).list() == []
        assert SessionRepository(s, b.id).client_names({cid}) == {}
        assert len(SessionRepository(s, a.id).segments(sid)) == 1


def test_session_list_newest_first_and_filters(db: Database) -> None:
    a, _ = _users(db)
    with db.unit_of_work() as s:
        repo = SessionRepository(s, a.id)
        old = repo.add(TherapySession(session_date=date(2026, 1, 1), speakers={}))
        new = repo.add(
            TherapySession(session_date=date(2026, 5, 1), speakers={}, processing_status=ProcessingStatus.COMPLETED)
        )
        old_id, new_id = old.id, new.id
    with db.unit_of_work() as s:
        repo = SessionRepository(s, a.id)
        assert [r.id for r in repo.list()] == [new_id, old_id]
        assert [r.id for r in repo.list(statuses=[ProcessingStatus.COMPLETED])] == [new_id]


def test_job_claim_is_exclusive(db: Database) -> None:
    a, _ = _users(db)
    with db.unit_of_work() as s:
        row = SessionRepository(s, a.id).add(TherapySession(session_date=date(2026, 1, 1), speakers={}))
        job = SystemJobRepository(s).enqueue(row.id, "process")
        job_id = job.id
    with db.unit_of_work() as s:
        assert SystemJobRepository(s).claim(job_id, "ws:1:x", 60)
    with db.unit_of_work() as s:
        assert not SystemJobRepository(s).claim(job_id, "ws:2:y", 60)
        claimed = SystemJobRepository(s).get(job_id)
        assert claimed is not None
        assert claimed.status == "running"
        assert claimed.attempts == 1
        assert SystemJobRepository(s).next_queued([a.id]) is None


def test_deleting_session_cascades(db: Database) -> None:
    a, _ = _users(db)
    with db.unit_of_work() as s:
        row = SessionRepository(s, a.id).add(TherapySession(session_date=date(2026, 1, 1), speakers={}))
        s.add(TranscriptSegment(session_id=row.id, idx=0, start_s=0, end_s=1, speaker="S", text="x", words=[]))
        SystemJobRepository(s).enqueue(row.id, "process")
        sid = row.id
    with db.unit_of_work() as s:
        s.delete(SessionRepository(s, a.id).get(sid))
    with db.unit_of_work() as s:
        from sqlalchemy import func, select

        from tbdesktop.store.models import ProcessingJob

        assert s.scalar(select(func.count()).select_from(TranscriptSegment)) == 0
        assert s.scalar(select(func.count()).select_from(ProcessingJob)) == 0


def test_model_helpers_tombstone(db: Database) -> None:
    a, _ = _users(db)
    with db.unit_of_work() as s:
        row = SessionRepository(s, a.id).add(
            TherapySession(session_date=date(2026, 1, 1), speakers={}, recording_path="abc.wav")
        )
        s.add(TranscriptSegment(session_id=row.id, idx=0, start_s=0, end_s=1, speaker="S", text="x", words=[]))
        sid = row.id
    with db.unit_of_work() as s:
        row = SessionRepository(s, a.id).get(sid)
        assert row.delete_recording() == "abc.wav"
        row.delete_transcript()
        row.mark_anonymous()
    with db.unit_of_work() as s:
        row = SessionRepository(s, a.id).get(sid)
        assert row.recording_path is None and row.recording_deleted_at is not None
        assert row.transcript_deleted_at is not None and row.segments == []
        assert row.is_anonymous is True
