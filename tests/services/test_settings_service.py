"""The settings service: workstation backends in the settings file, API keys in the keyring, my privacy settings."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tbdesktop.config import load_settings
from tbdesktop.errors import ValidationError
from tbdesktop.services.context import NOTES_KEY_NAME, OPENAI_KEY_NAME, AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.secrets import SERVICE, SecretStoreError
from tbdesktop.services.settings import (
    PrivacySettings,
    ProcessingSettings,
    SettingsService,
    SettingsValidationError,
    SettingsView,
)
from tbdesktop.store.models import AuditEvent, User

SERVER = ProcessingSettings(
    asr_backend="openai",
    openai_base_url="https://asr.clinic.example/v1",
    openai_model="whisper-large-v3",
    notes_backend="openai",
    notes_base_url="http://127.0.0.1:11434",
    notes_model="llama3.1:8b",
)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def service(ctx: AppContext, therapist: UserInfo, config_dir: Path) -> SettingsService:
    return SettingsService(ctx, therapist, config_dir=config_dir, env={})


def _actions(ctx: AppContext, user_id: Any) -> list[str]:
    with ctx.db.unit_of_work() as s:
        return list(s.scalars(select(AuditEvent.action).where(AuditEvent.user_id == user_id).order_by(AuditEvent.at)))


def _user_settings(ctx: AppContext, user_id: Any) -> dict[str, Any]:
    with ctx.db.unit_of_work() as s:
        row = s.get(User, user_id)
        assert row is not None
        return dict(row.settings)


def test_defaults_view(service: SettingsService, ctx: AppContext, config_dir: Path) -> None:
    view = service.view_sync()
    assert view.processing == ProcessingSettings() == view.running == view.next_start
    assert not view.restart_pending and view.env_overrides == ()
    assert view.privacy == PrivacySettings(True, None, None, 15)
    assert view.openai_key_stored is False and view.notes_key_stored is False and view.secrets_problem is None
    assert view.secrets_in_os_keyring  # the in-memory keyring of the tests
    assert view.data_dir == ctx.settings.data_dir
    assert view.settings_path == config_dir / "settings.json"
    assert SettingsView.APPLIES_AFTER_RESTART == {
        "asr_backend",
        "openai_base_url",
        "openai_model",
        "notes_backend",
        "notes_base_url",
        "notes_model",
        "notes_threads",
        "notes_gpu_layers",
        "notes_context",
    }


def test_processing_round_trip_through_the_settings_file(
    service: SettingsService, ctx: AppContext, therapist: UserInfo, config_dir: Path
) -> None:
    padded = ProcessingSettings(**{**SERVER.__dict__, "openai_model": "  whisper-large-v3 "})
    view = service.save_processing_sync(padded)
    assert view.processing == SERVER  # trimmed
    assert view.running == ProcessingSettings()  # the worker keeps what it started with
    assert view.restart_pending

    stored = json.loads((config_dir / "settings.json").read_text())
    assert stored["asr_backend"] == "openai" and stored["notes_model"] == "llama3.1:8b"
    assert "api_key" not in json.dumps(stored)
    reloaded = load_settings(config_dir=config_dir, env={})
    assert ProcessingSettings.of(reloaded) == SERVER
    # A fresh service (the next start) reads the same.
    assert SettingsService(ctx, therapist, config_dir=config_dir, env={}).view_sync().processing == SERVER
    assert _actions(ctx, therapist.id).count("settings.processing") == 1

    service.save_processing_sync(SERVER)  # unchanged: no write, no audit event
    assert _actions(ctx, therapist.id).count("settings.processing") == 1

    back = service.save_processing_sync(ProcessingSettings())
    assert back.processing == ProcessingSettings() and not back.restart_pending


def test_saving_keeps_other_file_settings_and_leaves_env_overrides_out(
    ctx: AppContext, therapist: UserInfo, config_dir: Path
) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "settings.json").write_text(json.dumps({"asr_model": "small", "max_duration_min": 90}))
    env = {"TB_NOTES_BACKEND": "openai", "TB_NOTES_MODEL": "env-model", "TB_OPENAI_BASE_URL": "http://env:8000"}
    service = SettingsService(ctx, therapist, config_dir=config_dir, env=env)
    view = service.view_sync()
    assert view.env_overrides == ("openai_base_url", "notes_backend", "notes_model")
    assert view.processing == ProcessingSettings()  # the file's own values, for editing
    assert view.next_start.notes_model == "env-model" and view.restart_pending

    service.save_processing_sync(ProcessingSettings(asr_backend="openai", openai_base_url="https://asr.example"))
    stored = json.loads((config_dir / "settings.json").read_text())
    assert stored["asr_model"] == "small" and stored["max_duration_min"] == 90
    assert stored["openai_base_url"] == "https://asr.example"
    assert stored["notes_backend"] == "local" and stored["notes_model"] == ""  # the env values stay in the env


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"asr_backend": "cloud"}, "asr_backend", "Unknown transcription backend"),
        ({"notes_backend": "gpt"}, "notes_backend", "Unknown notes backend"),
        ({"openai_base_url": "ftp://asr.example"}, "openai_base_url", "http:// or https://"),
        ({"openai_base_url": "asr.example/v1"}, "openai_base_url", "http:// or https://"),
        ({"notes_base_url": "http://"}, "notes_base_url", "http:// or https://"),
        ({"notes_base_url": "http://host:port"}, "notes_base_url", "http:// or https://"),
        ({"asr_backend": "openai"}, "openai_base_url", "address of the transcription server"),
        ({"notes_backend": "openai", "notes_model": "m"}, "notes_base_url", "address of the notes server"),
        ({"notes_backend": "openai", "notes_base_url": "http://llm"}, "notes_model", "model"),
        ({"openai_model": "m" * 201}, "openai_model", "200 characters"),
        ({"notes_backend": "llm"}, "notes_model", "Choose the note model file"),
        ({"notes_backend": "llm", "notes_model": "/nowhere/model.gguf"}, "notes_model", "was not found"),
        ({"notes_threads": -1}, "notes_threads", "CPU threads take 0"),
        ({"notes_gpu_layers": 1000}, "notes_gpu_layers", "GPU layers take 0"),
        ({"notes_context": 100}, "notes_context", "The context takes 512"),
    ],
)
def test_processing_validation(
    service: SettingsService, config_dir: Path, changes: dict[str, str], field: str, words: str
) -> None:
    with pytest.raises(SettingsValidationError, match=words) as caught:
        service.save_processing_sync(ProcessingSettings(**changes))
    assert field in caught.value.errors and words in caught.value.errors[field]
    assert isinstance(caught.value, ValidationError)
    assert not (config_dir / "settings.json").exists()


def test_model_file_settings_keep_their_numbers_and_wait_for_a_restart(
    service: SettingsService, config_dir: Path, tmp_path: Path
) -> None:
    model = tmp_path / "notes.gguf"
    model.write_bytes(b"GGUF" + bytes(64))
    chosen = ProcessingSettings(
        notes_backend="llm", notes_model=f"  {model} ", notes_threads=4, notes_gpu_layers=0, notes_context=4096
    )
    normal = chosen.normalised()
    assert (normal.notes_model, normal.notes_threads, normal.notes_gpu_layers, normal.notes_context) == (
        str(model),
        4,
        0,
        4096,
    )
    assert ProcessingSettings(notes_threads="2").normalised().notes_threads == 2  # type: ignore[arg-type]
    assert ProcessingSettings(notes_context="x").normalised().notes_context == -1  # type: ignore[arg-type]
    view = service.save_processing_sync(chosen)
    assert view.processing == normal and view.restart_pending
    stored = json.loads((config_dir / "settings.json").read_text())
    assert (stored["notes_threads"], stored["notes_gpu_layers"], stored["notes_context"]) == (4, 0, 4096)
    reloaded = load_settings(config_dir=config_dir, env={})
    assert (reloaded.notes_backend, reloaded.notes_model, reloaded.notes_context) == ("llm", str(model), 4096)
    # Only a changed number is a change waiting for the restart as well.
    assert service.save_processing_sync(normal).restart_pending
    back = service.save_processing_sync(ProcessingSettings())
    assert not back.restart_pending
    env_view = SettingsService(service.ctx, service.user, config_dir=config_dir, env={"TB_NOTES_THREADS": "3"})
    shown = env_view.view_sync()
    assert shown.env_overrides == ("notes_threads",) and shown.next_start.notes_threads == 3 and shown.restart_pending


def test_notes_server_may_share_the_transcription_address(service: SettingsService) -> None:
    shared = ProcessingSettings(
        asr_backend="openai", openai_base_url="http://gpu-box:8000", notes_backend="openai", notes_model="qwen2.5"
    )
    assert service.save_processing_sync(shared).processing == shared


def test_api_keys_live_in_the_keyring_and_are_never_shown(
    service: SettingsService, ctx: AppContext, therapist: UserInfo, config_dir: Path, memory_keyring: Any
) -> None:
    secret = "sk-test-0123456789abcdef"
    view = service.set_api_key_sync(OPENAI_KEY_NAME, f"  {secret} ")
    assert view.openai_key_stored is True and view.notes_key_stored is False
    assert memory_keyring.store[(SERVICE, OPENAI_KEY_NAME)] == secret
    assert ctx.secrets.get(OPENAI_KEY_NAME) == secret
    assert secret not in repr(view)
    service.save_processing_sync(SERVER)
    assert secret not in (config_dir / "settings.json").read_text()

    service.set_api_key_sync(NOTES_KEY_NAME, "notes-key")
    view = service.clear_api_key_sync(OPENAI_KEY_NAME)
    assert view.openai_key_stored is False and view.notes_key_stored is True
    assert ctx.secrets.get(OPENAI_KEY_NAME) is None
    assert service.clear_api_key_sync(OPENAI_KEY_NAME).openai_key_stored is False  # clearing twice is fine
    actions = _actions(ctx, therapist.id)
    assert actions.count("settings.api_key_set") == 2 and actions.count("settings.api_key_clear") == 2

    with pytest.raises(ValidationError, match="Enter the API key"):
        service.set_api_key_sync(OPENAI_KEY_NAME, "   ")
    with pytest.raises(ValidationError, match="does not look like"):
        service.set_api_key_sync(OPENAI_KEY_NAME, "two words")
    with pytest.raises(ValidationError, match="Unknown API key"):
        service.set_api_key_sync("database_password", "x")


def test_a_refusing_keyring_reaches_the_user_as_a_message(service: SettingsService, memory_keyring: Any) -> None:
    from keyring.errors import PasswordSetError

    def refuse(service_name: str, username: str, password: str) -> None:
        raise PasswordSetError("locked")

    memory_keyring.set_password = refuse
    with pytest.raises(SecretStoreError) as caught:
        service.set_api_key_sync(OPENAI_KEY_NAME, "sk-abc")
    assert caught.value.message == "The OS keyring refused the key, so it was not saved."


def test_locked_file_store_is_reported_not_raised(make_settings: Any, config_dir: Path) -> None:
    ctx = AppContext.open(make_settings(secret_store="file"))
    try:
        # Without an OS keyring a profile needs its passcode (it opens the encrypted database and the store).
        user = ProfileService(ctx).create_profile_sync("Ana Silva", "ana@example.org", passcode="ana-passcode")
        ctx.secrets.lock()
        view = SettingsService(ctx, user, config_dir=config_dir, env={}).view_sync()
        assert not view.secrets_in_os_keyring and view.secrets_dir == ctx.settings.secrets_dir
        assert view.openai_key_stored is None and view.secrets_problem
    finally:
        ctx.close()


def test_privacy_settings_reach_my_profile(service: SettingsService, ctx: AppContext, therapist: UserInfo) -> None:
    wanted = PrivacySettings(
        consent_required=False, retention_recording_days=0, retention_transcript_days=30, idle_lock_minutes=0
    )
    view = service.save_privacy_sync(wanted)
    assert view.privacy == wanted
    stored = _user_settings(ctx, therapist.id)
    assert stored["consent_required"] is False
    assert stored["retention_recording_days"] == 0 and stored["retention_transcript_days"] == 30
    assert stored["idle_lock_minutes"] == 0
    assert ProfileService(ctx).idle_lock_minutes_sync(therapist.id) == 0
    actions = _actions(ctx, therapist.id)
    assert {"settings.consent", "settings.retention", "settings.idle_lock"} <= set(actions)

    # Only what changed is written (and audited).
    before = len(_actions(ctx, therapist.id))
    service.save_privacy_sync(PrivacySettings(False, 0, None, 0))
    after = _actions(ctx, therapist.id)
    assert len(after) == before + 1 and after[-1] == "settings.retention"
    assert _user_settings(ctx, therapist.id)["retention_transcript_days"] is None


def test_privacy_is_per_profile(service: SettingsService, ctx: AppContext, config_dir: Path) -> None:
    other = ProfileService(ctx).create_profile_sync("Sam Okafor", "sam@example.org")
    service.save_privacy_sync(PrivacySettings(False, 7, 7, 5))
    theirs = SettingsService(ctx, other, config_dir=config_dir, env={}).view_sync().privacy
    assert theirs == PrivacySettings()


@pytest.mark.parametrize(
    ("privacy", "field"),
    [
        (PrivacySettings(retention_recording_days=-1), "retention_recording_days"),
        (PrivacySettings(retention_transcript_days=3651), "retention_transcript_days"),
        (PrivacySettings(idle_lock_minutes=1441), "idle_lock_minutes"),
    ],
)
def test_privacy_validation(service: SettingsService, privacy: PrivacySettings, field: str) -> None:
    with pytest.raises(SettingsValidationError) as caught:
        service.save_privacy_sync(privacy)
    assert set(caught.value.errors) == {field}


def test_save_validates_both_parts_before_writing_either(
    service: SettingsService, ctx: AppContext, therapist: UserInfo, config_dir: Path
) -> None:
    with pytest.raises(SettingsValidationError) as caught:
        service.save_sync(ProcessingSettings(openai_base_url="nope"), PrivacySettings(consent_required=False))
    assert set(caught.value.errors) == {"openai_base_url"}
    assert not (config_dir / "settings.json").exists()
    assert _user_settings(ctx, therapist.id)["consent_required"] is True

    view = asyncio.run(service.save(SERVER, PrivacySettings(consent_required=False)))
    assert view.processing == SERVER and view.privacy.consent_required is False
    assert asyncio.run(service.view()) == view


def test_an_unwritable_config_dir_is_a_message(ctx: AppContext, therapist: UserInfo, tmp_path: Path) -> None:
    from tbdesktop.errors import TBError

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    service = SettingsService(ctx, therapist, config_dir=blocker / "config", env={})
    with pytest.raises(TBError, match="settings file could not be written"):
        service.save_processing_sync(SERVER)
    assert "settings.processing" not in _actions(ctx, therapist.id)
