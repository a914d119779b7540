"""A batch import: several recordings (a folder, files dropped on the window) imported one after another on a
worker thread with a BatchProgressDialog; a file failing does not stop the rest, and the window stays usable."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from tbdesktop.services.batch_import import BatchImportService, BatchItem, BatchResult
from tbdesktop.ui.batch_import_progress import BatchProgressDialog
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.window.processing import Processing
from tbdesktop.ui.window.sessions_list import SessionsList


class BatchImportFlow(QObject):
    def __init__(
        self,
        batch_import: BatchImportService,
        bridge: ProgressBridge,
        processing: Processing,
        sessions_page: SessionsList,
        window: QWidget,
        *,
        notify: Callable[[str, str], None],
        open_session_later: Callable[[uuid.UUID], None],
        record_consent: Callable[[uuid.UUID, str], None],
        show_sessions: Callable[[], None],
    ) -> None:
        super().__init__(window)
        self.batch_import = batch_import
        self.bridge = bridge
        self.processing = processing
        self.sessions_page = sessions_page
        self.window = window
        self.notify = notify
        self.open_session_later = open_session_later
        self.record_consent = record_consent
        self.show_sessions = show_sessions
        self.batch_dialog: BatchProgressDialog | None = None

    def hide_views(self) -> None:
        """The window locks: nothing of a batch stays on screen (its imports and processing go on)."""
        if self.batch_dialog is not None:
            self.batch_dialog.hide()

    async def run_batch(self, items: Sequence[BatchItem]) -> list[BatchResult]:
        """Import the items one after another with a progress view; a file failing does not stop the rest."""
        view = BatchProgressDialog([item.request.source.name for item in items], parent=self.window)
        previous = self.batch_dialog
        if previous is not None and not previous.importing:  # a finished batch's view gives way to the new one
            previous.close()
            previous.deleteLater()
        self.batch_dialog = view
        self.bridge.progress.connect(view.apply_event)
        view.openRequested.connect(self.open_session_later)
        view.consentRecorded.connect(self.record_consent)
        stop = threading.Event()
        view.stopRequested.connect(stop.set)
        view.show()
        self.show_sessions()
        loop = asyncio.get_running_loop()

        def started(index: int) -> None:  # these three are called on the import thread
            loop.call_soon_threadsafe(view.set_started, index)

        def copied(index: int, done: int, total: int) -> None:
            loop.call_soon_threadsafe(view.set_copy_progress, index, done, total)

        def finished(index: int, result: BatchResult) -> None:
            loop.call_soon_threadsafe(self._imported, view, index, result)

        try:
            results = await self.batch_import.import_all(
                items, on_start=started, on_copy=copied, on_result=finished, should_stop=stop.is_set
            )
        finally:
            await asyncio.sleep(0)  # the last result callbacks reach the view first
            view.set_finished()
        imported = sum(r.session is not None for r in results)
        failed = sum(r.status == "failed" for r in results)
        if failed:
            self.notify("error", f"{imported} of {len(results)} recordings imported; {failed} failed.")
        else:
            self.notify("success", f"{imported} of {len(results)} recordings imported.")
        return results

    def _imported(self, view: BatchProgressDialog, index: int, result: BatchResult) -> None:
        view.set_result(index, result)
        if result.session is not None:
            self.processing.wake()  # processing starts while the next file is copied
            self.sessions_page.schedule_refresh()
