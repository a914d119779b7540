"""What a therapist keeps: deleting the recording, the transcript or the session; anonymous mode; reassign,
update and per-line fixes — owner-only, audited without PHI, checked on disk and through the CLI."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests_support import session_with_transcript

from tbdesktop.errors import NotFoundError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.notes import NoteService, stored_sections
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import AuditEvent, Note, ProcessingJob, RiskFlag, TherapySession, TranscriptSegment
from tbdesktop.store.note_repositories import SystemNoteWriter

LINES = [
    ("therapist", "Good morning Jordan, how was your week?"),
    ("client", "Jordan here was tired all week, I slept four hours a night."),
    ("therapist", "Let's keep a sleep diary until next Tuesday."),
]


def _with_note(ctx: AppContext, session_id: Any) -> None:
    result = {
        "generator": "local",
        "sections": [
            {
                "key": "subjective",
                "title": "Subjective",
                "sentences": [{"text": 'Client: "Jordan here was tired all week."', "evidence": [1]}],
            }
        ],
    }
    with ctx.db.unit_of_work() as s:
        SystemNoteWriter(s).add_version(session_id, None, stored_sections(result), "local")
        SystemNoteWriter(s).replace_flags(
            session_id, [{"kind": "substance_use", "severity": "low", "quote": "Jordan drinks", "segment_idx": 1}]
        )


def _recording_files(ctx: AppContext) -> list[str]:
    return sorted(p.name for p in ctx.settings.recordings_dir.iterdir())


def _audit_actions(ctx: AppContext) -> list[tuple[str, str | None]]:
    with ctx.db.unit_of_work() as s:
        return [(e.action, e.object_id) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_delete_recording_removes_the_file_and_keeps_the_rest(
    ctx: AppContext, therapist: Any, two_speaker: Any
) -> None:
    service = SessionService(ctx, therapist)
    info = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    _with_note(ctx, info.id)
    assert len(_recording_files(ctx)) == 1
    after = service.delete_recording_sync(info.id)
    assert _recording_files(ctx) == []
    assert not after.recording_available and after.recording_deleted_at is not None
    assert len(service.transcript_sync(info.id)) == 3
    assert NoteService(ctx, therapist).get_sync(info.id).version == 1
    with pytest.raises(ValidationError, match="already deleted on"):
        service.delete_recording_sync(info.id)
    assert ("recording.delete", str(info.id)) in _audit_actions(ctx)


def test_delete_transcript_purges_text_and_keeps_notes(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    service = SessionService(ctx, therapist)
    info = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    _with_note(ctx, info.id)
    after = service.delete_transcript_sync(info.id)
    assert after.transcript_deleted_at is not None
    assert service.transcript_sync(info.id) == []
    with ctx.db.unit_of_work() as s:
        assert s.scalars(select(TranscriptSegment).where(TranscriptSegment.session_id == info.id)).all() == []
    assert NoteService(ctx, therapist).get_sync(info.id).sections[0].text.startswith("Client:")
    with pytest.raises(ValidationError, match="transcript of this session was deleted"):
        NoteService(ctx, therapist).regenerate_sync(info.id)
    with pytest.raises(ValidationError, match="transcript of this session was deleted"):
        service.fix_segment_sync(info.id, 0, text="x")
    assert ("transcript.delete", str(info.id)) in _audit_actions(ctx)


def test_delete_session_removes_everything(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    service = SessionService(ctx, therapist)
    keep = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    gone = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    _with_note(ctx, gone.id)
    queued = service.import_recording_sync(
        ImportRequest(allow_duplicate=True, source=two_speaker[0], consent_method="verbal")
    )  # a job still waiting
    service.delete_session_sync(gone.id)
    service.delete_session_sync(queued.id)
    assert len(_recording_files(ctx)) == 1
    with ctx.db.unit_of_work() as s:
        for model in (TranscriptSegment, Note, RiskFlag, ProcessingJob):
            rows = s.scalars(select(model).where(model.session_id.in_([gone.id, queued.id]))).all()
            assert rows == [], model
        assert s.get(TherapySession, gone.id) is None
    with pytest.raises(NotFoundError):
        service.get_sync(gone.id)
    assert [s.id for s in service.list_sessions_sync()] == [keep.id]
    assert ("session.delete", str(gone.id)) in _audit_actions(ctx)


def test_processing_sessions_are_not_half_deleted(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    service = SessionService(ctx, therapist)
    queued = service.import_recording_sync(ImportRequest(source=two_speaker[0], consent_method="verbal"))
    with pytest.raises(ValidationError, match="still being processed"):
        service.delete_recording_sync(queued.id)
    assert len(_recording_files(ctx)) == 1
    assert service.cancel_sync(queued.id)
    assert service.get_sync(queued.id).status == "cancelled"
    service.delete_recording_sync(queued.id)
    assert _recording_files(ctx) == []


def test_anonymous_hides_the_name_everywhere(ctx: AppContext, therapist: Any, two_speaker: Any, capsys: Any) -> None:
    from tbdesktop import cli

    service = SessionService(ctx, therapist)
    info = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    _with_note(ctx, info.id)
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None
        row.ai_summary = "Jordan talked about sleep."
    service.update_sync(info.id, speaker_names={"SPEAKER_01": "Jordan"})  # the client's voice, named
    on = service.set_anonymous_sync(info.id, True)
    assert on.speakers["SPEAKER_01"]["name"] == "[client]"
    assert on.is_anonymous and on.client_name is None and on.display_client == "Anonymous individual"
    assert on.ai_summary == "[client] talked about sleep."
    listed = service.list_sessions_sync()[0]
    assert listed.display_client == "Anonymous individual" and listed.client_name is None
    texts = [s.text for s in service.transcript_sync(info.id)]
    assert texts[0] == "Good morning [client], how was your week?" and "Jordan" not in " ".join(texts)
    note = NoteService(ctx, therapist).get_sync(info.id)
    assert "Jordan" not in json.dumps(note.to_json()) and "[client]" in note.sections[0].text
    assert NoteService(ctx, therapist).risk_flags_sync(info.id)[0].quote == "[client] drinks"

    data_dir = str(ctx.settings.data_dir)
    for command in (
        ["session", "show", str(info.id)],
        ["session", "show", str(info.id), "--json"],
        ["session", "list"],
        ["session", "list", "--json"],
        ["session", "transcript", str(info.id)],
        ["session", "transcript", str(info.id), "--json"],
        ["session", "notes", str(info.id), "--json"],
    ):
        assert cli.main([*command, "--data-dir", data_dir]) == 0
        out = capsys.readouterr().out
        assert "Jordan" not in out, command
    assert cli.main(["session", "show", str(info.id), "--data-dir", data_dir]) == 0
    assert "Anonymous individual" in capsys.readouterr().out

    off = service.set_anonymous_sync(info.id, False)
    assert off.client_name == "Jordan" and "Jordan" in service.transcript_sync(info.id)[0].text
    assert off.speakers["SPEAKER_01"]["name"] == "Jordan"
    actions = [a for a, _ in _audit_actions(ctx)]
    assert "session.anonymous_on" in actions and "session.anonymous_off" in actions


def test_reassign_update_and_fix_segment(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    service = SessionService(ctx, therapist)
    info = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    moved = service.reassign_sync(info.id, client_name="Riley Park")
    assert moved.client_name == "Riley Park"
    riley = next(c for c in service.list_clients_sync() if c.name == "Riley Park")
    assert service.reassign_sync(info.id, client_id=riley.id).client_id == riley.id

    yesterday = date.today() - timedelta(days=1)
    updated = service.update_sync(
        info.id, session_date=yesterday, consent_method="written", speaker_names={"SPEAKER_01": "Riley"}
    )
    assert updated.session_date == yesterday and updated.consent_method == "written"
    assert updated.consent_obtained_at is not None and updated.speakers["SPEAKER_01"]["name"] == "Riley"
    with pytest.raises(ValidationError, match="future"):
        service.update_sync(info.id, session_date=date.today() + timedelta(days=3))
    with pytest.raises(ValidationError, match="Consent method"):
        service.update_sync(info.id, consent_method="telepathy")
    with pytest.raises(NotFoundError, match="no speaker"):
        service.update_sync(info.id, speaker_names={"SPEAKER_09": "X"})

    fixed = service.fix_segment_sync(info.id, 1, text="  I slept  five hours a night. ", speaker="SPEAKER_00")
    assert (fixed.text, fixed.speaker, fixed.role) == ("I slept five hours a night.", "SPEAKER_00", "therapist")
    assert service.transcript_sync(info.id)[1].text == "I slept five hours a night."
    with pytest.raises(NotFoundError, match="no line 7"):
        service.fix_segment_sync(info.id, 7, text="x")
    with pytest.raises(ValidationError, match="empty"):
        service.fix_segment_sync(info.id, 0, text="   ")
    actions = [a for a, _ in _audit_actions(ctx)]
    assert {"session.reassign", "session.update", "transcript.fix"} <= set(actions)


def test_another_therapist_cannot_touch_my_session(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    info = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    other = SessionService(ctx, ProfileService(ctx).create_profile_sync("Sam Okafor", "sam@example.org"))
    attempts = [
        lambda: other.delete_recording_sync(info.id),
        lambda: other.delete_transcript_sync(info.id),
        lambda: other.delete_session_sync(info.id),
        lambda: other.set_anonymous_sync(info.id, True),
        lambda: other.reassign_sync(info.id, client_name="Taken"),
        lambda: other.update_sync(info.id, consent_method="verbal"),
        lambda: other.fix_segment_sync(info.id, 0, text="x"),
        lambda: other.cancel_sync(info.id),
        lambda: other.get_sync(info.id),
        lambda: other.transcript_sync(info.id),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError):
            attempt()
    assert len(_recording_files(ctx)) == 1
    assert SessionService(ctx, therapist).get_sync(info.id).client_name == "Jordan"


def test_audit_rows_carry_no_phi(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    service = SessionService(ctx, therapist)
    info = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    service.set_anonymous_sync(info.id, True)
    service.fix_segment_sync(info.id, 0, text="Jordan said hello")
    service.reassign_sync(info.id, client_name="Riley Park")
    service.delete_transcript_sync(info.id)
    service.delete_recording_sync(info.id)
    with ctx.db.unit_of_work() as s:
        rows = s.scalars(select(AuditEvent)).all()
        dumped = json.dumps([[e.action, e.object_type, e.object_id, e.workstation, str(e.user_id)] for e in rows])
    assert len(rows) >= 6
    for phi in ("Jordan", "Riley", "slept", "hello", "morning"):
        assert phi not in dumped


def test_cli_lifecycle_commands(ctx: AppContext, therapist: Any, two_speaker: Any, capsys: Any) -> None:
    from tbdesktop import cli

    info = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    d = ["--data-dir", str(ctx.settings.data_dir)]
    sid = str(info.id)
    assert cli.main(["session", "anonymous", sid, "on", *d]) == 0
    assert cli.main(["session", "reassign", sid, "Casey", *d, "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["session", "update", sid, "--consent", "verbal", "--speaker-name", "SPEAKER_00=Dr. Lee", *d]) == 0
    assert cli.main(["session", "fix-segment", sid, "2", "--text", "See you Tuesday.", *d, "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["session", "fix-segment", sid, "2", *d]) == 1
    assert "corrected text or speaker" in capsys.readouterr().err
    assert cli.main(["session", "transcript", sid, *d, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[2]["text"] == "See you Tuesday."
    assert cli.main(["session", "delete-recording", sid, *d]) == 0
    assert "Recording deleted" in capsys.readouterr().out
    assert cli.main(["session", "delete-recording", sid, *d]) == 1
    assert "already deleted" in capsys.readouterr().err
    assert cli.main(["session", "delete-transcript", sid, *d]) == 0
    assert cli.main(["session", "delete", sid, *d]) == 1
    assert "--yes" in capsys.readouterr().err
    assert cli.main(["session", "delete", sid, "--yes", *d]) == 0
    assert cli.main(["session", "show", sid, *d]) == 1
    assert _recording_files(ctx) == []


def test_consent_gate(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    """Without recorded consent a session is kept but not processed; recording consent releases it."""
    import asyncio

    from tbdesktop.services.processing import ProcessingRunner

    service = SessionService(ctx, therapist)
    held = service.import_recording_sync(
        ImportRequest(allow_duplicate=True, source=two_speaker[0], client_name="Jordan")
    )
    assert held.status == "queued" and held.stage_detail == "Waiting for the client's consent"
    assert held.consent_obtained_at is None
    with ctx.db.unit_of_work() as s:
        assert s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == held.id)).all() == []
    assert asyncio.run(ProcessingRunner(ctx, owner_ids=[therapist.id]).run_until_idle()) == 0
    assert service.get_sync(held.id).status == "queued"

    released = service.update_sync(held.id, consent_method="written")
    assert released.consent_method == "written" and released.consent_obtained_at is not None
    assert released.stage_detail == "Waiting to start"
    with ctx.db.unit_of_work() as s:
        jobs = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == held.id)).all()
        assert [j.status for j in jobs] == ["queued"]

    service.set_consent_required_sync(False)
    free = service.import_recording_sync(ImportRequest(allow_duplicate=True, source=two_speaker[0]))
    assert free.stage_detail == "Waiting to start"
    with ctx.db.unit_of_work() as s:
        assert len(s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == free.id)).all()) == 1


def test_retry_queues_a_failed_session_again(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    from tbdesktop.store.models import ProcessingStatus

    service = SessionService(ctx, therapist)
    info = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    with pytest.raises(ValidationError, match="failed or was cancelled"):
        service.retry_sync(info.id)
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None
        row.processing_status = ProcessingStatus.FAILED
        row.processing_error = "The worker stopped."
    again = service.retry_sync(info.id)
    assert again.status == "queued" and again.error is None and again.progress == 0
    with ctx.db.unit_of_work() as s:
        kinds = [j.status for j in s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id))]
    assert kinds.count("queued") == 1
    assert ("session.retry", str(info.id)) in _audit_actions(ctx)
    other = ProfileService(ctx).create_profile_sync("Other Therapist")
    with pytest.raises(NotFoundError):
        SessionService(ctx, other).retry_sync(info.id)

    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None
        row.processing_status = ProcessingStatus.CANCELLED
        for job in s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)):
            job.status = "cancelled"
    service.delete_recording_sync(info.id)
    with pytest.raises(ValidationError, match="recording was deleted"):
        service.retry_sync(info.id)


def test_cards_carry_the_highest_raised_risk(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    service = SessionService(ctx, therapist)
    flagged = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    denied = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    clear = session_with_transcript(ctx, therapist, two_speaker[0], LINES)
    with ctx.db.unit_of_work() as s:
        SystemNoteWriter(s).replace_flags(
            flagged.id,
            [
                {"kind": "substance_use", "severity": "low", "quote": "Jordan drinks", "segment_idx": 1},
                {"kind": "suicidal_ideation", "severity": "moderate", "quote": "tired all week", "segment_idx": 1},
                {"kind": "self_harm", "severity": "denied", "quote": "tired all week", "segment_idx": 1},
            ],
        )
        SystemNoteWriter(s).replace_flags(
            denied.id, [{"kind": "self_harm", "severity": "denied", "quote": "tired all week", "segment_idx": 1}]
        )
    by_id = {i.id: i for i in service.list_sessions_sync()}
    assert by_id[flagged.id].risk_level == "moderate"
    assert by_id[flagged.id].risk_kinds == ("substance_use", "suicidal_ideation")
    assert by_id[denied.id].risk_level is None and by_id[denied.id].risk_kinds == ()
    assert by_id[clear.id].risk_level is None
    assert service.get_sync(flagged.id).risk_level == "moderate"
