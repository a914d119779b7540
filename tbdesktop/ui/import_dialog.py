"""Import a recording: pick the audio file, choose or name the client, set the session date."""

from __future__ import annotations

import uuid
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
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

from tbdesktop.services.dto import ClientInfo
from tbdesktop.services.sessions import ImportRequest
from tbdesktop.ui.buttons import dialog_buttons, primary_button
from tbdesktop.ui.resources import icon

IMPORT_EXTENSIONS = (".wav", ".mp3", ".m4a", ".ogg", ".webm", ".flac")
FILE_FILTER = "Audio recordings (" + " ".join(f"*{e}" for e in IMPORT_EXTENSIONS) + ");;All files (*)"
NO_CLIENT = "No client"


SESSION_TYPE_CHOICES = (
    ("individual", "Individual (therapist and client)"),
    ("couples", "Couples (therapist and two clients)"),
    ("family", "Family"),
    ("group", "Group"),
)


def _field_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("fieldLabel")
    return label


def _mark_invalid(widget: QWidget, invalid: bool) -> None:
    widget.setProperty("invalid", invalid)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


CONSENT_CHOICES = (
    ("", "Not recorded yet"),
    ("verbal", "Verbal"),
    ("written", "Written"),
    ("electronic", "Electronic"),
)


class ImportDialog(QDialog):
    """Collects an ImportRequest; `request()` is valid once the dialog was accepted."""

    def __init__(self, clients: list[ClientInfo], start_dir: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importDialog")
        self.setWindowTitle("Import recording")
        self.setMinimumWidth(520)
        self._clients = list(clients)
        self._start_dir = start_dir or Path.home()
        self._request: ImportRequest | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(8)
        title = QLabel("Import recording")
        title.setObjectName("dialogTitle")
        layout.addWidget(title)
        hint = QLabel("The recording is copied into TherapyBridge's private data folder and transcribed here.")
        hint.setObjectName("dialogHint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addSpacing(10)

        layout.addWidget(_field_label("Recording"))
        file_row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("filePathEdit")
        self.path_edit.setPlaceholderText("Choose a WAV, MP3, M4A, OGG, WebM or FLAC file")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setObjectName("browseButton")
        self.browse_button.clicked.connect(self.browse)
        file_row.addWidget(self.path_edit, 1)
        file_row.addWidget(self.browse_button)
        layout.addLayout(file_row)
        self.path_error = self._error_label("filePathError")
        layout.addWidget(self.path_error)

        layout.addWidget(_field_label("Client"))
        self.client_combo = QComboBox()
        self.client_combo.setObjectName("clientCombo")
        self.client_combo.setEditable(True)
        self.client_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.client_combo.addItem(NO_CLIENT, None)
        for client in self._clients:
            self.client_combo.addItem(client.name, client.id)
        line_edit = self.client_combo.lineEdit()
        if line_edit is not None:
            line_edit.setPlaceholderText("Choose a client or type a new name")
            line_edit.setMaxLength(200)
        layout.addWidget(self.client_combo)
        self.client_hint = QLabel()
        self.client_hint.setObjectName("muted")
        layout.addWidget(self.client_hint)
        self.client_error = self._error_label("clientError")
        layout.addWidget(self.client_error)
        self.client_combo.currentTextChanged.connect(self._update_client_hint)

        layout.addWidget(_field_label("Session date"))
        self.date_edit = QDateEdit(QDate.currentDate())
        self.date_edit.setObjectName("sessionDateEdit")
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("ddd d MMM yyyy")
        self.date_edit.setMaximumDate(QDate.currentDate().addDays(1))
        date_row = QHBoxLayout()
        date_row.setSpacing(12)
        date_row.addWidget(self.date_edit, 1)
        layout.addLayout(date_row)

        layout.addWidget(_field_label("Session type"))
        self.type_combo = QComboBox()
        self.type_combo.setObjectName("sessionTypeCombo")
        for value, text in SESSION_TYPE_CHOICES:
            self.type_combo.addItem(text, value)
        self.type_combo.setToolTip("How many voices to expect on the recording; speakers are still detected.")
        layout.addWidget(self.type_combo)

        layout.addWidget(_field_label("Client's consent to record"))
        self.consent_combo = QComboBox()
        self.consent_combo.setObjectName("consentCombo")
        for value, text in CONSENT_CHOICES:
            self.consent_combo.addItem(text, value)
        self.consent_combo.setToolTip(
            "How the client agreed to the recording. Without recorded consent the session is kept but not processed."
        )
        layout.addWidget(self.consent_combo)
        layout.addSpacing(12)

        self.import_button = primary_button("  Import", "importConfirmButton", icon("import"))
        buttons, _cancel = dialog_buttons(self.import_button, "Cancel", "importCancelButton", self.submit, self.reject)
        layout.addWidget(buttons)

        self.path_edit.textChanged.connect(self._clear_path_error)
        self._update_client_hint(self.client_combo.currentText())

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
        _mark_invalid(field, bool(message))

    # -- inputs ---------------------------------------------------------------------------------------

    def set_file_path(self, path: Path | str) -> None:
        self.path_edit.setText(str(path))

    def set_client_text(self, text: str) -> None:
        self.client_combo.setEditText(text)

    def browse(self) -> None:
        current = self.path_edit.text().strip()
        start = str(Path(current).parent) if current else str(self._start_dir)
        path, _ = QFileDialog.getOpenFileName(self, "Choose a recording", start, FILE_FILTER)
        if path:
            self.set_file_path(path)

    def _matching_client(self, text: str) -> ClientInfo | None:
        key = text.strip().casefold()
        return next((c for c in self._clients if c.name.strip().casefold() == key), None)

    def _update_client_hint(self, text: str) -> None:
        name = text.strip()
        if name and name != NO_CLIENT and self._matching_client(name) is None:
            self.client_hint.setText(f"A new client “{name}” will be added.")
        else:
            self.client_hint.setText("")
        self.client_hint.setVisible(bool(self.client_hint.text()))
        self._set_error(self.client_error, self.client_combo, "")

    # -- result ---------------------------------------------------------------------------------------

    def validate(self) -> ImportRequest | None:
        ok = True
        raw = self.path_edit.text().strip().strip('"')
        path = Path(raw).expanduser() if raw else None
        if path is None:
            self._set_error(self.path_error, self.path_edit, "Choose the recording to import.")
            ok = False
        elif not path.is_file():
            self._set_error(self.path_error, self.path_edit, "That file does not exist.")
            ok = False
        elif path.suffix.lower() not in IMPORT_EXTENSIONS:
            self._set_error(self.path_error, self.path_edit, "Choose a WAV, MP3, M4A, OGG, WebM or FLAC recording.")
            ok = False
        elif path.stat().st_size == 0:
            self._set_error(self.path_error, self.path_edit, "That file is empty.")
            ok = False

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
        index = self.consent_combo.findData(method or "")
        self.consent_combo.setCurrentIndex(max(index, 0))

    def submit(self) -> None:
        request = self.validate()
        if request is None:
            return
        self._request = request
        self.accept()

    def request(self) -> ImportRequest | None:
        return self._request
