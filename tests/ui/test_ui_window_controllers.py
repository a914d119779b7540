"""The window's controllers on their own: each is given what it uses (one bundle's services, small real widgets)
and reaches for nothing else."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from import_audio import write_tone
from PySide6.QtWidgets import QStackedWidget, QWidget
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver, QuietRunner

from tbdesktop.services.batch_import import BatchImportService
from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.recording.service import RecordingService
from tbdesktop.services.sessions import ImportRequest
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.lock import LockScreen
from tbdesktop.ui.window.import_controller import ImportController
from tbdesktop.ui.window.lock_controller import LockController
from tbdesktop.ui.window.recording_controller import RecordingController


class ListStub:
    """The sessions list as the controllers see it: it counts how often it is asked to read again."""

    def __init__(self) -> None:
        self.refreshed = 0
        self.scheduled = 0

    async def refresh(self) -> None:
        self.refreshed += 1

    def schedule_refresh(self) -> None:
        self.scheduled += 1


def _refuse(name: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError(f"a {name} was built outside the bundle the controller was given")

    return refuse


@pytest.fixture
def pulse(pulse_null_sink: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in pulse_null_sink.items():
        monkeypatch.setenv(key, value)
    return pulse_null_sink


def test_every_recorder_is_built_on_the_one_recording_service(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    pulse: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = AppServices.compose(ui_ctx, therapist)
    monkeypatch.setattr(RecordingService, "__init__", _refuse("recording service"))
    host = QWidget()
    qtbot.addWidget(host)
    notes: list[tuple[str, str]] = []
    controller = RecordingController(
        services.recording,
        services.sessions,
        QuietRunner(),
        ListStub(),
        host,
        notify=lambda kind, message: notes.append((kind, message)),
        show_sessions=lambda: None,
        is_locked=lambda: False,
    )
    for _ in range(2):
        dialog = aio.run(controller.open_recorder())
        assert controller.recorder_dialog is dialog
        assert dialog._recording is services.recording
        dialog.reject()
        assert controller.recorder_dialog is None
    assert aio.run(controller.offer_interrupted_recordings()) == 0
    assert notes == []


def test_a_locked_window_records_nothing(qtbot: QtBot, ui_ctx: AppContext, therapist: UserInfo) -> None:
    services = AppServices.compose(ui_ctx, therapist)
    host = QWidget()
    qtbot.addWidget(host)
    controller = RecordingController(
        services.recording,
        services.sessions,
        QuietRunner(),
        ListStub(),
        host,
        notify=lambda _kind, _message: None,
        show_sessions=lambda: None,
        is_locked=lambda: True,
    )
    controller.start_recording()
    assert controller.recorder_dialog is None


def test_one_recording_imports_through_the_bundle(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = AppServices.compose(ui_ctx, therapist)
    monkeypatch.setattr(BatchImportService, "__init__", _refuse("batch import service"))
    host = QWidget()
    qtbot.addWidget(host)
    runner = QuietRunner()
    listing = ListStub()
    shown: list[str] = []
    notes: list[tuple[str, str]] = []

    async def open_session(_session_id: Any) -> None:
        shown.append("session")

    controller = ImportController(
        services.sessions,
        services.batch_import,
        ProgressBridge(host),
        runner,
        listing,
        host,
        notify=lambda kind, message: notes.append((kind, message)),
        open_session=open_session,
        open_session_later=lambda _session_id: None,
        cancel_processing=lambda _session_id: None,
        show_sessions=lambda: shown.append("sessions"),
        is_locked=lambda: False,
    )
    request = ImportRequest(
        source=write_tone(tmp_path / "a.wav", 440), client_name="Jordan Lee", consent_method="verbal"
    )
    info = aio.run(controller.run_import(request))
    assert info is not None and info.client_name == "Jordan Lee"
    dialog = controller.processing_dialog
    assert dialog is not None and dialog.session_id == info.id
    assert runner.woken == 1 and listing.refreshed == 1 and shown == ["sessions"] and notes == []
    assert [s.id for s in services.sessions.list_sessions_sync()] == [info.id]


def test_the_idle_lock_reads_the_profile_off_the_ui_thread(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = ProfileService(ui_ctx)
    ui_thread = threading.current_thread()
    for name in ("has_passcode_sync", "idle_lock_minutes_sync", "set_passcode_sync"):
        original = getattr(ProfileService, name)

        def off_ui(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            assert threading.current_thread() is not ui_thread, f"{_name} ran on the UI thread"
            return _original(*args, **kwargs)

        monkeypatch.setattr(ProfileService, name, off_ui)
    stack = QStackedWidget()
    qtbot.addWidget(stack)
    home = QWidget()
    screen = LockScreen(therapist.display_name)
    stack.addWidget(home)
    stack.addWidget(screen)
    stack.show()
    lock = LockController(profiles, therapist, stack, screen, home)
    changes: list[bool] = []
    lock.lockedChanged.connect(changes.append)
    aio.run(lock.start())
    assert lock.idle_watcher.timer.interval() > 0 and not lock.has_passcode

    lock.lock()
    assert lock.locked and stack.currentWidget() is screen and changes == [True]
    aio.run(aio.until(lambda: not screen.confirm_edit.isHidden(), message="the screen asking for a passcode"))
    screen.passcode_edit.setText("abcdef1")
    screen.confirm_edit.setText("abcdef1")
    screen.submit()
    aio.run(aio.until(lambda: not lock.locked, message="unlocked with the new passcode"))
    assert stack.currentWidget() is home and changes == [True, False] and lock.has_passcode
    assert profiles.verify_passcode_sync(therapist.id, "abcdef1")
