"""Recording for the window: the recorder (Record, Ctrl+R) and, at start, recordings a crash left unsaved."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QWidget

from tbdesktop.services.dto import SessionInfo
from tbdesktop.services.recording.service import RecordingService
from tbdesktop.services.sessions import SessionService
from tbdesktop.ui.aio import run_dialog, spawn
from tbdesktop.ui.recording.dialog import RecorderDialog
from tbdesktop.ui.window.processing import Processing
from tbdesktop.ui.window.sessions_list import SessionsList


class RecordingController(QObject):
    """One recorder at a time, non-modal, on the one recording service it is given."""

    def __init__(
        self,
        recording: RecordingService,
        sessions: SessionService,
        processing: Processing,
        sessions_page: SessionsList,
        window: QWidget,
        *,
        notify: Callable[[str, str], None],
        show_sessions: Callable[[], None],
        is_locked: Callable[[], bool],
    ) -> None:
        super().__init__(window)
        self.recording = recording
        self.sessions = sessions
        self.processing = processing
        self.sessions_page = sessions_page
        self.window = window
        self.notify = notify
        self.show_sessions = show_sessions
        self.is_locked = is_locked
        self.recorder_dialog: RecorderDialog | None = None

    def start_recording(self) -> None:
        if self.is_locked():
            return
        if self.recorder_dialog is not None:
            self.recorder_dialog.raise_()
            self.recorder_dialog.activateWindow()
            return
        spawn(self.open_recorder(), on_error=lambda message: self.notify("error", message))

    async def open_recorder(self) -> RecorderDialog:
        """The recorder, non-modal: the rest of the window stays usable while a session is recorded."""
        consent = await self.recording.consent_required()
        clients = await self.sessions.list_clients()
        dialog = RecorderDialog(self.recording, self.sessions, self.window, consent_required=consent)
        dialog.notify.connect(self.notify)
        dialog.saved.connect(self._recording_saved)
        dialog.finished.connect(self._recorder_closed)
        self.recorder_dialog = dialog
        dialog.load(clients)
        dialog.show()
        return dialog

    def _recorder_closed(self, _result: int) -> None:
        if self.recorder_dialog is not None:
            self.recorder_dialog.deleteLater()
        self.recorder_dialog = None

    def _recording_saved(self, _info: SessionInfo) -> None:
        self.processing.wake()
        self.show_sessions()
        self.sessions_page.schedule_refresh()

    def save_before_close(self, close: Callable[[], object]) -> bool:
        """A recording under way is saved as a session first; True when the window must wait (``close`` runs once
        it is saved)."""
        recorder = self.recorder_dialog
        if recorder is None or recorder.recorder is None:
            return False
        recorder.saved.connect(lambda _info: close())
        recorder.close()
        return True

    async def offer_interrupted_recordings(self) -> int:
        """At start: recordings a crash left unsaved are recovered as sessions, or discarded, as the therapist
        chooses; returns how many were recovered."""
        found = await self.recording.find_interrupted()
        recovered = 0
        for item in found:
            minutes = max(1, round(item.duration_s / 60))
            who = f" with {item.client_name}" if item.client_name else ""
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Recover recording",
                f"A recording{who} started {item.started_at.astimezone():%d %b %Y at %H:%M} was not saved "
                f"({minutes} min recorded). Recover it as a session?",
                QMessageBox.StandardButton.NoButton,
                self.window,
            )
            box.setObjectName("recoverRecordingDialog")
            recover = box.addButton("Recover as a session", QMessageBox.ButtonRole.AcceptRole)
            discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
            box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
            box.setDefaultButton(recover)
            await run_dialog(box)
            clicked = box.clickedButton()
            box.deleteLater()
            if clicked is recover:
                await self.recording.recover(item.id)
                recovered += 1
            elif clicked is discard:
                await self.recording.discard(item.id)
        if recovered:
            self.processing.wake()
            await self.sessions_page.refresh()
            self.notify(
                "success", "Recovered recording saved as a session." if recovered == 1 else "Recordings recovered."
            )
        return recovered
