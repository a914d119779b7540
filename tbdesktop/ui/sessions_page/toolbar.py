"""The row above the session list: the search box and the client and status filters."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QWidget

from tbdesktop.services.dto import SessionInfo
from tbdesktop.services.search import MAX_QUERY
from tbdesktop.ui.resources import icon
from tbdesktop.ui.sessions_page.session_state import is_processing, needs_consent

# Status filter: (key, words). Each key names a test in `status_matches`.
STATUS_FILTERS = (
    ("all", "All statuses"),
    ("processing", "Processing"),
    ("completed", "Completed"),
    ("consent", "Needs consent"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("draft", "Note: draft"),
    ("signed", "Note: signed"),
)


def status_matches(key: str, info: SessionInfo) -> bool:
    if key == "processing":
        return is_processing(info)
    if key == "consent":
        return needs_consent(info)
    if key in ("completed", "failed", "cancelled"):
        return info.status == key
    if key in ("draft", "signed"):
        return info.note_state == key
    return True


class SessionsToolbar(QWidget):
    """``queryChanged`` carries the typed words (each keystroke); ``filtersChanged`` says a filter was picked."""

    queryChanged = Signal(str)
    filtersChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionsToolbar")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("sessionSearch")
        self.search_edit.setPlaceholderText("Search transcripts, notes and clients")
        self.search_edit.setAccessibleName("Search sessions")
        self.search_edit.setToolTip("Search transcripts, notes and client names (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMaxLength(MAX_QUERY)
        self.search_edit.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search_edit.textChanged.connect(self.queryChanged)
        clear = QAction(self.search_edit)
        clear.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        clear.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        clear.triggered.connect(self.search_edit.clear)
        self.search_edit.addAction(clear)
        row.addWidget(self.search_edit, 1)

        self.client_filter = self._combo("clientFilter", "Filter by client", 170)
        self.client_filter.addItem("All clients", None)
        row.addWidget(self.client_filter)
        self.status_filter = self._combo("statusFilter", "Filter by status", 160)
        for key, words in STATUS_FILTERS:
            self.status_filter.addItem(words, key)
        row.addWidget(self.status_filter)

    def _combo(self, name: str, accessible: str, width: int) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        combo.setAccessibleName(accessible)
        combo.setMinimumWidth(width)
        combo.currentIndexChanged.connect(self.filtersChanged)
        return combo

    def query(self) -> str:
        return self.search_edit.text().strip()

    def filter_chosen(self) -> bool:
        return self.client_filter.currentIndex() > 0 or self.status_filter.currentIndex() > 0

    def matches(self, info: SessionInfo) -> bool:
        """Whether the client and status filters let `info` through (the search aside)."""
        client_id = self.client_filter.currentData()
        if client_id is not None and (info.client_id != client_id or info.is_anonymous):
            return False
        return status_matches(str(self.status_filter.currentData()), info)

    def clear(self) -> None:
        self.search_edit.clear()
        self.client_filter.setCurrentIndex(0)
        self.status_filter.setCurrentIndex(0)

    def set_client(self, client_id: uuid.UUID | None) -> None:
        self.client_filter.setCurrentIndex(self._client_index(client_id))

    def set_status(self, key: str) -> None:
        self.status_filter.setCurrentIndex(max(0, self.status_filter.findData(key)))

    def _client_index(self, client_id: uuid.UUID | None) -> int:
        # findData cannot compare Python objects such as UUIDs, so the items are looked through.
        found = (i for i in range(self.client_filter.count()) if self.client_filter.itemData(i) == client_id)
        return next(found, 0)

    def set_clients(self, sessions: list[SessionInfo]) -> None:
        """The clients of `sessions` to pick from, by name; the one picked stays picked."""
        # Anonymous sessions stay out of the client filter: it would show whose they are.
        names = {
            info.client_id: info.client_name
            for info in sessions
            if info.client_id is not None and info.client_name and not info.is_anonymous
        }
        chosen = self.client_filter.currentData()
        self.client_filter.blockSignals(True)
        try:
            self.client_filter.clear()
            self.client_filter.addItem("All clients", None)
            for client_id, name in sorted(names.items(), key=lambda item: (item[1] or "").casefold()):
                self.client_filter.addItem(name, client_id)
            self.client_filter.setCurrentIndex(self._client_index(chosen) if chosen else 0)
        finally:
            self.client_filter.blockSignals(False)

    def count_statuses(self, sessions: list[SessionInfo]) -> None:
        """Each status entry says how many of `sessions` it would show."""
        for index, (key, words) in enumerate(STATUS_FILTERS):
            if key == "all":
                continue
            count = sum(1 for info in sessions if status_matches(key, info))
            self.status_filter.setItemText(index, f"{words} ({count})" if count else words)

    def chosen_words(self) -> list[str]:
        """The picked client and status, as the filter cue names them."""
        parts = []
        if self.client_filter.currentIndex() > 0:
            parts.append(self.client_filter.currentText())
        if self.status_filter.currentIndex() > 0:
            parts.append(str(self.status_filter.currentText()).split(" (")[0])
        return parts
