"""The session and note queries the services use (speakers and lines, recordings to encrypt, retention, note
times), on both databases: each answers for the acting user's own sessions only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tbdesktop.errors import NotFoundError
from tbdesktop.store import migrate
from tbdesktop.store.db import Database
from tbdesktop.store.models import (
    JobKind,
    JobStatus,
    Note,
    ProcessingJob,
    ProcessingStatus,
    TherapySession,
    TranscriptSegment,
    User,
)
from tbdesktop.store.note_repositories import NoteRepository
from tbdesktop.store.repositories import SessionRepository, UserRepository

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def _users(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    with db.unit_of_work() as s:
        repo = UserRepository(s)
        a = repo.add(User(display_name="A", email="a@example.org", role="therapist", settings={}))
        b = repo.add(User(display_name="B", email="b@example.org", role="therapist", settings={}))
        return a.id, b.id


def _session(db: Database, owner: uuid.UUID, **values: Any) -> uuid.UUID:
    with db.unit_of_work() as s:
        row = SessionRepository(s, owner).add(TherapySession(session_date=date(2026, 3, 1), speakers={}, **values))
        return row.id


def _line(session_id: uuid.UUID, idx: int, speaker: str, role: str | None) -> TranscriptSegment:
    return TranscriptSegment(
        session_id=session_id, idx=idx, start_s=idx, end_s=idx + 1, speaker=speaker, role=role, text="x", words=[]
    )


def test_lines_by_speaker_of_my_session(db: Database) -> None:
    a, _ = _users(db)
    sid, empty = _session(db, a), _session(db, a)
    with db.unit_of_work() as s:
        # Written out of order, with a gap (a split line takes the next free number).
        s.add_all(
            [
                _line(sid, 5, "SPEAKER_01", "client"),
                _line(sid, 0, "SPEAKER_00", "therapist"),
                _line(sid, 1, "SPEAKER_01", "client"),
                _line(sid, 2, "SPEAKER_00", "therapist"),
            ]
        )
    with db.unit_of_work() as s:
        mine = SessionRepository(s, a)
        assert mine.speaker_roles(sid) == [
            ("SPEAKER_00", "therapist"),
            ("SPEAKER_01", "client"),
            ("SPEAKER_00", "therapist"),
            ("SPEAKER_01", "client"),
        ]
        assert mine.speaker_labels(sid) == {"SPEAKER_00", "SPEAKER_01"}
        assert mine.line_numbers(sid) == [0, 1, 2, 5]
        assert mine.line_numbers(sid, "SPEAKER_01") == [1, 5]
        assert mine.line_numbers(sid, "SPEAKER_09") == []
        assert mine.has_transcript(sid) and not mine.has_transcript(empty)
        assert mine.last_line_number(sid) == 5 and mine.last_line_number(empty) is None
        assert mine.speaker_roles(empty) == [] and mine.speaker_labels(empty) == set()


def test_lines_of_another_users_session_are_refused(db: Database) -> None:
    a, b = _users(db)
    sid = _session(db, a)
    with db.unit_of_work() as s:
        s.add(_line(sid, 0, "SPEAKER_00", "therapist"))
    with db.unit_of_work() as s:
        theirs = SessionRepository(s, b)
        for query in (
            theirs.speaker_roles,
            theirs.speaker_labels,
            theirs.line_numbers,
            theirs.has_transcript,
            theirs.last_line_number,
        ):
            with pytest.raises(NotFoundError):
                query(sid)
        with pytest.raises(NotFoundError):
            theirs.line_numbers(sid, "SPEAKER_00")
        with pytest.raises(NotFoundError):
            theirs.has_transcript(uuid.uuid4())


def test_unencrypted_recordings_are_mine_kept_and_idle(db: Database) -> None:
    a, b = _users(db)
    plain = _session(db, a, recording_path="plain.wav", processing_status=ProcessingStatus.COMPLETED)
    failed = _session(db, a, recording_path="failed.wav", processing_status=ProcessingStatus.FAILED)
    _session(db, a, recording_path="sealed.wav", recording_key="wrapped", processing_status=ProcessingStatus.COMPLETED)
    _session(db, a, recording_path="busy.wav", processing_status=ProcessingStatus.TRANSCRIBING)
    _session(db, a, recording_path=None, processing_status=ProcessingStatus.COMPLETED)
    _session(db, b, recording_path="theirs.wav", processing_status=ProcessingStatus.COMPLETED)
    with db.unit_of_work() as s:
        assert sorted(SessionRepository(s, a).unencrypted_recordings()) == sorted(
            [(plain, "plain.wav"), (failed, "failed.wav")]
        )
        theirs = SessionRepository(s, b).unencrypted_recordings()
        assert [name for _, name in theirs] == ["theirs.wav"]


def _job(
    session_id: uuid.UUID,
    finished: datetime,
    kind: str = JobKind.PROCESS.value,
    status: str = JobStatus.COMPLETED.value,
) -> ProcessingJob:
    return ProcessingJob(session_id=session_id, kind=kind, status=status, finished_at=finished, params={})


def test_recordings_processed_before_a_cutoff(db: Database) -> None:
    a, b = _users(db)
    done = ProcessingStatus.COMPLETED
    due = _session(db, a, recording_path="due.wav", processing_status=done)
    recent = _session(db, a, recording_path="recent.wav", processing_status=done)
    deleted = _session(db, a, recording_path=None, recording_deleted_at=T0, processing_status=done)
    failed = _session(db, a, recording_path="failed.wav", processing_status=ProcessingStatus.FAILED)
    rediarized = _session(db, a, recording_path="rediarized.wav", processing_status=done)
    theirs = _session(db, b, recording_path="theirs.wav", processing_status=done)
    with db.unit_of_work() as s:
        s.add_all(
            [
                _job(due, T0 - timedelta(days=40)),
                _job(due, T0 - timedelta(days=31)),  # processed again: the clock starts at the latest run
                _job(recent, T0 - timedelta(days=40)),
                _job(recent, T0 - timedelta(days=2)),
                _job(deleted, T0 - timedelta(days=40)),
                _job(failed, T0 - timedelta(days=40), status=JobStatus.FAILED.value),
                _job(rediarized, T0 - timedelta(days=40), kind=JobKind.REDIARIZE.value),
                _job(theirs, T0 - timedelta(days=40)),
            ]
        )
    with db.unit_of_work() as s:
        mine = SessionRepository(s, a)
        assert mine.recordings_processed_before(T0 - timedelta(days=30)) == [due]
        assert mine.recordings_processed_before(T0 - timedelta(days=31)) == [due]  # at the cutoff counts
        assert mine.recordings_processed_before(T0 - timedelta(days=32)) == []
        assert sorted(mine.recordings_processed_before(T0)) == sorted([due, recent])
        assert SessionRepository(s, b).recordings_processed_before(T0) == [theirs]


def _note(session_id: uuid.UUID, version: int, *, signed_at: datetime | None, created_at: datetime = T0) -> Note:
    return Note(
        session_id=session_id,
        version=version,
        sections={},
        status="signed" if signed_at is not None else "draft",
        signed_at=signed_at,
        created_at=created_at,
    )


def test_transcripts_signed_before_a_cutoff(db: Database) -> None:
    a, b = _users(db)
    due, recent, draft = _session(db, a), _session(db, a), _session(db, a)
    gone = _session(db, a, transcript_deleted_at=T0)
    theirs = _session(db, b)
    with db.unit_of_work() as s:
        s.add_all(
            [
                _note(due, 1, signed_at=T0 - timedelta(days=10)),
                _note(recent, 1, signed_at=T0 - timedelta(days=10)),
                _note(recent, 2, signed_at=T0 - timedelta(days=1)),  # the latest signature counts
                _note(draft, 1, signed_at=None, created_at=T0 - timedelta(days=10)),
                _note(gone, 1, signed_at=T0 - timedelta(days=10)),
                _note(theirs, 1, signed_at=T0 - timedelta(days=10)),
            ]
        )
    with db.unit_of_work() as s:
        mine = SessionRepository(s, a)
        assert mine.transcripts_signed_before(T0 - timedelta(days=5)) == [due]
        assert sorted(mine.transcripts_signed_before(T0)) == sorted([due, recent])
        assert mine.transcripts_signed_before(T0 - timedelta(days=11)) == []
        assert SessionRepository(s, b).transcripts_signed_before(T0) == [theirs]


def _utc(moment: datetime) -> datetime:
    """SQLite reads max() back without a time zone (the value is UTC): compare as naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def test_latest_note_written_per_session_of_mine(db: Database) -> None:
    a, b = _users(db)
    two, one, none = _session(db, a), _session(db, a), _session(db, a)
    with db.unit_of_work() as s:
        s.add_all(
            [
                _note(two, 1, signed_at=None, created_at=T0 - timedelta(hours=2)),
                _note(two, 2, signed_at=None, created_at=T0),
                _note(one, 1, signed_at=None, created_at=T0 - timedelta(hours=5)),
            ]
        )
    with db.unit_of_work() as s:
        written = NoteRepository(s, a).latest_written({two, one, none})
        assert set(written) == {two, one}
        assert _utc(written[two]) == _utc(T0)
        assert _utc(written[one]) == _utc(T0 - timedelta(hours=5))
        assert NoteRepository(s, a).latest_written(set()) == {}
        assert NoteRepository(s, b).latest_written({two, one, none}) == {}
