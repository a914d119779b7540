"""The import dialog's batch side: several files or a folder become a review table (BatchReviewTable), each file
looked at off the UI thread (its date, duplicates), and what to import comes out as BatchItems. Mixed into
ImportDialog, which builds the widgets it uses."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QFileDialog, QWidget
from shiboken6 import isValid

from tbdesktop.errors import TBError
from tbdesktop.services.batch_import import BatchItem, ImportCandidate, inspect_file, is_media_file, media_files
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.duplicate_dialog import AGAIN, OPEN, DuplicateDialog

if TYPE_CHECKING:
    from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QPushButton

    from tbdesktop.ui.batch_import_table import BatchReviewTable

Inspector = Callable[[Sequence[Path]], Awaitable[list[ImportCandidate]]]


def dropped_paths(event: QDropEvent | QDragEnterEvent) -> list[Path]:
    """The local files and folders being dragged in (links to web pages and other data are not)."""
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def droppable(paths: Sequence[Path]) -> list[Path]:
    """What of a drop can be imported: folders, and files with an audio or video extension."""
    return [p for p in paths if p.is_dir() or is_media_file(p)]


class BatchMode:
    """Several recordings at once: the review table, the files' inspection and the batch's items."""

    _inspect: Inspector | None
    _items: list[BatchItem] | None
    _start_dir: Path
    open_after: uuid.UUID | None
    duplicate_dialog: DuplicateDialog | None

    if TYPE_CHECKING:
        table: BatchReviewTable
        batch_summary: QLabel
        batch_error: QLabel
        path_edit: QLineEdit
        path_error: QLabel
        recursive_check: QCheckBox
        client_combo: QComboBox
        consent_combo: QComboBox
        type_combo: QComboBox
        import_button: QPushButton
        apply_client_button: QPushButton
        apply_date_button: QPushButton
        apply_consent_button: QPushButton
        client_label: QLabel
        recording_label: QLabel
        title_label: QLabel

        def set_file_path(self, path: Path | str) -> None: ...

        def _update_client_hint(self, text: str) -> None: ...

        @staticmethod
        def _set_error(label: QLabel, field: QWidget, message: str) -> None: ...

    @property
    def _dialog(self) -> QDialog:
        return cast(QDialog, self)

    # -- mode: one recording (a form) or a batch (a review table) ------------------------------------------

    @property
    def is_batch(self) -> bool:
        return self.table.rowCount() > 0

    def _show_mode(self) -> None:
        batch = self.is_batch
        self.path_edit.setVisible(not batch)
        self.table.setVisible(batch)
        self.batch_summary.setVisible(batch)
        for button in (self.apply_client_button, self.apply_date_button, self.apply_consent_button):
            button.setVisible(batch)
        self.client_label.setText("Client (Apply to all fills every row)" if batch else "Client")
        self.recording_label.setText("Recordings" if batch else "Recording")
        self.title_label.setText("Import recordings" if batch else "Import recording")
        dialog = self._dialog
        dialog.setWindowTitle("Import recordings" if batch else "Import recording")
        if batch:
            dialog.setMinimumWidth(980)
            dialog.resize(max(dialog.width(), 1080), max(dialog.height(), 760))
            self._update_client_hint(self.client_combo.currentText())
        self._sync_batch()

    def _sync_batch(self) -> None:
        if not self.is_batch:
            self.import_button.setEnabled(True)
            return
        rows = self.table.rowCount()
        included = self.table.included_count()
        checking = self.table.checking
        self.import_button.setEnabled(not checking and included > 0)
        self.import_button.setText(f"  Import {included}" if included else "  Import")
        text = f"{rows} recordings · {included} to import"
        if checking:
            text += " · checking the files…"
        self.batch_summary.setText(text)

    def add_paths(self, paths: Sequence[Path | str]) -> None:
        """Files and folders (a folder's audio and video files): one file fills the form, more make a batch."""
        files: list[Path] = []
        for raw in paths:
            path = Path(raw).expanduser()
            if path.is_dir():
                try:
                    files += media_files(path, recursive=self.recursive_check.isChecked())
                except TBError as exc:  # a folder that cannot be read is said so, not raised
                    self._set_error(self.path_error, self.path_edit, exc.message)
            else:
                files.append(path)
        if not files:
            if any(Path(p).is_dir() for p in paths):
                self._set_error(self.path_error, self.path_edit, "That folder holds no audio or video files.")
            return
        current = self.path_edit.text().strip().strip('"')
        if not self.is_batch and len(files) == 1 and not current:
            self.set_file_path(files[0])
            return
        if not self.is_batch and current:
            files.insert(0, Path(current).expanduser())
        added = self.table.add_files(
            files,
            client_text=self.client_combo.currentText().strip(),
            consent=str(self.consent_combo.currentData() or ""),
        )
        self._show_mode()
        new = [self.table.rows[i].source for i in added]
        if new:
            spawn(self._look_at(new), on_error=self._inspection_failed)

    async def _look_at(self, paths: list[Path]) -> None:
        if self._inspect is None:
            candidates = [inspect_file(p) for p in paths]
        else:
            candidates = await self._inspect(paths)
        if not isValid(self._dialog) or not isValid(self.table):
            return  # the dialog was closed while the files were looked at
        for candidate in candidates:
            self.table.set_candidate(candidate)

    def _inspection_failed(self, message: str) -> None:
        if isValid(self._dialog) and isValid(self.table):
            self._set_error(self.batch_error, self.table, message)

    # -- files dropped on the dialog ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if droppable(dropped_paths(event)):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = droppable(dropped_paths(event))
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    def browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._dialog, "Choose a folder of recordings", str(self._start_dir))
        if folder:
            self.add_paths([Path(folder)])

    def _duplicate_details(self, row: int) -> None:
        """The duplicate check's own question: open the session that has it, or import it again."""
        message = self.table.duplicate_message(row)
        if message is None:
            return
        ask = DuplicateDialog(message, parent=self._dialog)
        self.duplicate_dialog = ask
        existing = self.table.existing_session(row)
        ask.open_button.setVisible(existing is not None)

        def done(_result: int) -> None:
            choice = ask.choice()
            self.duplicate_dialog = None
            ask.deleteLater()
            if choice == AGAIN:
                self.table.insist(row)
            elif choice == OPEN and existing is not None:
                self.open_after = existing
                self._dialog.reject()

        ask.finished.connect(done)
        ask.open()

    def validate_batch(self) -> list[BatchItem] | None:
        if self.table.checking:
            self._set_error(self.batch_error, self.table, "The files are still being checked.")
            return None
        problems = self.table.problems()
        items = self.table.batch_items(str(self.type_combo.currentData() or "individual"))
        if not problems and not any(item.skip_reason is None for item in items):
            problems = ["Tick at least one recording to import."]
        self._set_error(self.batch_error, self.table, " ".join(problems))
        return None if problems else items

    def batch_items(self) -> list[BatchItem] | None:
        return self._items
