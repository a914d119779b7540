"""Settings → About lists the machine's model packs beside the built-in models, and shows a pack's licence."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFrame, QLabel, QListWidget, QPlainTextEdit, QPushButton, QWidget
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver

from tbdesktop.config import Settings
from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.model_packs import add_pack
from tbdesktop.services.settings import SettingsService
from tbdesktop.ui.settings_page import SettingsPage

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

Shot = Callable[[QWidget, str], Path]
LICENCE = "Clinic Speech Model Licence 1.0\n\nUse within the clinic only. No redistribution.\n"


@pytest.fixture
def ui_settings(tmp_path: Path, base_model_cache: Path) -> Settings:
    """The UI settings with a machine-wide model folder holding one speech pack, chosen as the speech model."""
    source = tmp_path / "usb" / "whisper-clinic"
    source.mkdir(parents=True)
    (source / "model.bin").write_bytes(b"weights" * 100)
    (source / "config.json").write_text(json.dumps({"num_hidden_layers": 4}), encoding="utf-8")
    (source / "tokenizer.json").write_text("{}", encoding="utf-8")
    (source / "LICENCE.md").write_text(LICENCE, encoding="utf-8")
    model_dir = tmp_path / "machine-models"
    add_pack(source, model_dir)
    return Settings(
        data_dir=tmp_path / "data",
        secrets_dir=tmp_path / "secrets",
        cache_dir=base_model_cache,
        asr_device="cpu",
        model_dir=model_dir,
        asr_model="whisper-clinic",
    )


def _child(root: QWidget, kind: type, name: str) -> QWidget:
    found = root.findChild(kind, name)
    assert found is not None, f"no {kind.__name__} named {name}"
    assert isinstance(found, QWidget)
    return found


def test_about_lists_a_model_pack_and_shows_its_licence(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path, screenshot: Shot
) -> None:
    page = SettingsPage(
        dataclasses.replace(
            AppServices.compose(ui_ctx, therapist),
            settings=SettingsService(ui_ctx, therapist, config_dir=tmp_path / "config", env={}),
        )
    )
    qtbot.addWidget(page)
    page.resize(1024, 900)
    page.show()
    section = _child(page, QFrame, "aboutSection")
    aio.run(aio.until(lambda: _child(section, QPushButton, "licensesButton").isEnabled(), message="About to load"))

    row = _child(section, QWidget, "aboutModel-pack-whisper-clinic")
    words = " | ".join(label.text() for label in row.findChildren(QLabel))
    assert "whisper-clinic — Clinic Speech Model Licence 1.0" in words
    assert "Speech recognition (model pack)" in words and "faster-whisper (CTranslate2), 4 layers" in words
    assert "Installed and checked (files and sizes match)." in words
    assert "Not used with the current processing settings" not in words  # the settings choose it by name
    # the built-in speech model is listed too, and is not the one in use
    base = " | ".join(label.text() for label in _child(section, QWidget, "aboutModel-speech").findChildren(QLabel))
    assert "Whisper base — MIT" in base and "Not used with the current processing settings" in base
    page._scroll.ensureWidgetVisible(row)
    screenshot(page, "settings-about-model-pack")

    button = _child(row, QPushButton, "aboutModelLicense-pack-whisper-clinic")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = _child(page, QDialog, "licensesDialog")
    qtbot.waitUntil(dialog.isVisible)
    listing = _child(dialog, QListWidget, "licenseList")
    text = _child(dialog, QPlainTextEdit, "licenseText")
    assert isinstance(listing, QListWidget) and isinstance(text, QPlainTextEdit)
    assert listing.currentItem().text() == "whisper-clinic: Clinic Speech Model Licence 1.0"
    assert text.toPlainText() == LICENCE
    screenshot(dialog, "licenses-dialog-model-pack")
    dialog.reject()
    qtbot.waitUntil(lambda: not dialog.isVisible())
