"""The Settings page under the clinic's managed settings (policy.json): what IT locked is read-only with "Set by your
clinic's IT", what IT bounded keeps to the bound with the bound said under it, a banner says a policy is in force,
and the clinic dialog takes IT's server. Real widgets, a real settings service over a real database and file."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QIntValidator, QStandardItemModel
from PySide6.QtWidgets import QApplication, QComboBox
from pytestqt.qtbot import QtBot
from ui_support import SCREENSHOT_DIR, AsyncDriver

from tbdesktop.config import load_settings
from tbdesktop.policy import LOCKED_TEXT, NO_POLICY, Policy
from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.settings import PrivacySettings, ProcessingSettings, SettingsService, SettingsView
from tbdesktop.services.sync.service import SyncService
from tbdesktop.ui.clinic_link import ClinicLink
from tbdesktop.ui.settings_page import SettingsPage
from tbdesktop.ui.settings_page.clinic import ClinicSection
from tbdesktop.ui.settings_page.page import MANAGED_BANNER

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support"),
]

IDLE_LIMIT = "At most 30 minutes (set by your clinic's IT)"
RECORDINGS_LIMIT = "At least 30 days (set by your clinic's IT)"
ASR_LIMIT = "On this computer only (set by your clinic's IT)"
SERVERS_LIMIT = "Only https://ai.clinic.example (set by your clinic's IT)"


class ManagedSettings(SettingsService):
    """The real settings service, with the policy part of its view given by the test (``dataclasses.replace``); the
    service's own checks follow the policy in force (none here: tests/ui/test_settings_policy_e2e.py has both)."""

    def __init__(self, ctx: AppContext, user: UserInfo, config_dir: Path) -> None:
        super().__init__(ctx, user, config_dir=config_dir, env={})
        self.given_policy: Policy = NO_POLICY
        self.locked: Mapping[str, str] = {}
        self.limits: Mapping[str, str] = {}
        self.next_start: dict[str, Any] = {}  # what the view says is in force, where it differs from the file
        self.saved: list[tuple[ProcessingSettings, PrivacySettings]] = []

    def view_sync(self) -> SettingsView:
        view = super().view_sync()
        return dataclasses.replace(
            view,
            next_start=dataclasses.replace(view.next_start, **self.next_start),
            policy=self.given_policy,
            locked=dict(self.locked),
            limits=dict(self.limits),
        )

    def save_sync(self, processing: ProcessingSettings, privacy: PrivacySettings) -> SettingsView:
        self.saved.append((processing, privacy))
        return super().save_sync(processing, privacy)


def _page(qtbot: QtBot, aio: AsyncDriver, ctx: AppContext, user: UserInfo, service: SettingsService) -> SettingsPage:
    page = SettingsPage(dataclasses.replace(AppServices.compose(ctx, user), settings=service))
    qtbot.addWidget(page)
    page.resize(1000, 1500)
    page.show()
    # loaded, About included (the save button waits for the whole refresh)
    aio.run(aio.until(lambda: page.view() is not None and not page._busy, message="settings loaded"))
    return page


def shot(page: Any, name: str, *, whole: bool = False) -> None:
    """Saves the page as painted (``whole``: the whole scrolling content, not just what is in view)."""
    QApplication.sendPostedEvents()  # pending layout requests: the page as it is painted, not half laid out
    for folder in (SCREENSHOT_DIR,):
        folder.mkdir(parents=True, exist_ok=True)
        widget = page._scroll.widget() if whole else page
        assert widget.grab().save(str(folder / f"{name}.png"))


def _save(qtbot: QtBot, aio: AsyncDriver, page: SettingsPage) -> None:
    page.saved_label.clear()
    assert page.save_button.isEnabled()
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    # the save is under way from the click (busy) until its result shows (or the policy's problems show at once)
    aio.run(aio.until(lambda: not page._busy and (page.saved_label.text() or page.errors()), message="the save"))


def _items(combo: QComboBox) -> dict[str, tuple[bool, str]]:
    model = combo.model()
    assert isinstance(model, QStandardItemModel)
    return {
        str(model.item(i).data(Qt.ItemDataRole.UserRole)): (model.item(i).isEnabled(), model.item(i).text())
        for i in range(model.rowCount())
    }


def _bounds(edit: Any) -> tuple[int, int]:
    validator = edit.validator()
    assert isinstance(validator, QIntValidator)
    return validator.bottom(), validator.top()


def test_locked_settings_are_read_only_with_the_clinics_note_and_saving_keeps_them(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path
) -> None:
    service = ManagedSettings(ui_ctx, therapist, tmp_path / "config")
    service.save_privacy_sync(PrivacySettings(consent_required=True, idle_lock_minutes=15))
    service.given_policy = Policy(source=tmp_path / "policy.json", consent_required=True)
    service.locked = {
        name: LOCKED_TEXT
        for name in (
            "asr_backend",
            "notes_backend",
            "notes_threads",
            "notes_base_url",
            "consent_required",
            "retention_transcript_days",
        )
    }
    service.next_start = {"notes_backend": "llm", "notes_threads": 4}  # in force, as the policy set them
    page = _page(qtbot, aio, ui_ctx, therapist, service)
    page.show_advanced(True)

    assert page.policy_banner.isVisibleTo(page) and page.policy_banner.text() == MANAGED_BANNER
    locked = {
        "asr_backend": page.asr_combo,
        "notes_backend": page.notes_combo,
        "notes_threads": page.notes_threads_spin,
        "consent_required": page.consent_check,
        "retention_transcript_days": page.transcript_days_edit,
    }
    rows = page._rows
    for name, control in locked.items():
        assert not control.isEnabled(), name
        note = rows.locked_notes[name]
        assert note.isVisibleTo(page) and note.text() == LOCKED_TEXT, name
        assert LOCKED_TEXT in control.toolTip(), name
    # the values in force are shown: the policy's notes backend and threads, not the file's
    assert page.notes_combo.currentData() == "llm" and page.notes_threads_spin.value() == 4
    assert page.notes_file.isVisibleTo(page)  # the llm rows, as the locked backend uses them
    # a locked row the chosen backend does not use stays hidden, its note with it
    assert not page.notes_url_edit.isVisibleTo(page) and not rows.locked_notes["notes_base_url"].isVisibleTo(page)
    assert not page.notes_url_edit.isEnabled()
    for name, control in {
        "retention_recording_days": page.recording_days_edit,
        "idle_lock_minutes": page.idle_edit,
        "notes_context": page.notes_context_spin,
    }.items():
        assert control.isEnabled() and not rows.locked_notes[name].isVisibleTo(page), name
    assert page.consent_check.isChecked()
    shot(page, "settings-policy-locked")
    shot(page, "settings-policy-locked-whole", whole=True)

    # What a locked control holds is never sent: only the unlocked change is saved.
    page.consent_check.setChecked(False)
    page.asr_combo.setCurrentIndex(page.asr_combo.findData("openai"))
    page.transcript_days_edit.setText("3")
    page.notes_threads_spin.setValue(2)
    page.idle_edit.setText("20")
    page.notes_file.setText(str(tmp_path / "notes.gguf"))
    (tmp_path / "notes.gguf").write_bytes(b"GGUF" + bytes(64))
    _save(qtbot, aio, page)
    assert not page.errors(), page.errors()
    processing, privacy = service.saved[-1]
    assert (processing.asr_backend, processing.notes_backend, processing.notes_threads) == ("local", "llm", 4)
    assert (privacy.consent_required, privacy.retention_transcript_days, privacy.idle_lock_minutes) == (
        True,
        None,
        20,
    )
    stored = service.privacy_sync()
    assert stored.consent_required and stored.retention_transcript_days is None and stored.idle_lock_minutes == 20
    assert load_settings(config_dir=tmp_path / "config", env={}).asr_backend == "local"
    # after the save the page shows the view again: still locked
    assert not page.consent_check.isEnabled() and page.consent_check.isChecked()
    assert rows.locked_notes["consent_required"].isVisibleTo(page)


def test_bounded_settings_keep_to_the_clinics_limits_and_say_them(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path
) -> None:
    service = ManagedSettings(ui_ctx, therapist, tmp_path / "config")
    service.save_privacy_sync(PrivacySettings(consent_required=True, idle_lock_minutes=15))
    service.given_policy = Policy(
        source=tmp_path / "policy.json",
        allowed_transcription=("local",),
        allowed_notes=("local", "openai"),
        allowed_servers=("https://ai.clinic.example",),
        min_recording_days=30,
        idle_lock_max_minutes=30,
    )
    service.limits = {
        "asr_backend": ASR_LIMIT,
        "notes_base_url": SERVERS_LIMIT,
        "retention_recording_days": RECORDINGS_LIMIT,
        "idle_lock_minutes": IDLE_LIMIT,
    }
    page = _page(qtbot, aio, ui_ctx, therapist, service)
    page.show_advanced(True)
    rows = page._rows

    assert page.policy_banner.isVisibleTo(page)
    assert page.asr_combo.isEnabled() and page.notes_combo.isEnabled()
    asr = _items(page.asr_combo)
    assert asr["local"] == (True, "On this computer (offline)")
    assert asr["openai"] == (False, "OpenAI-compatible server (not allowed by your clinic's IT)")
    notes = _items(page.notes_combo)
    assert notes["local"][0] and notes["openai"][0] and not notes["llm"][0]
    for name, text in service.limits.items():
        label = rows.limit_labels[name]
        assert label.text() == text and label.isVisibleTo(page), name
        assert not rows.locked_notes[name].isVisibleTo(page), name
    assert not rows.limit_labels["openai_model"].isVisibleTo(page)
    # no "never" for the idle lock, and at most IT's maximum; retention at least IT's minimum
    assert _bounds(page.idle_edit) == (1, 30)
    assert "never" not in page.privacy_card.idle.beside.text() and "1 to 30" in page.privacy_card.idle.beside.text()
    assert _bounds(page.recording_days_edit)[0] == 30
    assert "at least 30" in page.privacy_card.recording_days.beside.text()
    assert _bounds(page.transcript_days_edit)[0] == 0
    shot(page, "settings-policy-limits")

    # Outside the bounds: said in place, nothing sent.
    page.idle_edit.setText("0")
    page.recording_days_edit.setText("7")
    page.notes_combo.setCurrentIndex(page.notes_combo.findData("openai"))
    page.notes_url_edit.setText("https://api.elsewhere.example/v1")
    page.notes_model_edit.setText("gpt-4o-mini")
    _save(qtbot, aio, page)
    errors = page.errors()
    assert errors["idle_lock_minutes"] == "Your clinic's IT requires the idle lock, after 1 to 30 minutes."
    assert errors["retention_recording_days"].startswith("Your clinic's IT requires keeping recordings at least 30")
    assert errors["notes_base_url"].startswith("Your clinic's IT does not allow this server")
    assert service.saved == []
    shot(page, "settings-policy-limit-errors")

    page.idle_edit.setText("25")
    page.recording_days_edit.setText("")  # kept: never shorter than IT's minimum
    page.notes_url_edit.setText("https://ai.clinic.example/v1")
    _save(qtbot, aio, page)
    assert not page.errors(), page.errors()
    stored = service.privacy_sync()
    assert stored.idle_lock_minutes == 25 and stored.retention_recording_days is None
    assert load_settings(config_dir=tmp_path / "config", env={}).notes_base_url == "https://ai.clinic.example/v1"

    # Without a policy everything is back as it was.
    service.given_policy, service.limits = NO_POLICY, {}
    aio.run(page.refresh())
    assert not page.policy_banner.isVisibleTo(page)
    assert all(enabled for enabled, _text in _items(page.asr_combo).values())
    assert _items(page.asr_combo)["openai"][1] == "OpenAI-compatible server"
    assert _bounds(page.idle_edit) == (0, 24 * 60) and "0 = never" in page.privacy_card.idle.beside.text()
    assert _bounds(page.recording_days_edit)[0] == 0
    assert not any(label.isVisibleTo(page) for label in rows.limit_labels.values())
    assert not any(note.isVisibleTo(page) for note in rows.locked_notes.values())


def test_no_policy_no_banner_and_nothing_locked(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path
) -> None:
    page = _page(qtbot, aio, ui_ctx, therapist, SettingsService(ui_ctx, therapist, tmp_path / "config", env={}))
    page.show_advanced(True)
    assert not page.policy_banner.isVisibleTo(page)
    assert page.consent_check.isEnabled() and page.asr_combo.isEnabled() and page.idle_edit.isEnabled()
    assert not any(note.isVisibleTo(page) for note in page._rows.locked_notes.values())


class _Loop:
    def sync_now(self) -> None:
        pass


def test_clinic_section_without_policy_says_nothing_of_it(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo
) -> None:
    section = ClinicSection(ClinicLink(SyncService(ui_ctx), therapist, _Loop()))
    qtbot.addWidget(section)
    section.show()
    aio.run(aio.until(lambda: section.status() is not None and not section.busy, message="the clinic state"))
    assert section.not_joined.isVisible() and not section.managed_label.isVisible()
    assert not section.managed_note.isVisible() and not section.ca_locked
    assert not section.ca_field.edit.isReadOnly() and not section.save_ca_button.isHidden()
