"""From IT's policy file to the Settings page: the machine's policy.json is read at start-up, the real settings
service marks what it locks and bounds, the page shows it read-only with "Set by your clinic's IT", and neither the
page, the user's settings file nor an environment variable gets past it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from ui_support import SCREENSHOT_DIR, AsyncDriver

from tbdesktop.config import Settings, load_settings, save_settings
from tbdesktop.policy import LOCKED_TEXT
from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.settings import PrivacySettings, SettingsService
from tbdesktop.ui.settings_page import SettingsPage

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support"),
]


@pytest.fixture
def managed(no_machine_policy: Path, tmp_path: Path, base_model_cache: Path) -> Iterator[tuple[AppContext, Path]]:
    """The machine's policy file written as IT would, a user's settings file that tries to loosen it, and an
    environment variable that tries too; the context opened from those, as the app opens it."""
    no_machine_policy.parent.mkdir(parents=True, exist_ok=True)
    no_machine_policy.write_text(
        json.dumps(
            {
                "allowed_backends": {"transcription": ["local"]},
                "idle_lock_max_minutes": 10,
                "consent_required": True,
                "min_retention_days": {"recordings": 30},
                "settings": {"notes_threads": 2},
            }
        ),
        encoding="utf-8",
    )
    config = tmp_path / "config"
    save_settings(Settings(asr_backend="openai", openai_base_url="https://cloud.example", notes_threads=8), config)
    env = {
        "TB_CACHE_DIR": str(base_model_cache),
        "TB_SECRETS_DIR": str(tmp_path / "secrets"),
        "TB_MODEL_DIR": str(tmp_path / "models"),
        "TB_NOTES_THREADS": "6",
    }
    settings = load_settings(data_dir=tmp_path / "data", config_dir=config, env=env)
    assert settings.policy.source == no_machine_policy
    assert (settings.asr_backend, settings.notes_threads) == ("local", 2)
    ctx = AppContext.open(settings)
    try:
        yield ctx, config
    finally:
        ctx.close()


def test_the_machine_policy_reaches_the_settings_page_and_holds(
    qtbot: QtBot, aio: AsyncDriver, managed: tuple[AppContext, Path]
) -> None:
    ctx, config = managed
    user = ProfileService(ctx).create_profile_sync("Dana Reyes", "dana@example.org")
    service = SettingsService(ctx, user, config_dir=config, env={"TB_NOTES_THREADS": "6"})
    privacy = service.privacy_sync()
    assert privacy.idle_lock_minutes == 10 and privacy.consent_required, "the policy applies to stored values"

    page = SettingsPage(AppServices.compose(ctx, user))
    qtbot.addWidget(page)
    page.resize(1000, 1500)
    page.show()
    aio.run(aio.until(lambda: page.view() is not None and not page._busy, message="settings loaded"))
    page.show_advanced(True)
    view = page.view()
    assert view is not None and view.policy.active
    assert page.policy_banner.isVisibleTo(page)
    # (the notes threads row shows with the llm backend only, but is locked all the same)
    assert view.locked.get("notes_threads") == LOCKED_TEXT and not page.notes_threads_spin.isEnabled()
    for name, control in (("asr_backend", page.asr_combo), ("consent_required", page.consent_check)):
        assert view.locked.get(name) == LOCKED_TEXT, name
        assert not control.isEnabled(), name
        note = page._rows.locked_notes[name]
        assert note.isVisibleTo(page) and note.text() == LOCKED_TEXT, name
    assert page.asr_combo.currentData() == "local" and page.consent_check.isChecked()
    assert page.notes_threads_spin.value() == 2
    assert "10 minutes" in view.limits["idle_lock_minutes"] and "30 days" in view.limits["retention_recording_days"]
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    QApplication.sendPostedEvents()  # the page as painted, not half laid out
    page.grab().save(str(SCREENSHOT_DIR / "settings-policy-from-file.png"))

    # Beyond the bound: refused on the page, nothing saved.
    page.idle_edit.setText("0")
    page.recording_days_edit.setText("1")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: not page._busy and bool(page.errors()), message="the refusal"))
    assert {"idle_lock_minutes", "retention_recording_days"} <= set(page.errors())
    assert service.privacy_sync().idle_lock_minutes == 10

    # Within the bound: saved, and what applies is what was chosen.
    page.idle_edit.setText("5")
    page.recording_days_edit.setText("45")
    page.saved_label.clear()
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: not page._busy and bool(page.saved_label.text() or page.errors()), message="the save"))
    assert not page.errors(), page.errors()
    applied = service.privacy_sync()
    assert (applied.idle_lock_minutes, applied.retention_recording_days, applied.consent_required) == (5, 45, True)

    # The service itself refuses what the page would not send.
    with pytest.raises(Exception, match="clinic"):
        service.save_privacy_sync(PrivacySettings(consent_required=False, idle_lock_minutes=5))
    # The user's file still holds their own choice; the policy's values never went into it.
    saved = load_settings(config_dir=config, env={}, policy=None, machine_file=config / "none.json")
    assert (saved.asr_backend, saved.notes_threads) == ("openai", 8)
