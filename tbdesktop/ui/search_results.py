"""Search hits above the session list: for each, who and when, where in the recording, and the words around the
match with the match highlighted; opening one shows that line of the session."""

from __future__ import annotations

import html
import uuid

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.search import SearchHit
from tbdesktop.ui.formatting import long_date
from tbdesktop.ui.risk_flags import clock

MAX_SHOWN = 50
HIGHLIGHT = "background-color: #fde68a; color: #1d2a30; font-weight: 600;"
KIND_WORDS = {"transcript": "Transcript", "note": "Note", "client": "Client"}


def highlighted_html(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    """``text`` escaped for a rich-text label, the ``spans`` (character offsets) marked."""
    out: list[str] = []
    at = 0
    for start, end in sorted(spans):
        if start < at or end <= start or end > len(text):
            continue
        out.append(html.escape(text[at:start]))
        out.append(f"<span style='{HIGHLIGHT}'>{html.escape(text[start:end])}</span>")
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)


def hit_heading(hit: SearchHit) -> str:
    """E.g. "Jordan · Monday 23 November 2026 · Transcript at 4:05"."""
    where = KIND_WORDS.get(hit.kind, hit.kind.capitalize())
    if hit.timestamp_s is not None:
        where += f" at {clock(hit.timestamp_s)}"
    elif hit.note_version is not None:
        where += f" (version {hit.note_version})"
    return f"{hit.client_display} · {long_date(hit.session_date)} · {where}"


class SearchHitRow(QFrame):
    """One hit; a click (or Enter) opens it."""

    opened = Signal(uuid.UUID, int)  # session id, segment idx (-1: not a transcript line)

    def __init__(self, hit: SearchHit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchHit")
        self.hit = hit
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(f"Open {hit_heading(hit)}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(1)
        self.heading = QLabel(hit_heading(hit))
        self.heading.setObjectName("searchHitHeading")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.heading.setStyleSheet("color: #5b6b73; font-size: 12px;")
        layout.addWidget(self.heading)
        self.snippet = QLabel(highlighted_html(hit.snippet, hit.highlights))
        self.snippet.setObjectName("searchHitSnippet")
        self.snippet.setTextFormat(Qt.TextFormat.RichText)
        self.snippet.setWordWrap(True)
        layout.addWidget(self.snippet)
        self.setStyleSheet(
            "#searchHit { border-bottom: 1px solid #e3e8eb; }"
            " #searchHit:hover, #searchHit:focus { background: #eef5f8; }"
        )

    def open(self) -> None:
        segment = self.hit.segment_idx
        self.opened.emit(self.hit.session_id, segment if segment is not None else -1)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.open()
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.open()
            event.accept()
            return
        super().keyPressEvent(event)


class SearchPanel(QFrame):
    """The cue that a search is applied ("Filtered by “…” — Clear") and its hits."""

    hitOpened = Signal(uuid.UUID, int)  # session id, segment idx (-1: not a transcript line)
    clearRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchPanel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        cue = QHBoxLayout()
        cue.setSpacing(8)
        self.cue_label = QLabel()
        self.cue_label.setObjectName("filterCue")
        self.cue_label.setTextFormat(Qt.TextFormat.PlainText)
        self.cue_label.setStyleSheet("color: #1d2a30; font-weight: 600;")
        cue.addWidget(self.cue_label)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearSearchButton")
        self.clear_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.clear_button.setAccessibleName("Clear the search and filters")
        self.clear_button.clicked.connect(self.clearRequested)
        cue.addWidget(self.clear_button)
        cue.addStretch(1)
        layout.addLayout(cue)
        self.hits_scroll = QScrollArea()
        self.hits_scroll.setObjectName("searchHits")
        self.hits_scroll.setWidgetResizable(True)
        self.hits_scroll.setFrameShape(QFrame.Shape.StyledPanel)
        self.hits_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.hits_scroll.setMaximumHeight(230)
        content = QWidget()
        self._rows_layout = QVBoxLayout(content)
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(0)
        self._rows_layout.addStretch(1)
        self.hits_scroll.setWidget(content)
        layout.addWidget(self.hits_scroll)
        self._rows: list[SearchHitRow] = []
        self.setVisible(False)

    def rows(self) -> list[SearchHitRow]:
        return list(self._rows)

    def set_cue(self, text: str) -> None:
        """Show the cue (empty text hides the panel)."""
        self.cue_label.setText(text)
        self.setVisible(bool(text))

    def set_hits(self, hits: list[SearchHit]) -> None:
        for row in self._rows:
            self._rows_layout.removeWidget(row)
            row.deleteLater()
        self._rows = []
        for position, hit in enumerate(hits[:MAX_SHOWN]):
            row = SearchHitRow(hit)
            row.opened.connect(self.hitOpened)
            self._rows_layout.insertWidget(position, row)
            self._rows.append(row)
        self.hits_scroll.setVisible(bool(self._rows))
