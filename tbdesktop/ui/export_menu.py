"""Getting a note out of the app: the Copy / Export PDF / Export DOCX / Print entries (in the notes panel's Export
button and in a session card's menu), with an option to append the transcript, and the controller that runs them —
the clipboard, the save dialog, the print dialog — through the audited export service."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtGui import QAction, QGuiApplication, QMouseEvent
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu, QPushButton, QWidget

from tbdesktop.services.dto import NoteInfo
from tbdesktop.services.export import ExportService
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.export_pdf import print_document, render_pdf

FILE_KINDS = {"pdf": ("PDF", "PDF document (*.pdf)"), "docx": ("DOCX", "Word document (*.docx)")}
NO_NOTE = "This session has no note yet"
TRANSCRIPT_TIP = "Append the transcript (speaker, time and words of each line)"


class ExportActions(QObject):
    """The export entries added to a menu. ``requested`` says which (copy, pdf, docx, print) and whether the
    transcript goes along (the menu's check box)."""

    requested = Signal(str, bool)  # kind, with the transcript

    def __init__(self, menu: QMenu) -> None:
        super().__init__(menu)
        self.copy_action = self._add(menu, "&Copy note", "copyNoteAction", "copy")
        self.copy_action.setStatusTip("Copy the note as plain text, to paste into the client's record")
        self.pdf_action = self._add(menu, "Export &PDF…", "exportPdfAction", "pdf")
        self.docx_action = self._add(menu, "Export &DOCX…", "exportDocxAction", "docx")
        self.print_action = self._add(menu, "P&rint…", "printNoteAction", "print")
        self.transcript_action = menu.addAction("Include &transcript")
        self.transcript_action.setObjectName("includeTranscriptAction")
        self.transcript_action.setCheckable(True)
        self.transcript_action.setToolTip(TRANSCRIPT_TIP)
        self._blocker: str | None = None
        self._transcript_reason: str | None = None

    def _add(self, menu: QMenu, text: str, name: str, kind: str) -> QAction:
        action = menu.addAction(text)
        action.setObjectName(name)
        action.triggered.connect(lambda: self.requested.emit(kind, self.transcript_action.isChecked()))
        return action

    @property
    def actions(self) -> list[QAction]:
        return [self.copy_action, self.pdf_action, self.docx_action, self.print_action]

    def set_blocker(self, reason: str | None) -> None:
        """Enable the entries, or disable them with ``reason`` as their tooltip; with nothing to export the
        transcript tick is off too, so the keyboard does not stop on it."""
        self._blocker = reason
        for action in self.actions:
            action.setEnabled(reason is None)
            action.setToolTip(reason or "")
        self._show_transcript_tick()

    def set_transcript_available(self, available: bool, reason: str = "") -> None:
        """Whether the transcript can go along (a deleted one cannot), ``reason`` saying why not."""
        self._transcript_reason = None if available else reason
        self._show_transcript_tick()

    def _show_transcript_tick(self) -> None:
        reason = self._blocker if self._blocker is not None else self._transcript_reason
        self.transcript_action.setEnabled(reason is None)
        if reason is not None:
            self.transcript_action.setChecked(False)
        self.transcript_action.setToolTip(TRANSCRIPT_TIP if reason is None else reason)


def toggled_in_place(menu: QMenu, event: QMouseEvent) -> bool:
    """A click on a check box entry (Include transcript) ticks it and leaves the menu open for the export itself."""
    action = menu.actionAt(event.position().toPoint())
    if action is None or not action.isCheckable() or not action.isEnabled():
        return False
    action.trigger()
    return True


class ExportMenu(QMenu):
    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if not toggled_in_place(self, event):
            super().mouseReleaseEvent(event)


class ExportButton(QPushButton):
    """ "Export" with its menu, in the notes panel's header: ``noteRequested`` carries the note shown."""

    noteRequested = Signal(NoteInfo, str, bool)  # kind, with the transcript

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Export", parent)
        self.setObjectName("exportNoteButton")
        self.setAccessibleName("Copy, export or print the note")
        self.setToolTip("Copy the note, save it as PDF or DOCX, or print it")
        menu = ExportMenu(self)
        menu.setObjectName("exportMenu")
        menu.setToolTipsVisible(True)
        self.export_actions = ExportActions(menu)
        self.export_actions.requested.connect(self._requested)
        self.setMenu(menu)
        self.note: NoteInfo | None = None
        self.set_note(None)

    def set_note(self, note: NoteInfo | None) -> None:
        self.note = note
        self.setEnabled(note is not None)
        self.export_actions.set_blocker(None if note is not None else NO_NOTE)

    def _requested(self, kind: str, transcript: bool) -> None:
        if self.note is not None:
            self.noteRequested.emit(self.note, kind, transcript)


def new_printer() -> QPrinter:
    return QPrinter(QPrinter.PrinterMode.HighResolution)


class NoteExporter(QObject):
    """Runs an export the user asked for: the note to the clipboard, to a file chosen in a save dialog, or to a
    printer chosen in the print dialog. ``notify`` reports the outcome ("success" | "error", message); ``finished``
    the kind of each export done. One at a time."""

    notify = Signal(str, str)
    finished = Signal(str)

    def __init__(self, service: ExportService, parent: QWidget) -> None:
        super().__init__(parent)
        self.service = service
        self.host = parent
        self.dialog: QDialog | None = None  # the save or print dialog on screen
        self.busy = False
        self._folder: Path | None = None  # where the last file was saved

    def export_note(self, note: NoteInfo, kind: str, transcript: bool) -> asyncio.Task[None] | None:
        """The shown version of a note (the notes panel)."""
        return self.export_session(note.session_id, kind, transcript, note.version)

    def export_session(
        self, session_id: uuid.UUID, kind: str, transcript: bool, version: int | None = None
    ) -> asyncio.Task[None] | None:
        """The latest note of a session (a session card's menu), or ``version``."""
        if self.busy:
            return None
        self.busy = True

        async def run() -> None:
            try:
                await self._export(session_id, kind, transcript, version)
            finally:
                self.busy = False

        return spawn(run(), on_error=lambda message: self.notify.emit("error", message))

    async def _export(self, session_id: uuid.UUID, kind: str, transcript: bool, version: int | None) -> None:
        if kind == "copy":
            text = await self.service.copy_text(session_id, transcript=transcript, version=version)
            QGuiApplication.clipboard().setText(text)
            self.notify.emit("success", "Note copied: paste it into the client's record.")
        elif kind in FILE_KINDS:
            path = await self._ask_path(session_id, kind)
            if path is None:
                return
            renderer = render_pdf if kind == "pdf" else None
            result = await self.service.write(
                session_id, kind, path, transcript=transcript, version=version, renderer=renderer
            )
            self.notify.emit("success", f"Note saved as {Path(result.path).name}.")
        elif kind == "print":
            printer = new_printer()
            dialog = QPrintDialog(printer, self.host)
            dialog.setObjectName("printNoteDialog")
            dialog.setWindowTitle("Print note")
            if not await self._show(dialog):
                return
            pages = await self.service.with_document(
                session_id, "print", lambda doc: print_document(doc, printer), transcript=transcript, version=version
            )
            self.notify.emit("success", f"Note sent to the printer ({pages} page{'s' if pages != 1 else ''}).")
        else:
            return
        self.finished.emit(kind)

    async def _ask_path(self, session_id: uuid.UUID, kind: str) -> Path | None:
        name = await self.service.suggested_name(session_id, kind)
        words, pattern = FILE_KINDS[kind]
        folder = self._folder or Path(
            QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or Path.home()
        )
        dialog = QFileDialog(self.host, f"Export note as {words}", str(folder / name), pattern)
        dialog.setObjectName("exportSaveDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setDefaultSuffix(kind)
        dialog.selectFile(name)
        if not await self._show(dialog):
            return None
        chosen = dialog.selectedFiles()
        if not chosen:
            return None
        path = Path(chosen[0])
        self._folder = path.parent
        return path

    async def _show(self, dialog: QDialog) -> bool:
        """Show a dialog window-modally and wait for it, without a nested event loop."""
        self.dialog = dialog
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def done(result: int) -> None:
            if not answer.done():
                answer.set_result(result)

        dialog.finished.connect(done)
        QDialog.open(dialog)  # QPrintDialog's own open() wants a receiver: the plain one is QDialog's
        try:
            return await answer == QDialog.DialogCode.Accepted
        finally:
            self.dialog = None
            dialog.finished.disconnect(done)
            dialog.deleteLater()
