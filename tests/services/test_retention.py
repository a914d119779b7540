"""Retention with an injected clock: recordings N days after processing, transcripts N days after signing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests_support import session_with_transcript

from tbdesktop.errors import ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.notes import NoteService, stored_sections
from tbdesktop.services.retention import RetentionService
from tbdesktop.services.sessions import SessionService
from tbdesktop.store.models import AuditEvent, JobKind, ProcessingJob, utcnow
from tbdesktop.store.note_repositories import SystemNoteWriter

LINES = [("therapist", "How did the week go?"), ("client", "Better, I walked every day.")]


def _processed(ctx: AppContext, user: Any, wav: Any, finished: datetime) -> Any:
    info = session_with_transcript(ctx, user, wav, LINES)
    with ctx.db.unit_of_work() as s:
        for job in s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)):
            job.kind, job.status, job.finished_at = JobKind.PROCESS.value, "completed", finished
    return info


def _files(ctx: AppContext) -> int:
    return len(list(ctx.settings.recordings_dir.iterdir()))


def test_recordings_are_deleted_after_their_days(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    t0 = utcnow()
    old = _processed(ctx, therapist, two_speaker[0], t0 - timedelta(days=10))
    recent = _processed(ctx, therapist, two_speaker[0], t0 - timedelta(days=2))
    service = RetentionService(ctx, clock=lambda: t0)
    assert service.apply_sync().recordings_deleted == 0  # no setting: everything is kept
    service.set_retention_sync(therapist.id, recording_days=7, transcript_days=None)
    report = service.apply_sync()
    assert (report.recordings_deleted, report.transcripts_deleted) == (1, 0)
    sessions = SessionService(ctx, therapist)
    assert not sessions.get_sync(old.id).recording_available and sessions.get_sync(recent.id).recording_available
    assert _files(ctx) == 1
    assert len(sessions.transcript_sync(old.id)) == 2  # only the recording goes
    later = RetentionService(ctx, clock=lambda: t0 + timedelta(days=6))
    assert later.apply_sync().recordings_deleted == 1 and _files(ctx) == 0
    with ctx.db.unit_of_work() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent))]
    assert actions.count("retention.recording_delete") == 2


def test_zero_days_means_right_after_processing(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    t0 = utcnow()
    done = _processed(ctx, therapist, two_speaker[0], t0)
    service = RetentionService(ctx, clock=lambda: t0)
    service.set_retention_sync(therapist.id, recording_days=0, transcript_days=None)
    assert service.apply_sync().recordings_deleted == 1
    assert not SessionService(ctx, therapist).get_sync(done.id).recording_available


def test_transcripts_are_deleted_days_after_signing(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    t0 = utcnow()
    signed = _processed(ctx, therapist, two_speaker[0], t0)
    draft = _processed(ctx, therapist, two_speaker[0], t0)
    for info in (signed, draft):
        with ctx.db.unit_of_work() as s:
            result = {"sections": [{"key": "plan", "title": "Plan", "sentences": [{"text": "Walk.", "evidence": [1]}]}]}
            SystemNoteWriter(s).add_version(info.id, None, stored_sections(result), "local")
    NoteService(ctx, therapist).sign_sync(signed.id)
    RetentionService(ctx).set_retention_sync(therapist.id, recording_days=None, transcript_days=3)
    assert RetentionService(ctx, clock=lambda: t0 + timedelta(days=2)).apply_sync().transcripts_deleted == 0
    report = RetentionService(ctx, clock=lambda: t0 + timedelta(days=4)).apply_sync()
    assert (report.recordings_deleted, report.transcripts_deleted) == (0, 1)
    sessions = SessionService(ctx, therapist)
    assert sessions.transcript_sync(signed.id) == [] and sessions.get_sync(signed.id).transcript_deleted_at
    assert len(sessions.transcript_sync(draft.id)) == 2  # an unsigned note keeps its transcript
    assert NoteService(ctx, therapist).get_sync(signed.id).status == "signed"  # the note stays


def test_retention_settings_are_validated(ctx: AppContext, therapist: Any) -> None:
    with pytest.raises(ValidationError, match="between 0 and"):
        RetentionService(ctx).set_retention_sync(therapist.id, recording_days=-1, transcript_days=None)


def test_cli_retention(ctx: AppContext, therapist: Any, two_speaker: Any, capsys: Any) -> None:
    import json

    from tbdesktop import cli

    _processed(ctx, therapist, two_speaker[0], utcnow() - timedelta(days=40))
    d = ["--data-dir", str(ctx.settings.data_dir)]
    assert cli.main(["retention", "set", "--recordings", "30", "--transcripts", "keep", *d]) == 0
    assert cli.main(["retention", "apply", "--json", *d]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["recordings_deleted"] == 1
    assert _files(ctx) == 0
    assert cli.main(["retention", "set", "--recordings", "soon", "--transcripts", "keep", *d]) == 1
