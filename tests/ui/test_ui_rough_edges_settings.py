"""Settings in sections a clinician understands: Profile (name, email, passcode), Privacy & retention, Notes, and a
collapsed "Advanced (IT)" section for servers, models, API keys and storage. Real widgets and services."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from ui_support import AsyncDriver

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.profiles import ProfileService
from tbdesktop.store.models import AuditEvent
from tbdesktop.ui.settings_page import SettingsPage

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support"),
]


def _page(qtbot: QtBot, aio: AsyncDriver, ctx: AppContext, user: UserInfo) -> SettingsPage:
    page = SettingsPage(AppServices.compose(ctx, user))
    qtbot.addWidget(page)
    page.resize(1000, 1400)
    page.show()
    aio.run(aio.until(lambda: page.view() is not None, message="settings loaded"))
    return page


def test_settings_come_in_clinician_sections_with_it_fields_collapsed(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, screenshot: Callable[..., Path]
) -> None:
    page = _page(qtbot, aio, ui_ctx, therapist)
    cards = [c for c in page.findChildren(QFrame, "settingsCard") if c.isVisibleTo(page)]
    titles = [c.findChild(QLabel, "sectionTitle").text() for c in cards]
    assert titles[:3] == ["Profile", "Privacy & retention", "Notes"]
    assert "Processing" not in titles and "Storage" not in titles  # IT's, behind Advanced
    assert not page.asr_combo.isVisibleTo(page) and not page.openai_key.isVisibleTo(page)
    assert page.notes_combo.isVisibleTo(page)  # who writes the note is the clinician's choice
    screenshot(page, "rough-edges-settings-collapsed")

    qtbot.mouseClick(page.advanced_button, Qt.MouseButton.LeftButton)
    assert page.asr_combo.isVisibleTo(page) and page.data_dir_edit.isVisibleTo(page)
    screenshot(page, "rough-edges-settings-advanced")


def test_profile_name_email_and_passcode_change_from_settings(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, screenshot: Callable[..., Path]
) -> None:
    page = _page(qtbot, aio, ui_ctx, therapist)
    profile = page.profile_section
    assert profile.name_edit.text() == "Dr. Sam Rivera" and profile.email_edit.text() == "sam.rivera@clinic.test"

    profile.email_edit.clear()
    qtbot.keyClicks(profile.email_edit, "not an address")
    qtbot.mouseClick(profile.save_profile_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: profile.profile_error.isVisibleTo(page), message="the inline error"))
    assert profile.profile_error.text() == "That email address does not look right."

    profile.name_edit.clear()
    qtbot.keyClicks(profile.name_edit, "Dr. Sam Rivera-Lopez")
    profile.email_edit.clear()
    qtbot.keyClicks(profile.email_edit, "sam.rl@clinic.test")
    changed: list[UserInfo] = []
    profile.profileChanged.connect(changed.append)
    qtbot.mouseClick(profile.save_profile_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: bool(changed), message="the profile saved"))
    assert changed[0].display_name == "Dr. Sam Rivera-Lopez"
    stored = ProfileService(ui_ctx).get_sync(therapist.id)
    assert (stored.display_name, stored.email) == ("Dr. Sam Rivera-Lopez", "sam.rl@clinic.test")
    assert ProfileService(ui_ctx).practice_name_sync(therapist.id) == ""

    # the practice named on exported notes: saved with the profile, shown again when the page is reloaded
    qtbot.keyClicks(profile.practice_edit, "Riverside Counselling")
    changed.clear()
    qtbot.mouseClick(profile.save_profile_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: bool(changed), message="the practice saved"))
    assert ProfileService(ui_ctx).practice_name_sync(therapist.id) == "Riverside Counselling"
    profile.practice_edit.clear()
    aio.run(page.refresh())
    assert profile.practice_edit.text() == "Riverside Counselling"
    assert not profile.profile_error.isVisibleTo(page)

    # A passcode whose repeat differs is refused before anything is sent; then set, and it unlocks.
    qtbot.keyClicks(profile.new_edit, "calm-harbour-7")
    qtbot.keyClicks(profile.confirm_edit, "calm-harbour-8")
    qtbot.mouseClick(profile.passcode_button, Qt.MouseButton.LeftButton)
    assert profile.passcode_error.text() == "The new passcode and its repeat differ."
    profile.confirm_edit.clear()
    qtbot.keyClicks(profile.confirm_edit, "calm-harbour-7")
    told: list[tuple[str, str]] = []
    profile.notify.connect(lambda kind, message: told.append((kind, message)))
    qtbot.mouseClick(profile.passcode_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: bool(told) or profile.passcode_error.isVisibleTo(page), message="the passcode"))
    assert told == [("success", "Passcode changed.")], profile.passcode_error.text()
    assert ProfileService(ui_ctx).verify_passcode_sync(therapist.id, "calm-harbour-7")
    assert profile.new_edit.text() == "" and not profile.passcode_error.isVisibleTo(page)
    with ui_ctx.db.unit_of_work() as s:
        actions = {e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.user_id == therapist.id))}
    assert {"profile.update", "profile.passcode"} <= actions
    screenshot(profile, "rough-edges-settings-profile")
