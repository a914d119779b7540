"""Widgets on their own: first-run profile, empty state, import dialog validation, cards, toasts."""

from __future__ import annotations

import uuid
import wave
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QDialog, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver, make_window

from tbdesktop.app import create_application, ensure_profile, main_coroutine
from tbdesktop.config import Settings
from tbdesktop.errors import ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ClientInfo, ProgressEvent, SegmentInfo, SessionInfo, UserInfo
from tbdesktop.services.processing.runner import ProcessingRunner
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.first_run import FirstRunDialog
from tbdesktop.ui.formatting import duration_badge, eta_words, initials, timestamp
from tbdesktop.ui.import_dialog import ImportDialog
from tbdesktop.ui.processing_dialog import ProcessingDialog
from tbdesktop.ui.resources import icon_path, resources_dir, style_sheet
from tbdesktop.ui.session_view import SessionView
from tbdesktop.ui.sessions_page.card import SessionCard
from tbdesktop.ui.window.main_window import MainWindow

NOW = datetime(2025, 5, 14, 9, 30, tzinfo=UTC)


def make_info(**overrides: Any) -> SessionInfo:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "owner_id": uuid.uuid4(),
        "owner_name": "Dr. Sam Rivera",
        "client_id": None,
        "client_name": None,
        "session_date": date(2025, 5, 14),
        "duration_mins": 50.2,
        "status": "completed",
        "progress": 100,
        "stage_detail": "Done",
        "error": None,
        "eta_seconds": None,
        "is_anonymous": False,
        "ai_summary": None,
        "recording_available": True,
        "recording_deleted_at": None,
        "transcript_deleted_at": None,
        "consent_method": None,
        "consent_obtained_at": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    return SessionInfo(**values)


class IdleRunner:
    """Stands in for the processing runner where no job runs."""

    def __init__(self) -> None:
        self.listeners: list[Any] = []
        self.woken = 0
        self.cancelled: list[uuid.UUID] = []

    def add_listener(self, listener: Any) -> Any:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def wake(self) -> None:
        self.woken += 1

    async def cancel(self, session_id: uuid.UUID) -> bool:
        self.cancelled.append(session_id)
        return True


# -- resources and formatting ------------------------------------------------------------------------------


def test_resources_are_found() -> None:
    assert (resources_dir() / "style.qss").is_file()
    for name in ("app", "import", "mic", "more-vertical"):
        assert icon_path(name).is_file(), name
    sheet = style_sheet()
    assert "QFrame#sessionCard" in sheet and "@RESOURCES@" not in sheet
    assert (resources_dir() / "icons" / "chevron-down.svg").as_posix() in sheet


def test_create_application_sets_name_icon_and_style(qapp: Any) -> None:
    app = create_application()
    assert app is qapp
    assert app.applicationName() == "TherapyBridge"
    assert not app.windowIcon().isNull()
    assert "sessionCard" in app.styleSheet()


def test_formatting() -> None:
    assert timestamp(83) == "01:23"
    assert timestamp(3723) == "1:02:03"
    assert timestamp(83, with_hours=True) == "0:01:23"
    assert duration_badge(50.2) == "50 mins"
    assert duration_badge(1.0) == "1 min"
    assert duration_badge(0.3) == "< 1 min"
    assert eta_words(125) == "about 2 min left"
    assert eta_words(None) == ""
    assert initials("Dr. Sam Rivera") == "SR"
    assert initials("Alex") == "A"


# -- first run ---------------------------------------------------------------------------------------------


def test_first_run_dialog_creates_profile(qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, screenshot: Any) -> None:
    profiles = ProfileService(ui_ctx)
    dialog = FirstRunDialog(profiles.create_profile)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.continue_button.isEnabled()

    async def scenario() -> None:
        dialog.email_edit.setText("not-an-email")
        qtbot.keyClicks(dialog.name_edit, "Dr. Alex Morgan")
        assert dialog.continue_button.isEnabled()
        qtbot.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: "passcode" in dialog.error_label.text().lower(), message="a passcode is needed")
        qtbot.keyClicks(dialog.passcode_edit, "river-stone")
        qtbot.keyClicks(dialog.confirm_edit, "river-stones")
        qtbot.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: "differ" in dialog.error_label.text(), message="mismatch refused")
        dialog.confirm_edit.setText("river-stone")
        qtbot.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: "email" in dialog.error_label.text().lower(), message="inline validation error")
        screenshot(dialog, "first-run-dialog")
        assert dialog.result() != QDialog.DialogCode.Accepted

        dialog.email_edit.setText("alex.morgan@clinic.test")
        qtbot.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: dialog.result() == QDialog.DialogCode.Accepted, message="dialog accepted")

    aio.run(scenario())
    assert dialog.profile is not None
    stored = profiles.local_profile_sync()
    assert stored is not None
    assert stored.id == dialog.profile.id
    assert profiles.verify_passcode_sync(stored.id, "river-stone")
    assert stored.display_name == "Dr. Alex Morgan"
    assert stored.email == "alex.morgan@clinic.test"


def test_first_run_enter_key_submits_and_never_quits(qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext) -> None:
    """Typing the name and pressing Enter creates the profile (the keyboard path a real user takes)."""
    profiles = ProfileService(ui_ctx)
    dialog = FirstRunDialog(profiles.create_profile)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.name_edit.setFocus()

    async def scenario() -> None:
        qtbot.keyClicks(dialog.name_edit, "Dr. Sam Rivera")
        qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
        await aio.until(lambda: dialog.passcode_edit.hasFocus(), message="Enter moves on to the passcode")
        assert dialog.result() != QDialog.DialogCode.Accepted and dialog.isVisible()
        qtbot.keyClicks(dialog.passcode_edit, "sam-passcode")
        qtbot.keyClicks(dialog.confirm_edit, "sam-passcode")
        qtbot.keyClick(dialog.confirm_edit, Qt.Key.Key_Return)
        await aio.until(lambda: dialog.result() == QDialog.DialogCode.Accepted, message="accepted by Enter")

    aio.run(scenario())
    stored = profiles.local_profile_sync()
    assert stored is not None and stored.display_name == "Dr. Sam Rivera"


def test_ensure_profile_skips_dialog_when_profile_exists(
    aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo
) -> None:
    user = aio.run(ensure_profile(ProfileService(ui_ctx)))
    assert user is not None and user.id == therapist.id


def test_app_first_run_then_window_then_close(qtbot: QtBot, aio: AsyncDriver, ui_settings: Settings) -> None:
    """main_coroutine: migrations, first-run dialog, main window with the runner, clean shutdown."""
    from PySide6.QtWidgets import QApplication

    async def drive() -> None:
        def top(name: str) -> Any:
            return next((w for w in QApplication.topLevelWidgets() if w.objectName() == name and w.isVisible()), None)

        await aio.until(lambda: top("firstRunDialog") is not None, message="first-run dialog")
        dialog = top("firstRunDialog")
        dialog.name_edit.setText("Dr. Robin Chen")
        dialog.passcode_edit.setText("robin-passcode")
        dialog.confirm_edit.setText("robin-passcode")
        dialog.continue_button.click()
        await aio.until(lambda: top("mainWindow") is not None, message="main window")
        window = top("mainWindow")
        assert window.therapist_label.text() == "Dr. Robin Chen"
        await aio.until(lambda: window.sessions_page.stack.currentWidget() is window.sessions_page.empty_state)
        window.close()

    async def scenario() -> int:
        driver = spawn(drive())
        code = await main_coroutine(ui_settings)
        await driver
        return code

    assert aio.run(scenario(), timeout=90) == 0
    ctx = AppContext.open(ui_settings)
    try:
        profile = ProfileService(ctx).local_profile_sync()
        assert profile is not None and profile.display_name == "Dr. Robin Chen"
    finally:
        ctx.close()


def test_app_asks_for_the_passcode_where_there_is_no_os_keyring(
    qtbot: QtBot, aio: AsyncDriver, ui_settings: Settings, screenshot: Any
) -> None:
    """The profile's keys open with its passcode: the app signs in before the window (and its runner) start."""
    from dataclasses import replace

    from PySide6.QtWidgets import QApplication

    settings = replace(ui_settings, secret_store="file")
    ctx = AppContext.open(settings)
    try:
        ProfileService(ctx).create_profile_sync("Dr. Robin Chen", passcode="robin-passcode")
    finally:
        ctx.close()
    seen: dict[str, Any] = {}

    async def drive() -> None:
        def top(name: str) -> Any:
            return next((w for w in QApplication.topLevelWidgets() if w.objectName() == name and w.isVisible()), None)

        await aio.until(lambda: top("unlockDialog") is not None, message="sign-in dialog")
        assert top("mainWindow") is None
        dialog = top("unlockDialog")
        screen = dialog.screen_widget
        screen.passcode_edit.setText("wrong-passcode")
        qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: "not right" in screen.error_label.text(), message="wrong passcode refused")
        screenshot(dialog, "sign-in-dialog")
        screen.passcode_edit.setText("robin-passcode")
        qtbot.keyClick(screen.passcode_edit, Qt.Key.Key_Return)
        await aio.until(lambda: top("mainWindow") is not None, message="main window")
        window = top("mainWindow")
        seen["needs_unlock"] = window.services.profiles.needs_unlock(window.user.id)
        window.close()

    async def scenario() -> int:
        driver = spawn(drive())
        code = await main_coroutine(settings)
        await driver
        return code

    assert aio.run(scenario(), timeout=90) == 0
    assert seen["needs_unlock"] is False


def test_app_start_up_failure_shows_message_and_exits_1(aio: AsyncDriver, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QApplication

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings = Settings(data_dir=blocker / "data", secrets_dir=tmp_path / "secrets", cache_dir=tmp_path / "cache")
    seen: list[str] = []

    async def dismiss() -> None:
        def box() -> QMessageBox | None:
            for w in QApplication.topLevelWidgets():
                if isinstance(w, QMessageBox) and w.objectName() == "fatalErrorDialog" and w.isVisible():
                    return w
            return None

        await AsyncDriver.until(lambda: box() is not None, message="error dialog")
        found = box()
        assert found is not None
        seen.append(found.text())
        found.done(QMessageBox.StandardButton.Close.value)

    async def scenario() -> int:
        closer = spawn(dismiss())
        code = await main_coroutine(settings)
        await closer
        return code

    assert aio.run(scenario()) == 1
    assert seen and "data folder" in seen[0]
    assert "Traceback" not in seen[0]


# -- main window: empty state, import dialog ---------------------------------------------------------------


@pytest.fixture
def idle_window(qtbot: QtBot, ui_ctx: AppContext, therapist: UserInfo) -> tuple[MainWindow, IdleRunner]:
    runner = IdleRunner()
    window = make_window(qtbot, ui_ctx, therapist, runner)
    return window, runner


def test_empty_state_shows_import_button(
    qtbot: QtBot, aio: AsyncDriver, idle_window: tuple[MainWindow, IdleRunner], screenshot: Any
) -> None:
    window, _ = idle_window
    aio.run(window.refresh())
    page = window.sessions_page
    assert page.stack.currentWidget() is page.empty_state
    assert page.empty_state.objectName() == "emptyState"
    empty_button = page.empty_state.findChild(QPushButton, "emptyStateImportButton")
    assert empty_button is not None and empty_button.isVisible()
    assert "Import recording" in empty_button.text()
    header_button = window.findChild(QPushButton, "importButton")
    assert header_button is not None and header_button.isVisible()
    assert window.therapist_label.text() == "Dr. Sam Rivera"
    screenshot(window, "sessions-empty")

    async def scenario() -> None:
        qtbot.mouseClick(empty_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: window.imports.import_dialog is not None and window.imports.import_dialog.isVisible())
        dialog = window.imports.import_dialog
        assert dialog is not None
        dialog.reject()
        await aio.until(lambda: window.imports.import_dialog is None)

    aio.run(scenario())
    assert page.stack.currentWidget() is page.empty_state


def test_import_dialog_validates_inline(qtbot: QtBot, styled_app: Any, tmp_path: Path, screenshot: Any) -> None:
    client = ClientInfo(id=uuid.uuid4(), name="Jordan Lee", pronouns=None, created_at=NOW)
    dialog = ImportDialog([client])
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.date_edit.date() == QDate.currentDate()
    assert [dialog.client_combo.itemText(i) for i in range(dialog.client_combo.count())] == [
        "No client",
        "Jordan Lee",
    ]

    dialog.submit()
    assert dialog.path_error.isVisible() and "Choose the recording" in dialog.path_error.text()
    assert dialog.result() != QDialog.DialogCode.Accepted

    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    dialog.set_file_path(text_file)
    assert not dialog.path_error.isVisible()
    dialog.submit()
    assert "WAV, MP3" in dialog.path_error.text()

    dialog.set_file_path(tmp_path / "missing.wav")
    dialog.submit()
    assert "does not exist" in dialog.path_error.text()

    audio = tmp_path / "session.m4a"
    audio.write_bytes(b"\0" * 64)
    dialog.set_file_path(audio)
    dialog.set_client_text("jordan lee")
    request = dialog.validate()
    assert request is not None
    assert request.client_id == client.id and request.client_name is None
    assert request.session_date == date.today()
    assert request.session_type == "individual"

    dialog.set_client_text("Casey Brooks")
    assert "new client" in dialog.client_hint.text()
    screenshot(dialog, "import-dialog")
    dialog.date_edit.setDate(QDate(2025, 3, 2))
    dialog.type_combo.setCurrentIndex(dialog.type_combo.findData("couples"))
    dialog.submit()
    assert dialog.result() == QDialog.DialogCode.Accepted
    accepted = dialog.request()
    assert accepted is not None
    assert accepted.client_name == "Casey Brooks" and accepted.client_id is None
    assert accepted.session_date == date(2025, 3, 2)
    assert accepted.session_type == "couples"
    assert accepted.source == audio


# -- cards, processing dialog, session view ----------------------------------------------------------------


def test_session_card_states(qtbot: QtBot, styled_app: Any) -> None:
    info = make_info(status="queued", progress=0, stage_detail="Waiting to start", client_name="Jordan Lee")
    card = SessionCard(info)
    qtbot.addWidget(card)
    card.show()
    assert card.client_label.text() == "Jordan Lee"
    assert card.duration_label.text() == "50 mins"
    assert "Wednesday 14 May 2025" in card.date_label.text()
    assert card.progress_bar.isVisible() and not card.open_button.isVisible()

    opened: list[object] = []
    card.editRequested.connect(opened.append)  # the card's Edit button opens the session
    card.apply_event(ProgressEvent(info.id, None, "transcribing", 40, "Transcribing audio…", 130))
    assert card.progress_bar.value() == 40
    assert "Transcribing audio · 40%" in card.status_label.text()
    assert card.eta_label.text() == "about 2 min left"
    card.apply_event(ProgressEvent(uuid.uuid4(), None, "failed", 0, "Failed", None, "other"))
    assert card.status == "transcribing"

    card.apply_event(ProgressEvent(info.id, None, "failed", 0, "Failed", None, "The file is not audio."))
    assert card.error_label.isVisible() and card.error_label.text() == "The file is not audio."
    assert not card.progress_bar.isVisible() and not card.open_button.isVisible()

    card.apply_event(ProgressEvent(info.id, None, "completed", 100, "Done", None))
    assert card.open_button.isVisible() and not card.error_label.isVisible()
    qtbot.mouseClick(card.open_button, Qt.MouseButton.LeftButton)
    assert opened == [info.id]

    anonymous = SessionCard(make_info(is_anonymous=True, client_name="Hidden"))
    qtbot.addWidget(anonymous)
    assert anonymous.client_label.text() == "Anonymous individual"
    assert SessionCard(make_info()).client_label.text() == "No client"


def test_processing_dialog_states(qtbot: QtBot, styled_app: Any) -> None:
    dialog = ProcessingDialog("session.wav")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.set_copy_progress(512 * 1024, 1024 * 1024)
    assert dialog.progress_bar.value() == 50
    assert not dialog.cancel_button.isEnabled()

    info = make_info(status="queued", progress=0, stage_detail="Waiting to start")
    dialog.bind_session(info)
    assert dialog.cancel_button.isEnabled() and dialog.background_button.isVisible()
    dialog.apply_event(ProgressEvent(info.id, None, "transcribing", 62, "Transcribing audio…", 45))
    assert dialog.stage_label.text() == "Transcribing audio…"
    assert dialog.progress_bar.value() == 62 and dialog.eta_label.text() == "about 45 s left"

    cancelled: list[object] = []
    dialog.cancelRequested.connect(cancelled.append)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert cancelled == [info.id]

    dialog.apply_event(ProgressEvent(info.id, None, "failed", 0, "Failed", None, "The worker stopped."))
    assert dialog.error_label.isVisible() and dialog.error_label.text() == "The worker stopped."
    assert dialog.close_button.isVisible() and not dialog.open_button.isVisible()

    dialog.apply_event(ProgressEvent(info.id, None, "completed", 100, "Done", None))
    assert dialog.open_button.isVisible() and not dialog.cancel_button.isVisible()
    opened: list[object] = []
    dialog.openRequested.connect(opened.append)
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert opened == [info.id]


def test_session_view_rows(qtbot: QtBot, styled_app: Any) -> None:
    view = SessionView()
    qtbot.addWidget(view)
    segments = [
        SegmentInfo(0, 0.5, 3.0, "SPEAKER_00", None, "Good morning."),
        SegmentInfo(1, 83.2, 90.0, "SPEAKER_01", "client", "I slept <badly> & woke up."),
    ]
    speakers = {
        "SPEAKER_00": {"role": None, "talk_time_s": 2.5},
        "SPEAKER_01": {"role": "client", "talk_time_s": 95.0},
    }
    view.set_content(make_info(client_name="Jordan Lee", speakers=speakers), segments)
    assert view.rows() == ["00:00  Speaker 1  Good morning.", "01:23  Client  I slept <badly> & woke up."]
    text = view.transcript.toPlainText()
    assert "I slept <badly> & woke up." in text and "Speaker 2" in text and "01:23" in text
    # the speakers bar: one role chooser per speaker; an unknown role reads "Unknown"
    bar = view.speakers_bar
    assert not bar.isHidden() and set(bar.combos) == {"SPEAKER_00", "SPEAKER_01"}
    assert bar.combos["SPEAKER_00"].currentText() == "Unknown"
    assert bar.combos["SPEAKER_01"].currentData() == "client"
    changed: list[tuple[str, str]] = []
    view.speakerRoleChanged.connect(lambda s, r: changed.append((s, r)))
    combo = bar.combos["SPEAKER_00"]
    combo.setCurrentIndex(combo.findData("therapist"))
    combo.activated.emit(combo.currentIndex())
    assert changed == [("SPEAKER_00", "therapist")]
    assert view.title_label.text() == "Jordan Lee"
    assert view.duration_label.text() == "50 mins"

    long_segments = [
        SegmentInfo(0, 5.0, 6.0, "SPEAKER_00", None, "a"),
        SegmentInfo(1, 3723, 3725, "SPEAKER_00", None, "b"),
    ]
    view.set_content(make_info(), long_segments)
    assert view.rows()[0].startswith("0:00:05") and view.rows()[1].startswith("1:02:03")

    view.set_content(make_info(status="transcribing"), [])
    assert "when processing has finished" in view.transcript.toPlainText()


# -- errors go to toasts -----------------------------------------------------------------------------------


def test_errors_are_shown_as_toasts(qtbot: QtBot, aio: AsyncDriver, idle_window: tuple[MainWindow, IdleRunner]) -> None:
    window, _ = idle_window

    async def fails_for_user() -> None:
        raise ValidationError("That recording is too long.")

    async def fails_unexpectedly() -> None:
        raise RuntimeError("internal detail that must not be shown")

    async def scenario() -> None:
        spawn(fails_for_user(), on_error=window.show_error)
        spawn(fails_unexpectedly(), on_error=window.show_error)
        await aio.until(lambda: len(window.toasts.toasts()) == 2)

    aio.run(scenario())
    texts = [t.text for t in window.toasts.toasts()]
    assert texts[0] == "That recording is too long."
    assert "internal detail" not in texts[1] and "Something went wrong" in texts[1]
    assert window.toasts.isVisible()

    async def expiry() -> None:
        window.toasts.show_message("Saved.", "success", 50)
        await aio.until(lambda: "Saved." not in [t.text for t in window.toasts.toasts()], message="toast expiry")

    aio.run(expiry())


def test_cancel_from_card_calls_runner(
    qtbot: QtBot, aio: AsyncDriver, idle_window: tuple[MainWindow, IdleRunner]
) -> None:
    window, runner = idle_window
    info = make_info(status="transcribing", progress=30)
    window.sessions_page.set_sessions([info])
    card = window.sessions_page.card(info.id)
    assert card is not None and card.cancel_button.isVisible()

    async def scenario() -> None:
        qtbot.mouseClick(card.cancel_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: runner.cancelled == [info.id])

    aio.run(scenario())


def test_the_window_cancels_through_the_real_runner_and_hears_back_from_it(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path
) -> None:
    """The real runner, not started (the job stays queued): Cancel on the card cancels the job through it, and its
    event comes back to the card through the listener the window added."""
    wav = tmp_path / "tone.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.sin(np.arange(16000 * 3) * 2 * np.pi * 440 / 16000) * 8000).astype("<i2").tobytes())
    sessions = SessionService(ui_ctx, therapist)
    window = make_window(
        qtbot, ui_ctx, therapist, ProcessingRunner(ui_ctx, owner_ids=[therapist.id]), sessions=sessions
    )
    info = sessions.import_recording_sync(ImportRequest(wav, client_name="Casey Brooks", consent_method="verbal"))
    assert info.status == "queued"
    aio.run(window.refresh())
    card = window.sessions_page.card(info.id)
    assert card is not None and card.cancel_button.isVisible()

    def shown_cancelled() -> bool:
        shown = window.sessions_page.card(info.id)
        return shown is not None and shown.status == "cancelled"

    async def scenario() -> None:
        qtbot.mouseClick(card.cancel_button, Qt.MouseButton.LeftButton)
        await aio.until(shown_cancelled, message="the runner's event on the card")

    aio.run(scenario())
    assert sessions.get_sync(info.id).status == "cancelled"
    assert window.toasts.toasts() == [], "nothing went wrong (no 'no longer processing')"


def test_session_view_consent_bar(qtbot: QtBot, styled_app: Any) -> None:
    view = SessionView()
    qtbot.addWidget(view)
    view.set_content(make_info(status="queued", stage_detail="Waiting for the client's consent"), [])
    assert not view.consent_bar.isHidden()
    recorded: list[str] = []
    view.consentRecorded.connect(recorded.append)
    qtbot.mouseClick(view.consent_bar.buttons["written"], Qt.MouseButton.LeftButton)
    assert recorded == ["written"]
    view.set_content(make_info(consent_method="written", consent_obtained_at=NOW), [])
    assert view.consent_bar.isHidden()


def test_idle_lock_hides_sessions_until_the_passcode(
    qtbot: QtBot, aio: AsyncDriver, idle_window: tuple[MainWindow, IdleRunner], ui_ctx: AppContext, screenshot: Any
) -> None:
    window, _ = idle_window
    ProfileService(ui_ctx).set_passcode_sync(window.user.id, "correct horse")
    aio.run(window.refresh())
    window.lock_control.set_idle_lock_minutes(0.2 / 60)  # 200 ms

    async def locks() -> None:
        await aio.until(lambda: window.locked, timeout=5, message="the idle lock")

    aio.run(locks())
    assert window.stack.currentWidget() is window.lock_screen and not window.import_button.isEnabled()
    assert window.lock_screen.confirm_edit.isHidden()
    screenshot(window, "idle-lock")
    window.open_session_later(uuid.uuid4())  # nothing shows through the lock

    async def wrong_then_right() -> None:
        window.lock_screen.passcode_edit.setText("wrong guess")
        qtbot.mouseClick(window.lock_screen.unlock_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: "not right" in window.lock_screen.error_label.text(), message="refusal")
        assert window.locked
        window.lock_screen.passcode_edit.setText("correct horse")
        qtbot.mouseClick(window.lock_screen.unlock_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: not window.locked, message="unlock")

    aio.run(wrong_then_right())
    assert window.stack.currentWidget() is window.sessions_page and window.import_button.isEnabled()
    with ui_ctx.db.unit_of_work() as s:
        from sqlalchemy import select

        from tbdesktop.store.models import AuditEvent

        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.user_id == window.user.id))]
    assert "profile.unlock_failed" in actions and "profile.unlock" in actions

    # input keeps it unlocked: activity restarts the countdown
    # 10 s: Qt may move such a timer by 5 %, far less than the 2 s waited
    window.lock_control.set_idle_lock_minutes(10 / 60)
    countdown = window.lock_control.idle_watcher.timer

    async def busy() -> None:
        await aio.until(lambda: countdown.remainingTime() <= 8_000, message="2 s of the countdown")
        left = countdown.remainingTime()
        qtbot.keyClick(window.sessions_page, Qt.Key.Key_Shift)
        assert countdown.remainingTime() > left, "a key press starts the countdown again"
        assert not window.locked
        window.lock_control.set_idle_lock_minutes(0.5 / 60)
        await aio.until(lambda: window.locked, timeout=5, message="lock after input stops")

    aio.run(busy())
    window.lock_control.set_idle_lock_minutes(0)


def test_idle_lock_without_a_passcode_asks_for_one(
    qtbot: QtBot, aio: AsyncDriver, idle_window: tuple[MainWindow, IdleRunner], ui_ctx: AppContext
) -> None:
    window, _ = idle_window
    window.lock_control.lock()
    screen = window.lock_screen
    # the profile's passcode is read off the UI thread as the lock shows
    aio.run(aio.until(lambda: not screen.confirm_edit.isHidden(), message="the lock screen asking for a passcode"))
    assert not screen.confirm_edit.isHidden() and "no passcode yet" in screen.hint.text()
    screen.passcode_edit.setText("abcdef1")
    screen.confirm_edit.setText("abcdef2")
    screen.submit()
    assert "differ" in screen.error_label.text() and window.locked
    screen.confirm_edit.setText("abcdef1")

    async def chosen() -> None:
        screen.submit()
        await aio.until(lambda: not window.locked, message="unlock with the new passcode")

    aio.run(chosen())
    assert ProfileService(ui_ctx).verify_passcode_sync(window.user.id, "abcdef1")
