"""The window's import flow: the import dialog (with files dropped on the window, when that is how it opened),
then one recording with its ProcessingDialog or a batch with its BatchProgressDialog; consent recorded from
either. Imports run on a worker thread, one file after another; the window stays usable."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QWidget

from tbdesktop.services.batch_import import BatchImportService, BatchItem, BatchResult
from tbdesktop.services.dto import SessionInfo
from tbdesktop.ui.aio import run_dialog, spawn
from tbdesktop.ui.batch_import_dialog import droppable, dropped_paths
from tbdesktop.ui.batch_import_progress import BatchProgressDialog
from tbdesktop.ui.import_dialog import ImportDialog

if TYPE_CHECKING:
    from tbdesktop.services.sessions import ImportRequest, SessionService
    from tbdesktop.ui.bridge import ProgressBridge
    from tbdesktop.ui.processing_dialog import ProcessingDialog
    from tbdesktop.ui.sessions_page import SessionsPage


class ImportHost(Protocol):
    """What the flow needs from the main window."""

    sessions: SessionService
    bridge: ProgressBridge
    sessions_page: SessionsPage
    import_dialog: ImportDialog | None
    processing_dialog: ProcessingDialog | None

    @property
    def locked(self) -> bool: ...

    @property
    def processing(self) -> _Wakeable: ...

    def run_import(self, request: ImportRequest) -> Awaitable[SessionInfo | None]: ...

    def open_session(self, session_id: uuid.UUID) -> Awaitable[None]: ...

    def open_session_later(self, session_id: object) -> None: ...

    def notify(self, kind: str, message: str) -> None: ...

    def show_sessions(self) -> None: ...


class _Wakeable(Protocol):
    def wake(self) -> None: ...


class ImportFlow(QObject):
    def __init__(self, host: ImportHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.batch_dialog: BatchProgressDialog | None = None

    @property
    def _window(self) -> QWidget:
        assert isinstance(self.host, QWidget)
        return self.host

    def hide_views(self) -> None:
        """The window locks: nothing of a batch stays on screen (its imports and processing go on)."""
        if self.batch_dialog is not None:
            self.batch_dialog.hide()

    # -- drag and drop ------------------------------------------------------------------------------------

    def drag_enter(self, event: QDragEnterEvent) -> None:
        if not self.host.locked and droppable(dropped_paths(event)):
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event: QDropEvent) -> None:
        paths = droppable(dropped_paths(event))
        if self.host.locked or not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        dialog = self.host.import_dialog
        if dialog is not None:  # open already: the files join it
            dialog.add_paths(paths)
            dialog.raise_()
            dialog.activateWindow()
            return
        spawn(self.ask_and_import(paths), on_error=lambda message: self.host.notify("error", message))

    # -- the dialog -----------------------------------------------------------------------------------------

    async def ask_and_import(self, paths: Sequence[Path] = ()) -> SessionInfo | None:
        """Ask what to import; one recording goes through the window's single import, several as a batch."""
        sessions = self.host.sessions
        clients = await sessions.list_clients()
        last_consent = await sessions.last_consent_methods()
        batch = BatchImportService(sessions)
        dialog = ImportDialog(
            clients, parent=self._window, last_consent=last_consent, inspect=batch.inspect, paths=list(paths)
        )
        self.host.import_dialog = dialog
        try:
            result = await run_dialog(dialog)
            request = dialog.request()
            items = dialog.batch_items()
            open_after = dialog.open_after
        finally:
            self.host.import_dialog = None
            dialog.deleteLater()
        if open_after is not None:
            await self.host.open_session(open_after)
            return None
        if result != QDialog.DialogCode.Accepted:
            return None
        if items is not None:
            await self.run_batch(items)
            return None
        if request is None:
            return None
        return await self.host.run_import(request)

    # -- a batch ------------------------------------------------------------------------------------------

    async def run_batch(self, items: Sequence[BatchItem]) -> list[BatchResult]:
        """Import the items one after another with a progress view; a file failing does not stop the rest."""
        view = BatchProgressDialog([item.request.source.name for item in items], parent=self._window)
        previous = self.batch_dialog
        if previous is not None and not previous.importing:  # a finished batch's view gives way to the new one
            previous.close()
            previous.deleteLater()
        self.batch_dialog = view
        self.host.bridge.progress.connect(view.apply_event)
        view.openRequested.connect(self.host.open_session_later)
        view.consentRecorded.connect(self.record_consent)
        stop = threading.Event()
        view.stopRequested.connect(stop.set)
        view.show()
        self.host.show_sessions()
        loop = asyncio.get_running_loop()

        def started(index: int) -> None:  # these three are called on the import thread
            loop.call_soon_threadsafe(view.set_started, index)

        def copied(index: int, done: int, total: int) -> None:
            loop.call_soon_threadsafe(view.set_copy_progress, index, done, total)

        def finished(index: int, result: BatchResult) -> None:
            loop.call_soon_threadsafe(self._imported, view, index, result)

        try:
            results = await BatchImportService(self.host.sessions).import_all(
                items, on_start=started, on_copy=copied, on_result=finished, should_stop=stop.is_set
            )
        finally:
            await asyncio.sleep(0)  # the last result callbacks reach the view first
            view.set_finished()
        imported = sum(r.session is not None for r in results)
        failed = sum(r.status == "failed" for r in results)
        if failed:
            self.host.notify("error", f"{imported} of {len(results)} recordings imported; {failed} failed.")
        else:
            self.host.notify("success", f"{imported} of {len(results)} recordings imported.")
        return results

    def _imported(self, view: BatchProgressDialog, index: int, result: BatchResult) -> None:
        view.set_result(index, result)
        if result.session is not None:
            self.host.processing.wake()  # processing starts while the next file is copied
            self.host.sessions_page.schedule_refresh()

    # -- consent, from either progress view -----------------------------------------------------------------

    def record_consent(self, session_id: object, method: str) -> None:
        if isinstance(session_id, uuid.UUID):
            spawn(self._record_consent(session_id, method), on_error=lambda m: self._consent_failed(session_id, m))

    async def _record_consent(self, session_id: uuid.UUID, method: str) -> None:
        info = await self.host.sessions.update(session_id, consent_method=method)
        self.host.processing.wake()
        self._show_session(info)
        self.host.sessions_page.schedule_refresh()
        self.host.notify("success", "Consent recorded; the session is being processed.")

    def _show_session(self, info: SessionInfo) -> None:
        single = self.host.processing_dialog
        if single is not None and single.session_id == info.id:
            single.bind_session(info)
        if self.batch_dialog is not None:
            self.batch_dialog.set_session(info)

    def _consent_failed(self, session_id: uuid.UUID, message: str) -> None:
        single = self.host.processing_dialog
        if single is not None and single.session_id == session_id:
            single.consent_failed()
        self.host.notify("error", message)
