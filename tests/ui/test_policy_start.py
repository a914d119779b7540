"""The app does not start under a clinic policy file that is not valid: its message is shown in the error
dialog and the app exits with 1, before anything is opened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox
from ui_support import AsyncDriver

from tbdesktop import policy as policy_module
from tbdesktop.app import start_app
from tbdesktop.config import Settings, load_settings
from tbdesktop.ui.aio import spawn


def _fatal_box() -> QMessageBox | None:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QMessageBox) and w.objectName() == "fatalErrorDialog" and w.isVisible():
            return w
    return None


def test_a_broken_policy_file_is_shown_and_the_app_does_not_start(
    aio: AsyncDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = tmp_path / "etc" / "policy.json"
    machine.parent.mkdir(parents=True)
    machine.write_text(json.dumps({"settings": {"asr_model": 3}}), encoding="utf-8")
    monkeypatch.setattr(policy_module, "machine_policy_file", lambda: machine)
    data_dir = tmp_path / "data"
    seen: list[str] = []

    def load() -> Settings:
        return load_settings(data_dir=data_dir, config_dir=tmp_path / "config", env={})

    async def dismiss() -> None:
        await AsyncDriver.until(lambda: _fatal_box() is not None, message="error dialog")
        box = _fatal_box()
        assert box is not None
        seen.append(box.text())
        box.done(QMessageBox.StandardButton.Close.value)

    async def scenario() -> int:
        closer = spawn(dismiss())
        code = await start_app(load)
        await closer
        return code

    assert aio.run(scenario()) == 1
    assert seen == [f'The clinic policy file {machine} is not valid: "settings.asr_model" must be a text, not 3.']
    assert not data_dir.exists()  # nothing was opened
