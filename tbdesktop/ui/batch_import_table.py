"""The review table of a batch import: one row per file with its date, client, consent and state, before anything
is copied. Duplicates (already imported, or twice in the batch) are flagged and left out unless ticked."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QWidget,
)

from tbdesktop.services.batch_import import FROM_METADATA, FROM_NAME, BatchItem, ImportCandidate
from tbdesktop.services.dto import ClientInfo
from tbdesktop.services.sessions import ImportRequest

CONSENT_CHOICES = (
    ("", "Not recorded yet"),
    ("verbal", "Verbal"),
    ("written", "Written"),
    ("electronic", "Electronic"),
)
NO_CLIENT_HINT = "No client — choose or type a name"
MAX_CLIENT_NAME = 200
COL_FILE, COL_DATE, COL_CLIENT, COL_CONSENT, COL_STATUS = range(5)
DATE_WORDS = {FROM_METADATA: "from the recording's metadata", FROM_NAME: "from the file name"}


def client_combo(clients: Sequence[ClientInfo], name: str) -> QComboBox:
    """An editable client field: an existing client's name, a new name, or empty for no client."""
    combo = QComboBox()
    combo.setObjectName(name)
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.addItem("", None)
    for client in clients:
        combo.addItem(client.name, client.id)
    line = combo.lineEdit()
    if line is not None:
        line.setPlaceholderText(NO_CLIENT_HINT)
        line.setMaxLength(MAX_CLIENT_NAME)
    combo.setEditText("")
    return combo


def consent_combo(name: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    for value, text in CONSENT_CHOICES:
        combo.addItem(text, value)
    return combo


def set_combo_data(combo: QComboBox, value: str | None) -> None:
    combo.setCurrentIndex(max(combo.findData(value or ""), 0))


@dataclass
class ReviewRow:
    source: Path
    include: QCheckBox
    date_edit: QDateEdit
    client: QComboBox
    consent: QComboBox
    status: QLabel
    details: QPushButton
    candidate: ImportCandidate | None = None
    consent_touched: bool = False
    insisted: bool = False  # a duplicate the user chose to import again

    @property
    def checking(self) -> bool:
        return self.candidate is None


class BatchReviewTable(QTableWidget):
    """Rows fill in as each file is looked at (``set_candidate``); ``items()`` gives what to import."""

    duplicateDetailsRequested = Signal(int)  # row
    changed = Signal()

    def __init__(
        self,
        clients: Sequence[ClientInfo],
        last_consent: Mapping[uuid.UUID, str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(0, 5, parent)
        self.setObjectName("batchReviewTable")
        self._clients = list(clients)
        self._last_consent = dict(last_consent or {})
        self._rows: list[ReviewRow] = []
        self.setHorizontalHeaderLabels(["Recording", "Session date", "Client", "Consent", "Status"])
        header = self.horizontalHeader()
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_DATE, 130), (COL_CLIENT, 180), (COL_CONSENT, 165), (COL_STATUS, 290)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.setColumnWidth(col, width)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(44)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setMinimumHeight(250)

    # -- rows -----------------------------------------------------------------------------------------

    @property
    def rows(self) -> list[ReviewRow]:
        return list(self._rows)

    def sources(self) -> list[Path]:
        return [r.source for r in self._rows]

    def add_files(self, paths: Sequence[Path], *, client_text: str = "", consent: str = "") -> list[int]:
        """New rows (files already listed are not added twice); returns their row numbers, each 'Checking…'."""
        known = {r.source for r in self._rows}
        added: list[int] = []
        for path in paths:
            if path in known:
                continue
            known.add(path)
            added.append(self._add_row(path, client_text, consent))
        return added

    def _add_row(self, path: Path, client_text: str, consent: str) -> int:
        index = self.rowCount()
        self.insertRow(index)
        include = QCheckBox(path.name)
        include.setObjectName(f"batchInclude_{index}")
        include.setToolTip(str(path))
        include.setChecked(True)
        include.toggled.connect(lambda _on, i=index: self._refresh_status(i))
        self.setCellWidget(index, COL_FILE, _padded(include))
        date_edit = QDateEdit(QDate.currentDate())
        date_edit.setObjectName(f"batchDate_{index}")
        date_edit.setCalendarPopup(True)
        date_edit.setDisplayFormat("d MMM yyyy")
        date_edit.setMaximumDate(QDate.currentDate())
        self.setCellWidget(index, COL_DATE, date_edit)
        client = client_combo(self._clients, f"batchClient_{index}")
        client.setEditText(client_text)
        self.setCellWidget(index, COL_CLIENT, client)
        consent_box = consent_combo(f"batchConsent_{index}")
        set_combo_data(consent_box, consent)
        self.setCellWidget(index, COL_CONSENT, consent_box)
        status = QLabel("Checking…")
        status.setObjectName(f"batchStatus_{index}")
        status.setWordWrap(True)
        details = QPushButton("Details…")
        details.setObjectName(f"batchDuplicate_{index}")
        details.setToolTip("This recording was imported before: open that session, or import it again")
        details.setVisible(False)
        details.clicked.connect(lambda _=False, i=index: self.duplicateDetailsRequested.emit(i))
        cell = QWidget()
        cell_layout = QHBoxLayout(cell)
        cell_layout.setContentsMargins(6, 0, 6, 0)
        cell_layout.addWidget(status, 1)
        cell_layout.addWidget(details)
        self.setCellWidget(index, COL_STATUS, cell)
        row = ReviewRow(path, include, date_edit, client, consent_box, status, details)
        self._rows.append(row)
        consent_box.activated.connect(lambda _i, r=row: self._consent_chosen(r))
        client.currentTextChanged.connect(lambda text, r=row: self._client_changed(r, text))
        self._client_changed(row, client_text)
        return index

    def set_candidate(self, candidate: ImportCandidate) -> None:
        """What looking at a file found: its date (unless the user changed it already), duplicates, problems."""
        for index, row in enumerate(self._rows):
            if row.source == candidate.source and row.candidate is None:
                row.candidate = candidate
                row.date_edit.setDate(_qdate(candidate.session_date))
                row.date_edit.setToolTip(
                    f"Dated {DATE_WORDS.get(candidate.date_source, 'by the day the file was last changed')}"
                )
                if candidate.problem is not None:
                    row.include.setChecked(False)
                    row.include.setEnabled(False)
                elif candidate.is_duplicate or self._same_as(index) is not None:
                    row.include.setChecked(False)  # skipped unless the user insists
                self._refresh_status(index)
                self.changed.emit()
                return

    def _same_as(self, index: int) -> int | None:
        """The first earlier row with the same content, if any."""
        mine = self._rows[index].candidate
        if mine is None or mine.sha256 is None:
            return None
        for earlier in range(index):
            other = self._rows[earlier].candidate
            if other is not None and other.sha256 == mine.sha256:
                return earlier
        return None

    def duplicate_message(self, index: int) -> str | None:
        row = self._rows[index]
        if row.candidate is None:
            return None
        if row.candidate.duplicate_message:
            return row.candidate.duplicate_message
        earlier = self._same_as(index)
        if earlier is not None:
            return f"'{row.source.name}' is the same recording as '{self._rows[earlier].source.name}' in this import."
        return None

    def existing_session(self, index: int) -> uuid.UUID | None:
        candidate = self._rows[index].candidate
        return candidate.duplicate_of if candidate is not None else None

    def insist(self, index: int) -> None:
        """Import this duplicate after all."""
        self._rows[index].insisted = True
        self._rows[index].include.setChecked(True)
        self._refresh_status(index)

    def _refresh_status(self, index: int) -> None:
        row = self._rows[index]
        candidate = row.candidate
        duplicate = candidate is not None and (candidate.is_duplicate or self._same_as(index) is not None)
        state = "ready"
        if candidate is None:
            text, state = "Checking…", "checking"
        elif candidate.problem is not None:
            text, state = candidate.problem, "problem"
        elif duplicate and not row.include.isChecked():
            earlier = self._same_as(index)
            text = (
                "Already imported — skipped"
                if candidate.duplicate_of is not None
                else f"Same as row {(earlier or 0) + 1} — skipped"
            )
            state = "duplicate"
        elif duplicate:
            text, state = "Duplicate — will be imported again", "duplicate"
        elif not row.include.isChecked():
            text, state = "Left out", "excluded"
        else:
            name = row.client.currentText().strip()
            new_client = bool(name) and self.matching_client(name) is None
            text = "Ready to import · adds a new client" if new_client else "Ready to import"
        row.status.setText(text)
        row.status.setProperty("state", state)
        row.details.setVisible(duplicate)
        self.changed.emit()

    # -- client and consent ---------------------------------------------------------------------------

    def matching_client(self, text: str) -> ClientInfo | None:
        key = text.strip().casefold()
        return next((c for c in self._clients if c.name.strip().casefold() == key), None) if key else None

    def last_consent_for(self, text: str) -> str | None:
        client = self.matching_client(text)
        return self._last_consent.get(client.id) if client is not None else None

    def _consent_chosen(self, row: ReviewRow) -> None:
        row.consent_touched = True

    def _client_changed(self, row: ReviewRow, text: str) -> None:
        if row.candidate is not None:
            self._refresh_status(self._rows.index(row))
        if row.consent_touched:
            return
        previous = self.last_consent_for(text)
        if previous is not None:
            set_combo_data(row.consent, previous)
            row.consent.setToolTip("As recorded at this client's last session")
        else:
            row.consent.setToolTip("")

    def apply_client(self, text: str) -> None:
        for row in self._rows:
            row.client.setEditText(text)

    def apply_consent(self, method: str) -> None:
        for row in self._rows:
            set_combo_data(row.consent, method)
            row.consent_touched = True

    def apply_date(self, day: date) -> None:
        for row in self._rows:
            row.date_edit.setDate(_qdate(day))

    # -- result ---------------------------------------------------------------------------------------

    @property
    def checking(self) -> bool:
        return any(r.checking for r in self._rows)

    def included_count(self) -> int:
        return sum(r.include.isChecked() for r in self._rows)

    def problems(self) -> list[str]:
        """What stops the import: a client name that is too long."""
        return [
            f"Row {i + 1}: the client name is too long."
            for i, r in enumerate(self._rows)
            if r.include.isChecked() and len(r.client.currentText().strip()) > MAX_CLIENT_NAME
        ]

    def batch_items(self, session_type: str) -> list[BatchItem]:
        """The ticked rows to import, and the duplicates left out (to be shown as skipped); unticked rows that
        are not duplicates are simply not part of the import."""
        out: list[BatchItem] = []
        for index, row in enumerate(self._rows):
            candidate = row.candidate
            if candidate is None or candidate.problem is not None:
                continue
            duplicate = candidate.is_duplicate or self._same_as(index) is not None
            if not row.include.isChecked() and not duplicate:
                continue
            name = row.client.currentText().strip()
            match = self.matching_client(name)
            request = ImportRequest(
                source=row.source,
                client_id=match.id if match is not None else None,
                client_name=name if name and match is None else None,
                session_date=row.date_edit.date().toPython(),  # type: ignore[arg-type]
                session_type=session_type,
                consent_method=str(row.consent.currentData() or "") or None,
                allow_duplicate=duplicate and row.include.isChecked(),
            )
            skip = None
            if not row.include.isChecked():
                earlier = self._same_as(index)
                skip = (
                    "Already imported — skipped as a duplicate."
                    if candidate.duplicate_of is not None or earlier is None
                    else f"The same recording as row {earlier + 1} — skipped as a duplicate."
                )
            out.append(BatchItem(request, skip))
        return out


def _padded(widget: QWidget) -> QWidget:
    cell = QWidget()
    layout = QHBoxLayout(cell)
    layout.setContentsMargins(8, 0, 6, 0)
    layout.addWidget(widget)
    layout.setAlignment(Qt.AlignmentFlag.AlignVCenter)
    return cell


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)
