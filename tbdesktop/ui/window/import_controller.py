"""Importing for the window: the import dialog (with files dropped on the window, when that is how it opened), then
one recording with its ProcessingDialog (a recording imported before asks what to do) or several as a batch;
consent recorded from either progress view."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QWidget

from tbdesktop.errors import DuplicateRecordingError, TBError
from tbdesktop.services.batch_import import BatchImportService
from tbdesktop.services.dto import SessionInfo
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.ui.aio import run_dialog, spawn
from tbdesktop.ui.batch_import_dialog import droppable, dropped_paths
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.duplicate_dialog import AGAIN, OPEN, DuplicateDialog
from tbdesktop.ui.formatting import long_date
from tbdesktop.ui.import_dialog import ImportDialog
from tbdesktop.ui.processing_dialog import ProcessingDialog
from tbdesktop.ui.window.batch_import_flow import BatchImportFlow
from tbdesktop.ui.window.processing import Processing
from tbdesktop.ui.window.sessions_list import SessionsList


class ImportController(QObject):
    def __init__(
        self,
        sessions: SessionService,
        batch_import: BatchImportService,
        bridge: ProgressBridge,
        processing: Processing,
        sessions_page: SessionsList,
        window: QWidget,
        *,
        notify: Callable[[str, str], None],
        open_session: Callable[[uuid.UUID], Awaitable[None]],
        open_session_later: Callable[[uuid.UUID], None],
        cancel_processing: Callable[[uuid.UUID], None],
        show_sessions: Callable[[], None],
        is_locked: Callable[[], bool],
    ) -> None:
        super().__init__(window)
        self.sessions = sessions
        self.batch_import = batch_import
        self.bridge = bridge
        self.processing = processing
        self.sessions_page = sessions_page
        self.window = window
        self.notify = notify
        self.open_session = open_session
        self.open_session_later = open_session_later
        self.cancel_processing = cancel_processing
        self.show_sessions = show_sessions
        self.is_locked = is_locked
        self.import_dialog: ImportDialog | None = None
        self.processing_dialog: ProcessingDialog | None = None
        self.duplicate_dialog: DuplicateDialog | None = None
        self.batch = BatchImportFlow(
            batch_import,
            bridge,
            processing,
            sessions_page,
            window,
            notify=notify,
            open_session_later=open_session_later,
            record_consent=self.record_consent,
            show_sessions=show_sessions,
        )

    def _error(self, message: str) -> None:
        self.notify("error", message)

    # -- asking -------------------------------------------------------------------------------------------

    def start_import(self) -> None:
        if self.import_dialog is not None:
            self.import_dialog.raise_()
            self.import_dialog.activateWindow()
            return
        spawn(self.import_recording(), on_error=self._error)

    async def import_recording(self, paths: Sequence[Path] = ()) -> SessionInfo | None:
        """Ask what to import (ImportDialog): one recording is imported with a ProcessingDialog, several as a
        batch."""
        clients = await self.sessions.list_clients()
        last_consent = await self.sessions.last_consent_methods()
        dialog = ImportDialog(
            clients,
            parent=self.window,
            last_consent=last_consent,
            inspect=self.batch_import.inspect,
            paths=list(paths),
        )
        self.import_dialog = dialog
        try:
            result = await run_dialog(dialog)
            request = dialog.request()
            items = dialog.batch_items()
            open_after = dialog.open_after
        finally:
            self.import_dialog = None
            dialog.deleteLater()
        if open_after is not None:
            await self.open_session(open_after)
            return None
        if result != QDialog.DialogCode.Accepted:
            return None
        if items is not None:
            await self.batch.run_batch(items)
            return None
        if request is None:
            return None
        return await self.run_import(request)

    def drag_enter(self, event: QDragEnterEvent) -> None:
        if not self.is_locked() and droppable(dropped_paths(event)):
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event: QDropEvent) -> None:
        paths = droppable(dropped_paths(event))
        if self.is_locked() or not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        dialog = self.import_dialog
        if dialog is not None:  # open already: the files join it
            dialog.add_paths(paths)
            dialog.raise_()
            dialog.activateWindow()
            return
        spawn(self.import_recording(paths), on_error=self._error)

    # -- one recording ------------------------------------------------------------------------------------

    async def run_import(self, request: ImportRequest) -> SessionInfo | None:
        # Who and when, never the file's name (it may hold a client's name) in a window title.
        when = long_date(request.session_date or date.today())
        dialog = ProcessingDialog(f"{request.client_name or 'Session'} · {when}", parent=self.window)
        dialog.setWindowTitle("Processing session")
        if self.processing_dialog is not None:
            self.processing_dialog.close()
        self.processing_dialog = dialog
        self.bridge.progress.connect(dialog.apply_event)
        dialog.cancelRequested.connect(self.cancel_processing)
        dialog.openRequested.connect(self.open_session_later)
        dialog.consentRecorded.connect(self.record_consent)
        dialog.show()
        loop = asyncio.get_running_loop()

        def on_copy(done: int, total: int) -> None:  # called on the import thread
            loop.call_soon_threadsafe(dialog.set_copy_progress, done, total)

        try:
            info = await self.sessions.import_recording(request, on_copy)
        except DuplicateRecordingError as exc:
            dialog.close()
            return await self._import_duplicate(request, exc)
        except TBError as exc:
            dialog.set_failed(exc.message)
            self._error(exc.message)
            return None
        dialog.bind_session(info)
        self.processing.wake()
        self.show_sessions()
        await self.sessions_page.refresh()
        return info

    async def _import_duplicate(self, request: ImportRequest, exc: DuplicateRecordingError) -> SessionInfo | None:
        """The recording is in a session already: open that one, or import it again if the user says so."""
        ask = DuplicateDialog(exc.message, parent=self.window)
        self.duplicate_dialog = ask
        try:
            await run_dialog(ask)
            choice = ask.choice()
        finally:
            self.duplicate_dialog = None
            ask.deleteLater()
        if choice == AGAIN:
            return await self.run_import(dataclasses.replace(request, allow_duplicate=True))
        if choice == OPEN and isinstance(exc.existing_id, uuid.UUID):
            await self.open_session(exc.existing_id)
        return None

    # -- consent, from either progress view -----------------------------------------------------------------

    def record_consent(self, session_id: uuid.UUID, method: str) -> None:
        spawn(self._record_consent(session_id, method), on_error=lambda m: self._consent_failed(session_id, m))

    async def _record_consent(self, session_id: uuid.UUID, method: str) -> None:
        info = await self.sessions.update(session_id, consent_method=method)
        self.processing.wake()
        single = self.processing_dialog
        if single is not None and single.session_id == info.id:
            single.bind_session(info)
        if self.batch.batch_dialog is not None:
            self.batch.batch_dialog.set_session(info)
        self.sessions_page.schedule_refresh()
        self.notify("success", "Consent recorded; the session is being processed.")

    def _consent_failed(self, session_id: uuid.UUID, message: str) -> None:
        single = self.processing_dialog
        if single is not None and single.session_id == session_id:
            single.consent_failed()
        self._error(message)

    # -- the window locks or closes -----------------------------------------------------------------------

    def hide_views(self) -> None:
        """Nothing that names a client stays on screen behind the lock (imports and processing go on)."""
        if self.import_dialog is not None:
            self.import_dialog.reject()
        if self.processing_dialog is not None:
            self.processing_dialog.hide()  # the session card keeps showing progress
        self.batch.hide_views()  # file names can name clients

    def close_views(self) -> None:
        for dialog in (self.processing_dialog, self.import_dialog):
            if dialog is not None:
                dialog.close()
