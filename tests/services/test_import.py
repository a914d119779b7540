"""Importing a recording: validation, copying under an app-generated name, one transaction."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tbdesktop.errors import TBError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import AuditEvent, ProcessingJob, TherapySession


def _count(ctx: AppContext, model: Any) -> int:
    with ctx.db.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_import_copies_hashes_and_queues(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    wav, _, _ = two_speaker
    copies: list[tuple[int, int]] = []
    info = SessionService(ctx, therapist).import_recording_sync(
        ImportRequest(source=wav, client_name="Alex Kim", session_date=date(2026, 11, 20), consent_method="verbal"),
        on_copy=lambda done, total: copies.append((done, total)),
    )
    assert info.status == "queued"
    assert info.client_name == "Alex Kim"
    assert info.session_date == date(2026, 11, 20)
    assert info.duration_mins is not None and 0.2 < info.duration_mins < 1.0
    assert info.consent_method == "verbal" and info.consent_obtained_at is not None
    assert copies and copies[-1][0] == copies[-1][1] == wav.stat().st_size

    stored = list(ctx.settings.recordings_dir.iterdir())
    assert len(stored) == 1
    assert stored[0].name != wav.name and wav.stem not in stored[0].name  # app-generated name
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None
        assert row.recording_sha256 == hashlib.sha256(wav.read_bytes()).hexdigest()
        assert row.recording_bytes == wav.stat().st_size
        assert row.recording_path == stored[0].name
        jobs = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)).all()
        assert [(j.kind, j.status) for j in jobs] == [("process", "queued")]
        actions = s.scalars(select(AuditEvent.action)).all()
        assert "session.import" in actions


def test_existing_client_is_reused(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    wav, _, _ = two_speaker
    service = SessionService(ctx, therapist)
    first = service.import_recording_sync(
        ImportRequest(allow_duplicate=True, source=wav, client_name="Alex Kim", consent_method="verbal")
    )
    second = service.import_recording_sync(
        ImportRequest(allow_duplicate=True, source=wav, client_name="alex kim", consent_method="verbal")
    )
    assert first.client_id == second.client_id
    assert [c.name for c in service.list_clients_sync()] == ["Alex Kim"]


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("not_audio", "cannot be imported"),
        ("empty", "empty"),
        ("truncated", "truncated"),
        ("video_only", "cannot be imported"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_kept(
    ctx: AppContext, therapist: Any, audio_files: dict[str, Path], fixture: str, message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        SessionService(ctx, therapist).import_recording_sync(
            ImportRequest(source=audio_files[fixture], consent_method="verbal")
        )
    assert message in err.value.message
    assert "Traceback" not in err.value.message
    assert _count(ctx, TherapySession) == 0
    assert _count(ctx, ProcessingJob) == 0
    assert list(ctx.settings.recordings_dir.iterdir()) == []


def test_over_long_audio_is_refused(make_settings: Any, audio_files: dict[str, Path]) -> None:
    from tbdesktop.services.profiles import ProfileService

    context = AppContext.open(make_settings(max_duration_min=1.0))
    try:
        user = ProfileService(context).create_profile_sync("T")
        with pytest.raises(ValidationError) as err:
            SessionService(context, user).import_recording_sync(
                ImportRequest(source=audio_files["long"], consent_method="verbal")
            )
        assert "limit" in err.value.message and "TB_MAX_DURATION_MIN" in err.value.message
        assert _count(context, TherapySession) == 0
    finally:
        context.close()


def test_missing_file_and_bad_consent(ctx: AppContext, therapist: Any, two_speaker: Any, tmp_path: Path) -> None:
    service = SessionService(ctx, therapist)
    with pytest.raises(TBError, match="does not exist"):
        service.import_recording_sync(ImportRequest(source=tmp_path / "nope.wav", consent_method="verbal"))
    with pytest.raises(TBError, match="Consent"):
        service.import_recording_sync(ImportRequest(source=two_speaker[0], consent_method="telepathy"))


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "flac", "m4a"])
def test_common_formats_import(ctx: AppContext, therapist: Any, audio_files: dict[str, Path], fmt: str) -> None:
    info = SessionService(ctx, therapist).import_recording_sync(
        ImportRequest(source=audio_files[fmt], consent_method="verbal")
    )
    assert info.status == "queued"
    assert info.duration_mins is not None and info.duration_mins > 0.2


def test_other_user_cannot_see_imported_session(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    from tbdesktop.errors import NotFoundError
    from tbdesktop.services.profiles import ProfileService

    info = SessionService(ctx, therapist).import_recording_sync(
        ImportRequest(source=two_speaker[0], consent_method="verbal")
    )
    other = ProfileService(ctx).create_profile_sync("Sam Other", "sam@example.org")
    other_service = SessionService(ctx, other)
    assert other_service.list_sessions_sync() == []
    with pytest.raises(NotFoundError):
        other_service.get_sync(info.id)
    with pytest.raises(NotFoundError):
        other_service.transcript_sync(info.id)


def test_the_same_recording_twice_is_refused_with_the_session_it_is_in(
    ctx: AppContext, therapist: Any, two_speaker: Any, tmp_path: Path
) -> None:
    import shutil

    from tbdesktop.errors import DuplicateRecordingError

    service = SessionService(ctx, therapist)
    first = service.import_recording_sync(
        ImportRequest(source=two_speaker[0], client_name="Sam Ortiz", consent_method="verbal")
    )
    renamed = tmp_path / "monday-session.wav"  # the same content under another name
    shutil.copy(two_speaker[0], renamed)
    before = sorted(p.name for p in ctx.settings.recordings_dir.iterdir())
    with pytest.raises(DuplicateRecordingError) as info:
        service.import_recording_sync(ImportRequest(source=renamed, consent_method="verbal"))
    assert info.value.existing_id == first.id
    assert "imported before" in info.value.message and "Sam Ortiz" in info.value.message
    assert [s.id for s in service.list_sessions_sync()] == [first.id]  # nothing new …
    assert sorted(p.name for p in ctx.settings.recordings_dir.iterdir()) == before  # … not even its copy

    again = service.import_recording_sync(ImportRequest(source=renamed, consent_method="verbal", allow_duplicate=True))
    assert again.id != first.id and len(service.list_sessions_sync()) == 2

    from tbdesktop.services.profiles import ProfileService

    other = ProfileService(ctx).create_profile_sync("Other Therapist")  # another therapist's sessions do not count
    theirs = SessionService(ctx, other).import_recording_sync(ImportRequest(source=renamed, consent_method="verbal"))
    assert theirs.id not in {first.id, again.id}
