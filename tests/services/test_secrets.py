"""Secrets: the OS keyring where there is one, else a store per profile encrypted under its passcode."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tbdesktop.errors import PermissionDeniedError
from tbdesktop.services.context import AppContext, engine_options, notes_options
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.secrets import (
    SecretsLockedError,
    SecretStoreError,
    SecretVault,
    WrongPasscodeError,
    os_keyring_available,
)

API_KEY = "sk-clinic-4b7f2e9a1c"


@pytest.fixture
def file_ctx(make_settings: Any) -> Any:
    context = AppContext.open(make_settings(secret_store="file", notes_backend="openai", asr_backend="openai"))
    yield context
    context.close()


def test_auto_mode_follows_the_keyring(memory_keyring: Any, tmp_path: Path) -> None:
    import keyring
    from keyring.backends import fail

    assert os_keyring_available() and SecretVault(tmp_path, "auto").mode == "keyring"
    keyring.set_keyring(fail.Keyring())
    assert not os_keyring_available()
    assert SecretVault(tmp_path, "auto").mode == "file"
    with pytest.raises(SecretStoreError, match="No OS keyring"):
        SecretVault(tmp_path, "keyring")
    with pytest.raises(SecretStoreError, match="Unknown"):
        SecretVault(tmp_path, "plaintext")


def test_keyring_mode_keeps_profile_keys_apart(ctx: AppContext, memory_keyring: Any) -> None:
    a = ProfileService(ctx).create_profile_sync("Dana Reyes", passcode="dana-passcode")
    b = ProfileService(ctx).create_profile_sync("Sam Rivera", passcode="sam-passcode")
    ctx.secrets.set("openai_api_key", API_KEY)
    ctx.secrets.set("recordings_master_key", "A", user_id=a.id)
    ctx.secrets.set("recordings_master_key", "B", user_id=b.id)
    assert ctx.secrets.get("recordings_master_key", user_id=a.id) == "A"
    assert ctx.secrets.get("recordings_master_key", user_id=b.id) == "B"
    assert ("TherapyBridge", "openai_api_key") in memory_keyring.store
    assert not ctx.secrets.needs_passcode(a.id)
    assert list(ctx.settings.secrets_dir.glob("*.tbsecrets")) == []  # nothing written beside the keyring
    assert engine_options(ctx.settings.__class__(asr_backend="openai"), ctx.secrets)["openai_api_key"] == API_KEY


def test_file_store_opens_only_with_the_profile_passcode(file_ctx: AppContext) -> None:
    profiles = ProfileService(file_ctx)
    dana = profiles.create_profile_sync("Dana Reyes", passcode="dana-passcode")
    sam = profiles.create_profile_sync("Sam Rivera", passcode="sam-passcode")
    file_ctx.secrets.unlock(dana.id, "dana-passcode")
    file_ctx.secrets.set("openai_api_key", API_KEY)
    assert file_ctx.secrets.get("openai_api_key") == API_KEY

    path = file_ctx.secrets.store_path(dana.id)
    raw = path.read_bytes()
    assert API_KEY.encode() not in raw and b"dana-passcode" not in raw
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    doc = json.loads(raw)
    assert doc["kdf"]["name"] == "argon2id" and set(doc) >= {"nonce", "ciphertext"}

    # A new process: everything is locked until the passcode is given.
    fresh = SecretVault(file_ctx.settings.secrets_dir, "file")
    assert fresh.needs_passcode(dana.id)
    with pytest.raises(SecretsLockedError):
        fresh.get("openai_api_key", user_id=dana.id)
    with pytest.raises(WrongPasscodeError):
        fresh.unlock(dana.id, "sam-passcode")  # another profile's passcode does not open it
    fresh.unlock(dana.id, "dana-passcode")
    assert fresh.get("openai_api_key") == API_KEY
    # Sam's store is his own: Dana's key is not in it.
    fresh.unlock(sam.id, "sam-passcode")
    assert fresh.get("openai_api_key", user_id=sam.id) is None


def test_profile_unlock_checks_the_passcode(file_ctx: AppContext) -> None:
    profiles = ProfileService(file_ctx)
    dana = profiles.create_profile_sync("Dana Reyes", passcode="dana-passcode")
    file_ctx.secrets.lock()
    assert profiles.needs_unlock(dana.id)
    assert not profiles.unlock_secrets_sync(dana.id, "wrong-passcode")
    assert profiles.needs_unlock(dana.id)
    assert profiles.unlock_secrets_sync(dana.id, "dana-passcode")
    assert not profiles.needs_unlock(dana.id)


def test_changing_the_passcode_reencrypts_the_store(file_ctx: AppContext) -> None:
    profiles = ProfileService(file_ctx)
    dana = profiles.create_profile_sync("Dana Reyes", passcode="old-passcode")
    file_ctx.secrets.set("notes_api_key", API_KEY, user_id=dana.id)
    before = file_ctx.secrets.store_path(dana.id).read_bytes()
    with pytest.raises(PermissionDeniedError, match="current passcode"):
        profiles.set_passcode_sync(dana.id, "new-passcode")
    with pytest.raises(PermissionDeniedError, match="not right"):
        profiles.set_passcode_sync(dana.id, "new-passcode", current="guess-passcode")
    profiles.set_passcode_sync(dana.id, "new-passcode", current="old-passcode")
    assert file_ctx.secrets.store_path(dana.id).read_bytes() != before

    fresh = SecretVault(file_ctx.settings.secrets_dir, "file")
    with pytest.raises(WrongPasscodeError):
        fresh.unlock(dana.id, "old-passcode")
    fresh.unlock(dana.id, "new-passcode")
    assert fresh.get("notes_api_key") == API_KEY
    assert profiles.verify_passcode_sync(dana.id, "new-passcode")


def test_a_damaged_store_is_refused(file_ctx: AppContext) -> None:
    dana = ProfileService(file_ctx).create_profile_sync("Dana Reyes", passcode="dana-passcode")
    file_ctx.secrets.set("openai_api_key", API_KEY, user_id=dana.id)
    path = file_ctx.secrets.store_path(dana.id)
    doc = json.loads(path.read_text())
    doc["profile"] = "00000000-0000-0000-0000-000000000000"  # the header is authenticated too
    path.write_text(json.dumps(doc))
    with pytest.raises(SecretStoreError):
        SecretVault(file_ctx.settings.secrets_dir, "file").unlock(dana.id, "dana-passcode")
    path.write_text("not json")
    with pytest.raises(SecretStoreError, match="cannot be read"):
        SecretVault(file_ctx.settings.secrets_dir, "file").unlock(dana.id, "dana-passcode")


def test_master_key_is_created_once_even_when_two_processes_race(file_ctx: AppContext) -> None:
    dana = ProfileService(file_ctx).create_profile_sync("Dana Reyes", passcode="dana-passcode")
    vaults = [SecretVault(file_ctx.settings.secrets_dir, "file") for _ in range(4)]
    for vault in vaults:
        vault.unlock(dana.id, "dana-passcode")
    made: list[str] = []
    counter = iter(range(100))

    def create(vault: SecretVault) -> None:
        made.append(vault.get_or_create("recordings_master_key", lambda: f"key-{next(counter)}", user_id=dana.id))

    threads = [threading.Thread(target=create, args=(v,)) for v in vaults]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 1


def test_api_keys_for_the_workers_come_from_the_unlocked_store(file_ctx: AppContext) -> None:
    dana = ProfileService(file_ctx).create_profile_sync("Dana Reyes", passcode="dana-passcode")
    file_ctx.secrets.select(dana.id)  # the signed-in profile
    file_ctx.secrets.set("notes_api_key", API_KEY)
    assert notes_options(file_ctx.settings, file_ctx.secrets)["api_key"] == API_KEY
    assert engine_options(file_ctx.settings, file_ctx.secrets)["openai_api_key"] is None  # not set: none
    file_ctx.secrets.lock()
    # Locked: the key is simply not there (the job then fails with the server's refusal), nothing crashes.
    assert notes_options(file_ctx.settings, file_ctx.secrets)["api_key"] is None
    assert file_ctx.secrets.needs_passcode(dana.id)


def test_import_needs_the_unlocked_store(file_ctx: AppContext, two_speaker: Any) -> None:
    """Without an OS keyring, a recording cannot be stored before its owner's keys are opened."""
    from tbdesktop.services.sessions import ImportRequest, SessionService

    dana = ProfileService(file_ctx).create_profile_sync("Dana Reyes", passcode="dana-passcode")
    file_ctx.secrets.lock()
    service = SessionService(file_ctx, dana)
    with pytest.raises(SecretsLockedError, match="passcode"):
        service.import_recording_sync(ImportRequest(source=two_speaker[0], consent_method="verbal"))
    assert list(file_ctx.settings.recordings_dir.iterdir()) == []  # nothing half-written
    file_ctx.secrets.unlock(dana.id, "dana-passcode")
    info = service.import_recording_sync(ImportRequest(source=two_speaker[0], consent_method="verbal"))
    with service.open_recording_sync(info.id) as copy:
        assert copy.path.read_bytes() == two_speaker[0].read_bytes()
