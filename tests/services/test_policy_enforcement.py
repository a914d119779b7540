"""The clinic policy where it matters: the Settings page's locks and bounds, saving, consent before processing,
retention, the idle lock, and the clinic server a workstation joins."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import func, select
from tests_support import session_with_transcript

from tbdesktop.config import load_settings, save_settings
from tbdesktop.errors import ValidationError
from tbdesktop.policy import LOCKED_TEXT, NO_POLICY, ClinicServer, Policy
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.recording import RecordingService
from tbdesktop.services.retention import RetentionService
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.services.settings import (
    PrivacySettings,
    ProcessingSettings,
    SettingsService,
    SettingsValidationError,
    policy_marks,
    validate_privacy,
    validate_processing,
)
from tbdesktop.services.sync.service import SyncService, clinic_target, same_server
from tbdesktop.store.models import JobKind, ProcessingJob, TherapySession, User, utcnow

POLICY = Policy(
    source=Path("/etc/TherapyBridge/policy.json"),
    clinic_server=ClinicServer("postgresql://db.clinic.lan:5432/tb?sslmode=verify-full", "/etc/tb/ca.pem"),
    allowed_transcription=("local",),
    allowed_notes=("local", "openai"),
    allowed_servers=("https://llm.clinic.lan",),
    min_recording_days=30,
    min_transcript_days=90,
    idle_lock_max_minutes=15,
    consent_required=True,
    settings=MappingProxyType({"notes_context": 4096}),
)


@pytest.fixture
def managed(make_settings: Any) -> Iterator[AppContext]:
    """A context whose settings carry the clinic policy (as load_settings gives them)."""
    context = AppContext.open(make_settings(policy=POLICY))
    yield context
    context.close()


@pytest.fixture
def dana(managed: AppContext) -> UserInfo:
    return ProfileService(managed).create_profile_sync("Dana Reyes", "dana@example.org")


def _store(ctx: AppContext, user: UserInfo, **values: Any) -> None:
    """The profile's own settings as they were before the policy came (written directly)."""
    with ctx.db.unit_of_work() as s:
        row = s.get(User, user.id)
        assert row is not None
        row.settings = {**(row.settings or {}), **values}


# -- the Settings page ----------------------------------------------------------------------------------------


def test_the_page_learns_what_it_locks_and_bounds(managed: AppContext, dana: UserInfo, tmp_path: Path) -> None:
    view = SettingsService(managed, dana, config_dir=tmp_path / "config", env={}).view_sync()
    assert view.policy is POLICY
    assert view.locked == {
        "notes_context": LOCKED_TEXT,
        "asr_backend": LOCKED_TEXT,  # one backend allowed
        "consent_required": LOCKED_TEXT,
        "clinic_server": LOCKED_TEXT,
    }
    assert view.limits == {
        "notes_backend": "Allowed by your clinic's IT: the offline draft or a notes server",
        "openai_base_url": "Allowed by your clinic's IT: https://llm.clinic.lan",
        "notes_base_url": "Allowed by your clinic's IT: https://llm.clinic.lan",
        "idle_lock_minutes": "At most 15 minutes (set by your clinic's IT)",
        "retention_recording_days": "At least 30 days (set by your clinic's IT)",
        "retention_transcript_days": "At least 90 days (set by your clinic's IT)",
    }
    env = {"TB_NOTES_CONTEXT": "2048", "TB_NOTES_THREADS": "2"}
    overridden = SettingsService(managed, dana, config_dir=tmp_path / "config", env=env).view_sync()
    assert overridden.env_overrides == ("notes_threads",)  # the locked field keeps the policy's value
    assert overridden.next_start.notes_context == 4096 and overridden.next_start.notes_threads == 2
    assert policy_marks(NO_POLICY) == ({}, {})
    assert policy_marks(Policy(source=Path("/p"), allowed_servers=()))[1]["openai_base_url"] == (
        "No server is allowed by your clinic's IT"
    )


def test_privacy_shows_what_applies(managed: AppContext, dana: UserInfo, tmp_path: Path) -> None:
    _store(managed, dana, consent_required=False, idle_lock_minutes=0, retention_recording_days=1)
    privacy = SettingsService(managed, dana, config_dir=tmp_path, env={}).privacy_sync()
    assert privacy == PrivacySettings(
        consent_required=True, retention_recording_days=30, retention_transcript_days=None, idle_lock_minutes=15
    )


def test_saving_refuses_what_the_policy_forbids(managed: AppContext, dana: UserInfo, tmp_path: Path) -> None:
    service = SettingsService(managed, dana, config_dir=tmp_path / "config", env={})
    with pytest.raises(SettingsValidationError) as err:
        service.save_processing_sync(
            ProcessingSettings(
                asr_backend="openai",
                openai_base_url="https://llm.clinic.lan/v1",
                notes_backend="openai",
                notes_base_url="https://api.example.com/v1",
                notes_model="m",
                notes_context=2048,  # neither the policy's value nor the saved one
            )
        )
    assert err.value.errors == {
        "asr_backend": "Your clinic's IT allows transcription with local only.",
        "notes_base_url": "Your clinic's IT allows these servers only: https://llm.clinic.lan.",
        "notes_context": "Your clinic's IT sets this to 4096.",
    }
    with pytest.raises(SettingsValidationError) as err:
        service.save_privacy_sync(
            PrivacySettings(
                consent_required=False, retention_recording_days=7, retention_transcript_days=None, idle_lock_minutes=0
            )
        )
    assert set(err.value.errors) == {"consent_required", "retention_recording_days", "idle_lock_minutes"}
    assert "at least 30 days" in err.value.errors["retention_recording_days"]
    assert validate_privacy(PrivacySettings(idle_lock_minutes=30), POLICY) == {
        "idle_lock_minutes": "Your clinic's IT requires the idle lock, after at most 15 minutes."
    }
    # within the bounds: saved
    ok = PrivacySettings(
        consent_required=True, retention_recording_days=45, retention_transcript_days=None, idle_lock_minutes=10
    )
    assert service.save_privacy_sync(ok).privacy == ok
    assert validate_processing(ProcessingSettings(notes_context=4096), POLICY) == {}
    assert validate_processing(ProcessingSettings(asr_backend="openai", openai_base_url="https://x.lan")) == {}


def test_policy_values_never_reach_the_settings_file(managed: AppContext, dana: UserInfo, tmp_path: Path) -> None:
    config = tmp_path / "config"
    save_settings(load_settings(config_dir=config, env={}, policy=NO_POLICY), config)
    service = SettingsService(managed, dana, config_dir=config, env={})
    view = service.view_sync()
    assert view.processing.notes_context == 8192  # the file's own value
    assert view.next_start.notes_context == 4096  # what the next start uses: the policy's
    # the form sends the locked field as shown (either value) with a change elsewhere
    for shown in (8192, 4096):
        changed = ProcessingSettings(notes_backend="openai", notes_base_url="https://llm.clinic.lan", notes_model="m")
        service.save_processing_sync(ProcessingSettings(**{**changed.__dict__, "notes_context": shown}))
        stored = json.loads((config / "settings.json").read_text())
        assert stored["notes_context"] == 8192 and stored["notes_backend"] == "openai"
        assert "policy" not in stored and stored["model_dir"] == str(
            load_settings(config_dir=config, env={}, policy=NO_POLICY).model_dir
        )


def test_a_setting_saved_before_the_policy_does_not_block_saving(
    managed: AppContext, dana: UserInfo, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    before = ProcessingSettings(asr_backend="openai", openai_base_url="https://asr.example.com")
    save_settings(
        dataclasses.replace(load_settings(config_dir=config, env={}, policy=NO_POLICY), **before.__dict__), config
    )
    service = SettingsService(managed, dana, config_dir=config, env={})
    view = service.view_sync()
    assert view.processing.asr_backend == "openai" and view.next_start.asr_backend == "local"
    # the form comes back as shown, with a change the policy allows: saved, the locked field left as it was
    service.save_processing_sync(dataclasses.replace(view.processing, notes_threads=2))
    stored = json.loads((config / "settings.json").read_text())
    assert (stored["asr_backend"], stored["notes_threads"]) == ("openai", 2)
    assert load_settings(config_dir=config, env={}, policy=POLICY).asr_backend == "local"


# -- consent, retention, idle lock --------------------------------------------------------------------------


def test_consent_is_required_whatever_the_profile_says(managed: AppContext, dana: UserInfo, two_speaker: Any) -> None:
    _store(managed, dana, consent_required=False)
    sessions = SessionService(managed, dana)
    info = sessions.import_recording_sync(ImportRequest(source=two_speaker[0], client_name="Jordan"))
    assert info.stage_detail == AWAITING_CONSENT
    with managed.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(ProcessingJob).where(ProcessingJob.session_id == info.id)) == 0
    assert RecordingService(managed, dana).consent_required_sync() is True
    with pytest.raises(ValidationError, match="requires recorded consent"):
        sessions.set_consent_required_sync(False)


def test_without_a_policy_the_profile_decides_consent(ctx: AppContext, therapist: UserInfo, two_speaker: Any) -> None:
    SessionService(ctx, therapist).set_consent_required_sync(False)
    info = SessionService(ctx, therapist).import_recording_sync(ImportRequest(source=two_speaker[0]))
    assert info.stage_detail != AWAITING_CONSENT
    assert RecordingService(ctx, therapist).consent_required_sync() is False


def test_retention_keeps_at_least_the_policys_days(managed: AppContext, dana: UserInfo, two_speaker: Any) -> None:
    t0 = utcnow()
    info = session_with_transcript(managed, dana, two_speaker[0], [("therapist", "Hello."), ("client", "Hi.")])
    with managed.db.unit_of_work() as s:
        for job in s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)):
            job.kind, job.status, job.finished_at = JobKind.PROCESS.value, "completed", t0 - timedelta(days=10)
    _store(managed, dana, retention_recording_days=0)  # set before the policy came
    assert RetentionService(managed, clock=lambda: t0).apply_sync().recordings_deleted == 0
    assert SessionService(managed, dana).get_sync(info.id).recording_available
    later = RetentionService(managed, clock=lambda: t0 + timedelta(days=21))
    assert later.apply_sync().recordings_deleted == 1  # 31 days after processing
    with pytest.raises(ValidationError, match="at least 30 days"):
        later.set_retention_sync(dana.id, recording_days=7, transcript_days=None)
    later.set_retention_sync(dana.id, recording_days=None, transcript_days=120)  # keeping longer is fine
    with managed.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None and row.recording_deleted_at is not None


def test_the_idle_lock_is_never_off_nor_longer(managed: AppContext, dana: UserInfo) -> None:
    profiles = ProfileService(managed)
    for stored, applies in ((0, 15), (60, 15), (5, 5), (None, 15)):
        _store(managed, dana, idle_lock_minutes=stored)
        assert profiles.idle_lock_minutes_sync(dana.id) == applies
    with pytest.raises(ValidationError, match="at most 15 minutes"):
        profiles.set_idle_lock_minutes_sync(dana.id, 0)
    profiles.set_idle_lock_minutes_sync(dana.id, 10)
    assert profiles.idle_lock_minutes_sync(dana.id) == 10


# -- the clinic server ------------------------------------------------------------------------------------------


def test_joining_another_server_is_refused_before_connecting(managed: AppContext, dana: UserInfo) -> None:
    service = SyncService(managed)
    for other in (
        "postgresql://elsewhere.example:5432/tb",
        "postgresql://db.clinic.lan:5433/tb",
        "postgresql://db.clinic.lan:5432/other",
    ):
        with pytest.raises(ValidationError) as err:
            service.join(other, "dana@example.org", "pw")
        assert err.value.message == (
            "Your clinic's IT set the clinic server to postgresql://db.clinic.lan:5432/tb?sslmode=verify-full: "
            "this workstation joins that server only."
        )
    assert service.accounts() == []
    with pytest.raises(ValidationError, match="joins that server only"):
        service.update_connection(dana.id, server_url="postgresql://elsewhere.example:5432/tb")


def test_the_policys_server_and_ca_file_are_used() -> None:
    assert clinic_target(POLICY, None, None) == (POLICY.clinic_server.url, "/etc/tb/ca.pem")  # type: ignore[union-attr]
    url = "postgresql://dana%40example.org@DB.clinic.lan/tb"  # same host, default port, same database
    assert clinic_target(POLICY, url, "/mine/ca.pem") == (url, "/mine/ca.pem")
    assert same_server("postgres://db.clinic.lan/tb", "postgresql+psycopg://db.clinic.lan:5432/tb?sslmode=require")
    assert clinic_target(NO_POLICY, "postgresql://h/db", None) == ("postgresql://h/db", None)
    with pytest.raises(ValidationError, match="Enter the clinic server address"):
        clinic_target(NO_POLICY, None, None)
