"""Settings → a language model on this workstation: choose its file, test it for real in a separate process
(the window stays usable), save and reload; a damaged or missing file is a clear error, and nothing is saved."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from llm_support import note_model_file
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QWidget
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.settings import SettingsService
from tbdesktop.ui.settings_page import GPU_CHECKING, SettingsPage

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

Shot = Callable[[QWidget, str], Path]
SIZE = (1024, 760)


def _children() -> set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


def _page(qtbot: QtBot, aio: AsyncDriver, ctx: AppContext, user: UserInfo, config_dir: Path) -> SettingsPage:
    page = SettingsPage(
        dataclasses.replace(
            AppServices.compose(ctx, user), settings=SettingsService(ctx, user, config_dir=config_dir, env={})
        )
    )
    qtbot.addWidget(page)
    page.resize(*SIZE)
    page.show()
    aio.run(aio.until(lambda: page.view() is not None, message="the settings to load"))
    page.show_advanced()  # the notes model's file and tuning are IT's, under Advanced
    return page


def _choose_llm(aio: AsyncDriver, page: SettingsPage) -> None:
    page.notes_combo.setCurrentIndex(page.notes_combo.findData("llm"))
    assert page.notes_combo.currentText() == "Language model on this workstation"
    assert page.gpu_label is not None
    aio.run(aio.until(lambda: page.gpu_label is not None and page.gpu_label.text() != GPU_CHECKING, message="GPU"))


def _show_model_rows(page: SettingsPage) -> None:
    page._scroll.ensureWidgetVisible(page.model_test, 50, 120)


def _run_test(aio: AsyncDriver, page: SettingsPage) -> None:
    page.model_test.test_button.click()
    assert page.model_test.busy and page.model_test_running
    assert not page.model_test.test_button.isEnabled() and page.model_test.cancel_button.isVisible()
    # The window keeps turning while the model loads elsewhere: a timer fires, the fields still take input.
    ticks: list[int] = []
    timer = QTimer(page)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    aio.run(aio.until(lambda: len(ticks) >= 3, message="the event loop to turn during the test"))
    assert page.model_test_running
    page.notes_threads_spin.setValue(page.notes_threads_spin.value())
    aio.run(aio.until(lambda: not page.model_test_running, timeout=240, message="the model test"), timeout=250)
    timer.stop()
    assert not page.model_test.busy and page.model_test.test_button.isEnabled()


def test_choose_test_save_and_reload_a_workstation_model(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, config_dir: Path, screenshot: Shot
) -> None:
    page = _page(qtbot, aio, ui_ctx, therapist, config_dir)
    assert not page.notes_file.isVisibleTo(page) and not page.model_test.isVisibleTo(page)
    assert page.notes_url_edit.isVisibleTo(page)
    _choose_llm(aio, page)
    assert page.notes_file.isVisibleTo(page) and page.notes_threads_spin.isVisibleTo(page)
    assert page.notes_gpu_spin.isVisibleTo(page) and page.notes_context_spin.isVisibleTo(page)
    assert not page.notes_url_edit.isVisibleTo(page) and not page.notes_model_edit.isVisibleTo(page)
    assert not page.notes_key.isVisibleTo(page)  # a server's key: nothing to do with a model here
    assert page.gpu_label is not None and "no GPU" in page.gpu_label.text()  # the CPU-only runtime of the tests
    assert (page.notes_threads_spin.value(), page.notes_gpu_spin.value(), page.notes_context_spin.value()) == (
        0,
        999,
        8192,
    )
    assert page.notes_threads_spin.text() == "Every core"

    # Browse… opens a non-blocking picker for .gguf files; choosing the file fills the field.
    model = note_model_file()
    page.notes_file.browse_button.click()
    dialog = page.notes_file.dialog
    assert isinstance(dialog, QFileDialog) and dialog.isVisible()
    assert dialog.nameFilters()[0] == "GGUF models (*.gguf)"
    dialog.fileSelected.emit(str(model))
    dialog.reject()
    aio.run(aio.until(lambda: page.notes_file.dialog is None, message="the picker to close"))
    assert page.notes_file.text() == str(model)
    page.notes_threads_spin.setValue(2)
    page.notes_context_spin.setValue(2048)

    before = _children()  # processes other tests left winding down are not this test's
    _run_test(aio, page)
    result = page.model_test.result
    assert result is not None and result.ok, page.model_test.result_label.text()
    shown = page.model_test.result_label.text()
    assert f"{model.name} loads and answers." in shown
    assert "Load time:" in shown and "generation:" in shown and "tokens/s" in shown
    assert "Device: CPU (this runtime has no GPU); 2 threads; context 2048 tokens" in shown
    assert "File size: 94 MB" in shown
    assert page.model_test.result_label.property("state") == "ok"
    assert _children() <= before
    _show_model_rows(page)
    screenshot(page, "settings-notes-model-tested")

    page.save_button.click()
    aio.run(aio.until(lambda: not page._busy, message="saving"))
    assert page.errors() == {}
    stored = json.loads((config_dir / "settings.json").read_text())
    assert stored["notes_backend"] == "llm" and stored["notes_model"] == str(model)
    assert (stored["notes_threads"], stored["notes_gpu_layers"], stored["notes_context"]) == (2, 999, 2048)
    assert "restart TherapyBridge" in page.restart_label.text()

    again = _page(qtbot, aio, ui_ctx, therapist, config_dir)
    assert again.notes_combo.currentData() == "llm" and again.notes_file.text() == str(model)
    assert (again.notes_threads_spin.value(), again.notes_context_spin.value()) == (2, 2048)
    assert again.notes_model_edit.text() == ""  # the path is not taken for a server's model name
    assert again.notes_file.isVisibleTo(again)


def test_a_damaged_model_or_a_wrong_path_is_a_clear_error(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    config_dir: Path,
    tmp_path: Path,
    screenshot: Shot,
) -> None:
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + os.urandom(4096))
    page = _page(qtbot, aio, ui_ctx, therapist, config_dir)
    _choose_llm(aio, page)
    page.notes_file.setText(str(damaged))
    page.notes_context_spin.setValue(1024)
    _run_test(aio, page)
    shown = page.model_test.result_label.text()
    assert shown.startswith("The note model damaged.gguf could not be loaded: the file may be damaged")
    assert page.model_test.result_label.property("state") == "error"
    _show_model_rows(page)
    screenshot(page, "settings-notes-model-damaged")
    page.notes_context_spin.setValue(2048)  # the result was for other settings: it goes
    assert not page.model_test.result_label.isVisibleTo(page) and page.model_test.result is None

    # A path that is not there: refused at save, at the field, and nothing is written.
    page.notes_file.setText(str(tmp_path / "missing.gguf"))
    page.save_button.click()
    aio.run(aio.until(lambda: not page._busy, message="saving"))
    assert page.errors() == {"notes_model_file": "The note model file missing.gguf was not found."}
    assert page.notes_file.edit.property("invalid") is True and page.form_error.isVisibleTo(page)
    assert not (config_dir / "settings.json").exists()
    screenshot(page, "settings-notes-model-missing")


def test_a_model_test_can_be_cancelled(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, config_dir: Path, screenshot: Shot
) -> None:
    page = _page(qtbot, aio, ui_ctx, therapist, config_dir)
    _choose_llm(aio, page)
    page.notes_file.setText(str(note_model_file()))
    before = _children()
    page.model_test.test_button.click()
    assert page.model_test.cancel_button.isVisible()
    aio.run(aio.until(lambda: bool(_children() - before), message="the test process to start"))
    assert page.model_test.test_button.text() == "Testing…" and page.model_test.busy_bar.isVisible()
    _show_model_rows(page)
    screenshot(page, "settings-notes-model-testing")
    page.model_test.cancel_button.click()
    aio.run(aio.until(lambda: not page.model_test_running, message="the test to stop"))
    assert page.model_test.result_label.text() == "The test was cancelled."
    assert page.model_test.test_button.isEnabled() and not page.model_test.cancel_button.isVisible()
    aio.run(aio.until(lambda: not _children() - before, message="the test process to end"))
