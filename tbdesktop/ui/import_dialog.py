"""Import recordings: pick one file (client, date, type, consent in a form), or several files or a folder (a review
table: one row per file with its date, client, consent and state). Dropped files open it with them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from tbdesktop.services.batch_import import BatchItem, recording_date
from tbdesktop.services.dto import ClientInfo
from tbdesktop.services.sessions import ImportRequest
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.batch_import_dialog import BatchMode, Inspector
from tbdesktop.ui.batch_import_table import (
    CONSENT_CHOICES,
    DATE_WORDS,
    NO_CLIENT_HINT,
    BatchReviewTable,
    set_combo_data,
)
from tbdesktop.ui.buttons import dialog_buttons, primary_button
from tbdesktop.ui.duplicate_dialog import DuplicateDialog
from tbdesktop.ui.forms import choice_combo, field_label, mark_invalid
from tbdesktop.ui.import_choices import (
    FILE_FILTER,
    NO_CLIENT,
    SESSION_TYPE_CHOICES,
    matching_client,
    recording_problem,
)
from tbdesktop.ui.resources import icon

__all__ = ["CONSENT_CHOICES", "ImportDialog", "Inspector"]


class ImportDialog(BatchMode, QDialog):
    """Collects what to import: ``request()`` for one file, ``batch_items()`` for several (``is_batch``); valid
    once the dialog was accepted."""

    def __init__(
        self,
        clients: list[ClientInfo],
        start_dir: Path | None = None,
        parent: QWidget | None = None,
        *,
        last_consent: Mapping[uuid.UUID, str] | None = None,
        inspect: Inspector | None = None,
        paths: Sequence[Path] = (),
    ) -> None:
        super().__init__(parent)
        self.setObjectName("importDialog")
        self.setWindowTitle("Import recording")
        self.setMinimumWidth(620)
        self.setAcceptDrops(True)  # recordings dropped here join the import
        self._clients = list(clients)
        self._last_consent = dict(last_consent or {})
        self._inspect = inspect
        self._start_dir = start_dir or Path.home()
        self._request: ImportRequest | None = None
        self._items: list[BatchItem] | None = None
        self._consent_touched = False
        self.open_after: uuid.UUID | None = None  # the user chose to open a session a duplicate is already in
        self.duplicate_dialog: DuplicateDialog | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(8)
        self.title_label = QLabel("Import recording")
        self.title_label.setObjectName("dialogTitle")
        layout.addWidget(self.title_label)
        hint = QLabel(
            "Recordings are copied into TherapyBridge's private data folder and transcribed here. Several files "
            "or a folder make a batch: one session each."
        )
        hint.setObjectName("dialogHint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addSpacing(10)

        self.recording_label = field_label("Recording")
        layout.addWidget(self.recording_label)
        file_row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("filePathEdit")
        self.path_edit.setPlaceholderText("Choose a WAV, MP3, M4A, OGG, WebM or FLAC file")
        self.browse_button = QPushButton("Files…")
        self.browse_button.setObjectName("browseButton")
        self.browse_button.setToolTip("Choose one recording, or several at once")
        self.browse_button.clicked.connect(self.browse)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setObjectName("folderButton")
        self.folder_button.setToolTip("Import the audio and video files of a folder")
        self.folder_button.clicked.connect(self.browse_folder)
        self.recursive_check = QCheckBox("Include subfolders")
        self.recursive_check.setObjectName("recursiveCheck")
        self.recursive_check.setToolTip("With Folder…: also the files in the folders inside it")
        file_row.addWidget(self.path_edit, 1)
        file_row.addWidget(self.browse_button)
        file_row.addWidget(self.folder_button)
        file_row.addStretch(0)  # takes the room only when the path field is hidden (a batch)
        layout.addLayout(file_row)
        layout.addWidget(self.recursive_check)
        self.path_error = self._error_label("filePathError")
        layout.addWidget(self.path_error)

        self.table = BatchReviewTable(self._clients, self._last_consent)
        self.table.duplicateDetailsRequested.connect(self._duplicate_details)
        self.table.changed.connect(self._sync_batch)
        self.table.hide()
        layout.addWidget(self.table, 1)
        self.batch_summary = QLabel()
        self.batch_summary.setObjectName("batchSummary")
        self.batch_summary.setWordWrap(True)
        self.batch_summary.hide()
        layout.addWidget(self.batch_summary)

        self.client_label = field_label("Client")
        layout.addWidget(self.client_label)
        client_row = QHBoxLayout()
        self.client_combo = QComboBox()
        self.client_combo.setObjectName("clientCombo")
        self.client_combo.setEditable(True)
        self.client_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.client_combo.addItem(NO_CLIENT, None)
        for client in self._clients:
            self.client_combo.addItem(client.name, client.id)
        line_edit = self.client_combo.lineEdit()
        if line_edit is not None:
            line_edit.setPlaceholderText(NO_CLIENT_HINT)
            line_edit.setMaxLength(200)
        # "No client" is a choice in the list, never text in the field: typing a name must not append to it.
        self.client_combo.setEditText("")
        self.client_combo.currentIndexChanged.connect(self._no_client_chosen)
        self.client_combo.activated.connect(self._no_client_chosen)
        client_row.addWidget(self.client_combo, 1)
        self.apply_client_button = self._apply_button(
            client_row, "applyClientButton", "client", lambda: self.table.apply_client(self.client_combo.currentText())
        )
        layout.addLayout(client_row)
        self.client_hint = QLabel()
        self.client_hint.setObjectName("muted")
        layout.addWidget(self.client_hint)
        self.client_error = self._error_label("clientError")
        layout.addWidget(self.client_error)
        self.client_combo.currentTextChanged.connect(self._update_client_hint)

        layout.addWidget(field_label("Session date"))
        self.date_edit = QDateEdit(QDate.currentDate())
        self.date_edit.setObjectName("sessionDateEdit")
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("ddd d MMM yyyy")
        self.date_edit.setMaximumDate(QDate.currentDate().addDays(1))
        date_row = QHBoxLayout()
        date_row.setSpacing(12)
        date_row.addWidget(self.date_edit, 1)
        self.apply_date_button = self._apply_button(
            date_row,
            "applyDateButton",
            "date",
            lambda: self.table.apply_date(self.date_edit.date().toPython()),  # type: ignore[arg-type]
        )
        layout.addLayout(date_row)
        self.date_hint = QLabel()
        self.date_hint.setObjectName("dateHint")
        self.date_hint.hide()
        layout.addWidget(self.date_hint)
        self._date_set_by_user = False
        self._setting_date = False
        self.date_edit.dateChanged.connect(self._date_edited)

        layout.addWidget(field_label("Session type"))
        self.type_combo = choice_combo("sessionTypeCombo", SESSION_TYPE_CHOICES)
        self.type_combo.setToolTip("How many voices to expect on the recording; speakers are still detected.")
        layout.addWidget(self.type_combo)

        layout.addWidget(field_label("Client's consent to record"))
        consent_row = QHBoxLayout()
        self.consent_combo = choice_combo("consentCombo", CONSENT_CHOICES)
        self.consent_combo.setToolTip(
            "How the client agreed to the recording. Without recorded consent the session is kept but not processed."
        )
        self.consent_combo.activated.connect(self._consent_chosen)
        consent_row.addWidget(self.consent_combo, 1)
        self.apply_consent_button = self._apply_button(
            consent_row,
            "applyConsentButton",
            "consent",
            lambda: self.table.apply_consent(str(self.consent_combo.currentData() or "")),
        )
        layout.addLayout(consent_row)
        self.consent_hint = QLabel()
        self.consent_hint.setObjectName("consentHint")
        self.consent_hint.hide()
        layout.addWidget(self.consent_hint)
        self.batch_error = self._error_label("fieldError")
        layout.addWidget(self.batch_error)
        layout.addSpacing(12)

        self.import_button = primary_button("  Import", "importConfirmButton", icon("import"))
        buttons, _cancel = dialog_buttons(self.import_button, "Cancel", "importCancelButton", self.submit, self.reject)
        layout.addWidget(buttons)

        self.path_edit.textChanged.connect(self._clear_path_error)
        self._update_client_hint(self.client_combo.currentText())
        self._show_mode()
        if paths:
            self.add_paths(paths)

    @staticmethod
    def _apply_button(row: QHBoxLayout, name: str, what: str, apply: Callable[[], None]) -> QPushButton:
        """ "Apply to all": gives every row of the batch what the field above holds."""
        button = QPushButton("Apply to all")
        button.setObjectName(name)
        button.setToolTip(f"Give every row this {what}")
        button.clicked.connect(apply)
        row.addWidget(button)
        return button

    def _error_label(self, name: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        label.hide()
        return label

    def _clear_path_error(self) -> None:
        self._set_error(self.path_error, self.path_edit, "")

    @staticmethod
    def _set_error(label: QLabel, field: QWidget, message: str) -> None:
        label.setText(message)
        label.setVisible(bool(message))
        mark_invalid(field, bool(message))

    # -- inputs ---------------------------------------------------------------------------------------

    def set_file_path(self, path: Path | str) -> None:
        self.path_edit.setText(str(path))
        if self._inspect is not None and not self._date_set_by_user:  # in the window: date it from the file
            spawn(self._date_from_file(Path(path)))

    async def _date_from_file(self, path: Path) -> None:
        day, source = await asyncio.to_thread(recording_date, path)
        if not isValid(self) or self._date_set_by_user or self.path_edit.text() != str(path):
            return
        self._setting_date = True
        try:
            self.date_edit.setDate(QDate(day.year, day.month, day.day))
        finally:
            self._setting_date = False
        self.date_hint.setText(f"Dated {DATE_WORDS.get(source, 'by the day the file was last changed')}.")
        self.date_hint.show()

    def _date_edited(self) -> None:
        if not self._setting_date:
            self._date_set_by_user = True
            self.date_hint.hide()

    def set_client_text(self, text: str) -> None:
        self.client_combo.setEditText(text)

    def browse(self) -> None:
        current = self.path_edit.text().strip()
        start = str(Path(current).parent) if current else str(self._start_dir)
        paths, _ = QFileDialog.getOpenFileNames(self, "Choose recordings", start, FILE_FILTER)
        if len(paths) == 1 and not self.is_batch:
            self.set_file_path(paths[0])
        elif paths:
            self.add_paths([Path(p) for p in paths])

    def _matching_client(self, text: str) -> ClientInfo | None:
        return matching_client(self._clients, text)

    def _no_client_chosen(self, index: int) -> None:
        if index == 0 and self.client_combo.currentText() == NO_CLIENT:
            self.client_combo.setEditText("")

    def _consent_chosen(self, _index: int) -> None:
        self._consent_touched = True
        self.consent_hint.hide()

    def _update_client_hint(self, text: str) -> None:
        name = text.strip()
        match = self._matching_client(name) if name else None
        if self.is_batch:
            self.client_hint.setText("")
        elif name and name != NO_CLIENT and match is None:
            self.client_hint.setText(f"A new client “{name}” will be added.")
        else:
            self.client_hint.setText("")
        self.client_hint.setVisible(bool(self.client_hint.text()))
        self._set_error(self.client_error, self.client_combo, "")
        self._offer_last_consent(match)

    def _offer_last_consent(self, client: ClientInfo | None) -> None:
        """A returning client's consent, as their last session recorded it, unless the user chose one."""
        if self._consent_touched:
            return
        previous = self._last_consent.get(client.id) if client is not None else None
        set_combo_data(self.consent_combo, previous)
        label = dict(CONSENT_CHOICES).get(previous or "", "")
        self.consent_hint.setText(f"{label} consent, as recorded at this client's last session." if previous else "")
        self.consent_hint.setVisible(bool(previous))

    # -- result ---------------------------------------------------------------------------------------

    def validate(self) -> ImportRequest | None:
        raw = self.path_edit.text().strip().strip('"')
        path = Path(raw).expanduser() if raw else None
        problem = recording_problem(path)
        if problem is not None:
            self._set_error(self.path_error, self.path_edit, problem)
        ok = problem is None

        name = self.client_combo.currentText().strip()
        client_id: uuid.UUID | None = None
        client_name: str | None = None
        if name and name != NO_CLIENT:
            if len(name) > 200:
                self._set_error(self.client_error, self.client_combo, "The client name is too long.")
                ok = False
            match = self._matching_client(name)
            if match is not None:
                client_id = match.id
            else:
                client_name = name
        if not ok or path is None:
            return None
        qdate = self.date_edit.date()
        return ImportRequest(
            source=path,
            client_id=client_id,
            client_name=client_name,
            session_date=qdate.toPython(),  # type: ignore[arg-type]
            session_type=str(self.type_combo.currentData() or "individual"),
            consent_method=str(self.consent_combo.currentData() or "") or None,
        )

    def set_consent(self, method: str | None) -> None:
        self._consent_touched = True
        self.consent_hint.hide()
        set_combo_data(self.consent_combo, method)

    def submit(self) -> None:
        if self.is_batch:
            items = self.validate_batch()
            if items is None:
                return
            self._items = items
            self.accept()
            return
        typed = self.path_edit.text().strip().strip('"')
        if typed and Path(typed).expanduser().is_dir():  # a folder typed or pasted: its recordings, for review
            self.path_edit.clear()
            self.add_paths([Path(typed)])
            if not self.is_batch and not self.path_edit.text():  # nothing to import there: the folder stays
                reason = self.path_error.text() or "That folder holds no audio or video files."
                self.path_edit.setText(typed)
                self._set_error(self.path_error, self.path_edit, reason)
            return
        request = self.validate()
        if request is None:
            return
        self._request = request
        self.accept()

    def request(self) -> ImportRequest | None:
        return self._request
