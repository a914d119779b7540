"""Speaker corrections: split a line, merge speakers, add a speaker, queue a fresh separation — real SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests_support import segment_rows, session_with_transcript, timed_words

from tbdesktop.engine.types import SpeakerTurn
from tbdesktop.errors import NotFoundError, ValidationError
from tbdesktop.services.audit import AuditService
from tbdesktop.services.context import AppContext
from tbdesktop.services.notes import NoteService
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.speakers.edits import StoredLine, next_label, relabel, split_parts
from tbdesktop.store.models import Note, ProcessingJob, RiskFlag, TranscriptSegment
from tbdesktop.store.note_repositories import SystemNoteWriter

LINES = [
    ("therapist", "How have you been sleeping this week?"),
    ("client", "Badly, I wake at four. Have you tried writing it down?"),
    ("therapist", "Tell me more about that."),
]


@pytest.fixture
def session(ctx: AppContext, therapist: Any, two_speaker: Any) -> Any:
    info = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    with ctx.db.unit_of_work() as s:
        seg = s.get(TranscriptSegment, (info.id, 1))
        assert seg is not None
        # Line 1 has word timings; the others were corrected by hand.
        seg.words = timed_words(seg.text, seg.start_s)
        SystemNoteWriter(s).add_version(
            info.id,
            None,
            {"plan": {"title": "Plan", "position": 0, "text": "Sleep.", "evidence": [1, 2], "sentences": []}},
            "local",
        )
        SystemNoteWriter(s).replace_flags(
            info.id, [{"kind": "sleep", "severity": "low", "quote": "wake", "segment_idx": 1}]
        )
    return info


def _actions(ctx: AppContext, user: Any) -> list[str]:
    return [e.action for e in AuditService(ctx, user).trail_sync()]


def test_split_line_to_a_new_speaker_keeps_citations(ctx: AppContext, therapist: Any, session: Any) -> None:
    service = SessionService(ctx, therapist)
    change = service.split_line_sync(session.id, 1, 5, "new", role="therapist", name="Dana")
    assert change.action == "split_line" and change.speaker == "SPEAKER_02"
    assert change.lines == [1, 3] and change.needs_regeneration and change.session.needs_regeneration
    rows = segment_rows(ctx, session.id)
    assert rows[1].text == "Badly, I wake at four." and rows[1].speaker == "SPEAKER_01" and rows[1].manual
    new = rows[3]
    assert new.text == "Have you tried writing it down?" and new.speaker == "SPEAKER_02" and new.role == "therapist"
    assert new.split_from == 1 and new.manual
    assert rows[1].end_s <= new.start_s and new.start_s == pytest.approx(5.0 + 5 * 0.5)
    assert [w["word"].strip() for w in new.words] == new.text.split()
    assert [r.idx for r in sorted(rows.values(), key=lambda r: (r.start_s, r.idx))] == [0, 1, 3, 2]
    # What the note and the flag cite is untouched: the line numbers still hold the same words.
    with ctx.db.unit_of_work() as s:
        note = s.scalars(select(Note).where(Note.session_id == session.id)).one()
        assert note.sections["plan"]["evidence"] == [1, 2]
        assert s.scalars(select(RiskFlag.segment_idx)).one() == 1
    assert "wake" in rows[1].text
    speakers = service.get_sync(session.id).speakers
    assert speakers["SPEAKER_02"]["name"] == "Dana" and speakers["SPEAKER_02"]["role"] == "therapist"
    assert "speakers.split_line" in _actions(ctx, therapist)
    transcript = service.transcript_sync(session.id)
    assert [seg.idx for seg in transcript] == [0, 1, 3, 2]
    assert transcript[2].split_from == 1 and transcript[2].manual


def test_split_without_timings_and_to_an_existing_speaker(ctx: AppContext, therapist: Any, session: Any) -> None:
    service = SessionService(ctx, therapist)
    change = service.split_line_sync(session.id, 0, 3, "SPEAKER_01")
    rows = segment_rows(ctx, session.id)
    assert rows[0].text == "How have you" and rows[3].text == "been sleeping this week?"
    assert rows[3].speaker == "SPEAKER_01" and rows[3].role == "client" and rows[3].words == []
    assert 0.0 < rows[0].end_s == rows[3].start_s < 4.5
    assert change.speaker == "SPEAKER_01"


@pytest.mark.parametrize(
    ("idx", "at_word", "speaker", "error"),
    [
        (9, 1, "new", NotFoundError),
        (0, 0, "new", ValidationError),
        (0, 7, "new", ValidationError),
        (0, 2, "SPEAKER_00", ValidationError),
        (0, 2, "SPEAKER_07", NotFoundError),
    ],
)
def test_bad_splits_are_refused(
    ctx: AppContext, therapist: Any, session: Any, idx: int, at_word: int, speaker: str, error: type[Exception]
) -> None:
    service = SessionService(ctx, therapist)
    with pytest.raises(error) as caught:
        service.split_line_sync(session.id, idx, at_word, speaker)
    assert str(caught.value)
    assert len(segment_rows(ctx, session.id)) == 3
    assert not service.get_sync(session.id).needs_regeneration


def test_split_refuses_a_bad_role(ctx: AppContext, therapist: Any, session: Any) -> None:
    with pytest.raises(ValidationError, match="Role must be"):
        SessionService(ctx, therapist).split_line_sync(session.id, 0, 2, "new", role="boss")


def test_merge_speakers(ctx: AppContext, therapist: Any, session: Any) -> None:
    service = SessionService(ctx, therapist)
    service.update_sync(session.id, speaker_names={"SPEAKER_01": "Jordan"})
    change = service.merge_speakers_sync(session.id, "SPEAKER_01", "SPEAKER_00")
    assert change.action == "merge" and change.speaker == "SPEAKER_00" and change.lines == [1]
    assert change.needs_regeneration
    rows = segment_rows(ctx, session.id)
    assert {r.speaker for r in rows.values()} == {"SPEAKER_00"}
    assert {r.role for r in rows.values()} == {"therapist"}
    assert sorted(rows) == [0, 1, 2]  # lines are relabelled, never joined: every citation stays valid
    speakers = service.get_sync(session.id).speakers
    assert set(speakers) == {"SPEAKER_00"} and speakers["SPEAKER_00"]["name"] == "Jordan"
    assert "speakers.merge" in _actions(ctx, therapist)
    with pytest.raises(NotFoundError):
        service.merge_speakers_sync(session.id, "SPEAKER_01", "SPEAKER_00")
    with pytest.raises(ValidationError):
        service.merge_speakers_sync(session.id, "SPEAKER_00", "SPEAKER_00")


def test_add_speaker_then_move_a_line_to_them(ctx: AppContext, therapist: Any, session: Any) -> None:
    service = SessionService(ctx, therapist)
    change = service.add_speaker_sync(session.id, "partner", "  Sam  ")
    assert change.speaker == "SPEAKER_02" and not change.needs_regeneration and change.lines == []
    entry = change.session.speakers["SPEAKER_02"]
    assert entry["role"] == "partner" and entry["name"] == "Sam"
    assert service.add_speaker_sync(session.id, "other").speaker == "SPEAKER_03"
    service.fix_segment_sync(session.id, 2, speaker="SPEAKER_02")
    rows = segment_rows(ctx, session.id)
    assert rows[2].speaker == "SPEAKER_02" and rows[2].role == "partner" and rows[2].manual
    assert service.get_sync(session.id).needs_regeneration
    assert "speakers.add" in _actions(ctx, therapist)
    with pytest.raises(ValidationError, match="role"):
        service.add_speaker_sync(session.id, "")


def test_regeneration_clears_the_offer(ctx: AppContext, therapist: Any, session: Any) -> None:
    service = SessionService(ctx, therapist)
    service.merge_speakers_sync(session.id, "SPEAKER_01", "SPEAKER_00")
    assert service.get_sync(session.id).needs_regeneration
    assert [i.needs_regeneration for i in service.list_sessions_sync()] == [True]
    with ctx.db.unit_of_work() as s:
        SystemNoteWriter(s).add_version(session.id, None, {}, "local")
    assert not service.get_sync(session.id).needs_regeneration
    assert [i.needs_regeneration for i in service.list_sessions_sync()] == [False]


def test_signed_note_is_never_touched(ctx: AppContext, therapist: Any, session: Any) -> None:
    service = SessionService(ctx, therapist)
    notes = NoteService(ctx, therapist)
    signed = notes.sign_sync(session.id)
    service.split_line_sync(session.id, 1, 5, "SPEAKER_00")
    service.merge_speakers_sync(session.id, "SPEAKER_01", "SPEAKER_00")
    after = notes.get_sync(session.id)
    assert after.status == "signed" and after.version == signed.version
    assert after.sections == signed.sections
    assert service.get_sync(session.id).needs_regeneration


def test_rediarize_queues_a_job(ctx: AppContext, therapist: Any, session: Any) -> None:
    service = SessionService(ctx, therapist)
    change = service.rediarize_sync(session.id, 2)
    assert change.job_id is not None and change.session.status == "queued"
    with ctx.db.unit_of_work() as s:
        job = s.get(ProcessingJob, change.job_id)
        assert job is not None and job.kind == "rediarize" and job.params == {"voices": 2}
    assert "speakers.rediarize" in _actions(ctx, therapist)
    with pytest.raises(ValidationError, match="being processed"):
        service.split_line_sync(session.id, 0, 2, "new")
    assert service.cancel_sync(session.id)
    info = service.get_sync(session.id)
    assert info.status == "completed" and info.stage_detail == "Speaker separation cancelled"
    auto = service.rediarize_sync(session.id, None)
    with ctx.db.unit_of_work() as s:
        job = s.get(ProcessingJob, auto.job_id)
        assert job is not None and job.params == {"voices": None}


@pytest.mark.parametrize("voices", [0, 7])
def test_rediarize_refuses_a_bad_count(ctx: AppContext, therapist: Any, session: Any, voices: int) -> None:
    with pytest.raises(ValidationError, match="1 to 6"):
        SessionService(ctx, therapist).rediarize_sync(session.id, voices)


def test_rediarize_needs_the_recording(ctx: AppContext, therapist: Any, session: Any) -> None:
    service = SessionService(ctx, therapist)
    service.delete_recording_sync(session.id)
    with pytest.raises(ValidationError, match="recording was deleted"):
        service.rediarize_sync(session.id, 2)
    with ctx.db.unit_of_work() as s:
        assert s.scalars(select(ProcessingJob).where(ProcessingJob.kind == "rediarize")).first() is None


def test_deleted_transcript_refuses_corrections(ctx: AppContext, therapist: Any, session: Any) -> None:
    service = SessionService(ctx, therapist)
    service.delete_transcript_sync(session.id)
    for call in (
        lambda: service.split_line_sync(session.id, 0, 2, "new"),
        lambda: service.merge_speakers_sync(session.id, "SPEAKER_01", "SPEAKER_00"),
        lambda: service.add_speaker_sync(session.id, "client"),
        lambda: service.rediarize_sync(session.id, 2),
    ):
        with pytest.raises(ValidationError, match="deleted"):
            call()


# -- the pure parts ------------------------------------------------------------------------------------------


def test_split_in_an_anonymous_session_counts_words_as_shown(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    lines = [("therapist", "Hello."), ("client", "I told Jordan Lee about it yesterday.")]
    info = session_with_transcript(ctx, therapist, two_speaker[0], lines)
    service = SessionService(ctx, therapist)
    service.reassign_sync(info.id, client_name="Jordan Lee")
    service.set_anonymous_sync(info.id, True)
    shown = service.transcript_sync(info.id)[1].text
    assert shown == "I told [client] about it yesterday."
    service.split_line_sync(info.id, 1, shown.split().index("about"), "SPEAKER_00")
    rows = segment_rows(ctx, info.id)
    assert rows[1].text == "I told Jordan Lee" and rows[2].text == "about it yesterday."


def test_next_label() -> None:
    assert next_label([]) == "SPEAKER_00"
    assert next_label(["SPEAKER_00", "SPEAKER_03", "odd"]) == "SPEAKER_04"


def test_split_parts_with_mismatched_timings_drops_them() -> None:
    head, tail = split_parts(0.0, 10.0, "one two three four", [{"start": 0, "end": 1, "word": " one"}], 2)
    assert (head.text, tail.text) == ("one two", "three four")
    assert head.words == tail.words == [] and head.end_s == tail.start_s == pytest.approx(10 * 7 / 17, abs=0.01)


def test_relabel_keeps_corrected_lines_and_matches_voices() -> None:
    lines = [
        StoredLine(0, 0.0, 2.0, "SPEAKER_00", "How are you today?", timed_words("How are you today?", 0.0)),
        StoredLine(
            1,
            2.5,
            6.0,
            "SPEAKER_00",
            "Fine thanks. And what brings you here?",
            timed_words("Fine thanks. And what brings you here?", 2.5),
        ),
        StoredLine(2, 6.5, 8.0, "SPEAKER_01", "Work stress mostly.", [], manual=True),
    ]
    turns = [
        SpeakerTurn(0.0, 2.2, "SPEAKER_00"),
        SpeakerTurn(2.4, 3.4, "SPEAKER_01"),
        SpeakerTurn(3.4, 6.2, "SPEAKER_00"),
        SpeakerTurn(6.3, 8.0, "SPEAKER_00"),  # the separation disagrees with the therapist's correction here
    ]
    out = relabel(lines, turns)
    by_idx = {x.idx: x for x in out.lines}
    assert by_idx[2].speaker == "SPEAKER_01" and by_idx[2].text == "Work stress mostly."  # kept as corrected
    assert by_idx[1].text == "Fine thanks." and by_idx[3].split_from == 1
    assert by_idx[3].text == "And what brings you here?"
    assert by_idx[1].speaker != by_idx[0].speaker == by_idx[3].speaker
    assert out.changed == [1]
    assert [x.idx for x in out.lines] == [0, 1, 3, 2]
    assert set(out.roles) == {x.speaker for x in out.lines}
