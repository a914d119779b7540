"""The recorder dialog against the real recording service and a real capture path (PulseAudio null sink →
ALSA ``pulse`` device → sounddevice): record, pause, resume, stop, save as a session; closing saves too."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver, make_window

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.recording import LevelReading, RecorderObserver, RecorderState, RecordingService
from tbdesktop.services.sessions import SessionService
from tbdesktop.ui.recording.dialog import RecorderDialog, clock, meter_value


def test_meter_and_clock() -> None:
    assert meter_value(0.0) == 100 and meter_value(-60.0) == 0 and meter_value(-120.0) == 0
    assert meter_value(-30.0) == 50
    assert clock(0) == "0:00:00" and clock(3725.9) == "1:02:05"


@pytest.fixture
def pulse(pulse_null_sink: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in pulse_null_sink.items():
        monkeypatch.setenv(key, value)
    return pulse_null_sink


def _play(wav: Path) -> threading.Thread:
    def run() -> None:
        subprocess.run(["paplay", "--device=virt", str(wav)], env=dict(os.environ), capture_output=True, timeout=120)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _dialog(qtbot: QtBot, ui_ctx: AppContext, therapist: UserInfo) -> RecorderDialog:
    dialog = RecorderDialog(RecordingService(ui_ctx, therapist), SessionService(ui_ctx, therapist))
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_record_pause_resume_stop_and_save(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    pulse: dict[str, str],
    speech_session: tuple[Path, Any],
    screenshot: Any,
) -> None:
    dialog = _dialog(qtbot, ui_ctx, therapist)
    sessions = SessionService(ui_ctx, therapist)
    saved: list[Any] = []
    dialog.saved.connect(saved.append)

    async def scenario() -> None:
        dialog.load(await sessions.list_clients())
        await AsyncDriver.until(lambda: dialog.device_combo.count() > 0, message="microphones listed")
        names = [dialog.device_combo.itemData(i) for i in range(dialog.device_combo.count())]
        assert "pulse" in names, names
        dialog.device_combo.setCurrentIndex(names.index("pulse"))
        dialog.client_combo.setEditText("Robin Park")
        # Consent first: recording does not start without it.
        qtbot.mouseClick(dialog.record_button, Qt.MouseButton.LeftButton)
        assert dialog.recorder is None and "consent" in dialog.problem_label.text()
        dialog.consent_combo.setCurrentIndex(dialog.consent_combo.findData("verbal"))
        qtbot.mouseClick(dialog.record_button, Qt.MouseButton.LeftButton)
        await AsyncDriver.until(lambda: dialog.state is RecorderState.RECORDING, message="recording")
        player = _play(speech_session[0])
        peak = [0]

        def louder() -> bool:
            peak[0] = max(peak[0], dialog.meter.value())
            return peak[0] > 20 and dialog.elapsed_label.text() >= "0:00:03"

        await AsyncDriver.until(louder, timeout=30, message="level and time moving")
        screenshot(dialog, "recorder-recording")
        assert not dialog.type_combo.isEnabled()  # fixed once recording
        qtbot.mouseClick(dialog.pause_button, Qt.MouseButton.LeftButton)
        # The recorder's state changes on its thread; the dialog shows it once the signal arrives.
        await AsyncDriver.until(
            lambda: dialog.state is RecorderState.PAUSED and "Paused" in dialog.state_label.text(), message="paused"
        )
        assert dialog.pause_button.text() == "Resume"
        assert dialog.recorder is not None
        paused_at = dialog.recorder.elapsed_s
        # The device goes on delivering while paused (the meter moves): 1.5 s of it, and none of it is recorded.
        heard = PausedBlocks()
        dialog.recorder.add_observer(heard)
        await AsyncDriver.until(lambda: len(heard.elapsed_s) >= 30, message="1.5 s of audio while paused")
        dialog.recorder.remove_observer(heard)
        assert len(set(heard.elapsed_s)) == 1, "the recorded time stood still while paused"
        assert dialog.recorder.elapsed_s == pytest.approx(heard.elapsed_s[0])
        qtbot.mouseClick(dialog.pause_button, Qt.MouseButton.LeftButton)
        await AsyncDriver.until(lambda: dialog.state is RecorderState.RECORDING, message="resumed")
        await AsyncDriver.until(lambda: dialog.recorder is not None and dialog.recorder.elapsed_s > paused_at + 2)
        qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
        # The state arrives from the recorder before the stop call has returned: wait for both.
        await AsyncDriver.until(
            lambda: dialog.state is RecorderState.STOPPED and dialog.save_button.isEnabled(), message="stopped"
        )
        assert not dialog.pause_button.isEnabled()
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        await AsyncDriver.until(lambda: bool(saved), timeout=60, message="saved as a session")
        await asyncio.to_thread(player.join, 60)

    aio.run(scenario(), timeout=180)
    info = saved[0]
    stored = sessions.get_sync(info.id)
    assert stored.client_name == "Robin Park" and stored.consent_method == "verbal"
    assert stored.status == "queued" and stored.duration_mins is not None and 0.05 < stored.duration_mins < 1.0
    assert not dialog.isVisible()
    assert list((ui_ctx.settings.recordings_dir / "in-progress").glob("*.tbj")) == []  # the journal is gone


def test_closing_while_recording_keeps_the_audio(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, pulse: dict[str, str]
) -> None:
    dialog = _dialog(qtbot, ui_ctx, therapist)
    saved: list[Any] = []
    dialog.saved.connect(saved.append)

    async def scenario() -> None:
        dialog.load([])
        await AsyncDriver.until(lambda: dialog.device_combo.findData("pulse") >= 0, message="microphones listed")
        dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("pulse"))
        dialog.consent_combo.setCurrentIndex(dialog.consent_combo.findData("written"))
        dialog.start()
        await AsyncDriver.until(lambda: dialog.recorder is not None and dialog.recorder.elapsed_s > 1.5)
        dialog.close()  # the window's close button: never loses what was recorded
        await AsyncDriver.until(lambda: bool(saved), timeout=60, message="saved on close")

    aio.run(scenario(), timeout=120)
    assert SessionService(ui_ctx, therapist).get_sync(saved[0].id).consent_method == "written"


class PausedBlocks(RecorderObserver):
    """The recorded time at each block (0.05 s) the recorder measured while paused."""

    def __init__(self) -> None:
        self.elapsed_s: list[float] = []

    def level(self, reading: LevelReading) -> None:
        if reading.paused:
            self.elapsed_s.append(reading.elapsed_s)


def _interrupted(ui_ctx: AppContext, therapist: UserInfo, client: str) -> str:
    """A recording left unsaved (as a crash or a closed app leaves it): its journal stays on disk."""
    from polling import until

    from tbdesktop.services.recording import RecordingParams

    recorder = RecordingService(ui_ctx, therapist).recorder(
        RecordingParams(device="pulse", client_name=client, consent_method="verbal")
    )
    recorder.start()
    until(lambda: recorder.elapsed_s >= 1.5, 20, "a second and a half recorded (nothing recorded)")
    journal = recorder.journal_id
    recorder.close()
    assert journal is not None
    return journal


def test_interrupted_recordings_are_offered_at_start(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, pulse: dict[str, str]
) -> None:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from tbdesktop.services.processing.runner import ProcessingRunner

    kept = _interrupted(ui_ctx, therapist, "Casey Brooks")
    dropped = _interrupted(ui_ctx, therapist, "Drew Lane")
    runner = ProcessingRunner(ui_ctx, owner_ids=[therapist.id])
    window = make_window(qtbot, ui_ctx, therapist, runner)
    answers = {"Casey Brooks": "Recover as a session", "Drew Lane": "Discard"}
    asked: list[str] = []

    async def answer() -> None:
        while len(asked) < 2:
            boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "recoverRecordingDialog"]
            box = next((b for b in boxes if isinstance(b, QMessageBox) and b.isVisible()), None)
            if box is not None and box.text() not in asked:
                asked.append(box.text())
                name = next(n for n in answers if n in box.text())
                button = next(b for b in box.buttons() if b.text() == answers[name])
                button.click()
            await asyncio.sleep(0.05)

    async def scenario() -> int:
        await window.refresh()
        helper = asyncio.ensure_future(answer())
        recovered = await window.recordings.offer_interrupted_recordings()
        await helper
        return recovered

    assert aio.run(scenario(), timeout=90) == 1
    sessions = SessionService(ui_ctx, therapist).list_sessions_sync()
    assert [s.client_name for s in sessions] == ["Casey Brooks"]
    left = list((ui_ctx.settings.recordings_dir / "in-progress").glob("*.tbj"))
    assert left == [], (kept, dropped, left)
    assert RecordingService(ui_ctx, therapist).find_interrupted_sync() == []
