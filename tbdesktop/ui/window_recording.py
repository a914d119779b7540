"""The window's recording actions: the recorder (Record, Ctrl+R) and, at start, recordings a crash left unsaved."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from PySide6.QtWidgets import QMessageBox, QWidget

from tbdesktop.services.recording import RecordingService
from tbdesktop.ui.aio import run_dialog, spawn
from tbdesktop.ui.recorder_dialog import RecorderDialog

if TYPE_CHECKING:
    from tbdesktop.services.dto import UserInfo
    from tbdesktop.services.sessions import SessionService
    from tbdesktop.ui.main_window import Processing
    from tbdesktop.ui.sessions_page import SessionsPage


class RecordingActions:
    """Mixed into MainWindow, which provides the services, the sessions page and the feedback methods."""

    recorder_dialog: RecorderDialog | None

    if TYPE_CHECKING:
        sessions: SessionService
        user: UserInfo
        processing: Processing
        sessions_page: SessionsPage

        @property
        def locked(self) -> bool: ...

        def notify(self, kind: str, message: str) -> None: ...

        def show_sessions(self) -> None: ...

        def show_success(self, message: str) -> None: ...

        def show_error(self, message: str) -> None: ...

    def start_recording(self) -> None:
        if self.locked:
            return
        if self.recorder_dialog is not None:
            self.recorder_dialog.raise_()
            self.recorder_dialog.activateWindow()
            return
        spawn(self.open_recorder(), on_error=self.show_error)

    async def open_recorder(self) -> RecorderDialog:
        """The recorder, non-modal: the rest of the window stays usable while a session is recorded."""
        recording = RecordingService(self.sessions.ctx, self.user)
        consent = await asyncio.to_thread(recording.consent_required_sync)
        clients = await self.sessions.list_clients()
        dialog = RecorderDialog(recording, self.sessions, cast(QWidget, self), consent_required=consent)
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

    def _recording_saved(self, info: object) -> None:
        self.processing.wake()
        self.show_sessions()
        self.sessions_page.schedule_refresh()

    async def offer_interrupted_recordings(self) -> int:
        """At start: recordings a crash left unsaved are recovered as sessions, or discarded, as the therapist
        chooses; returns how many were recovered."""
        recording = RecordingService(self.sessions.ctx, self.user)
        found = await asyncio.to_thread(recording.find_interrupted_sync)
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
                cast(QWidget, self),
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
                await recording.recover(item.id)
                recovered += 1
            elif clicked is discard:
                await recording.discard(item.id)
        if recovered:
            self.processing.wake()
            await self.sessions_page.refresh()
            self.show_success("Recovered recording saved as a session." if recovered == 1 else "Recordings recovered.")
        return recovered
