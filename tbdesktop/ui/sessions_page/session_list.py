"""The scrolling list of session cards under day headings, newest first."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from tbdesktop.services.dto import ProgressEvent, SessionInfo
from tbdesktop.ui.formatting import long_date
from tbdesktop.ui.sessions_page.card import SessionCard


def day_title(day: date, today: date) -> str:
    """The heading of a day's sessions: "Today", "Yesterday" or e.g. "Monday 23 November 2026"."""
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    return long_date(day)


class SessionList(QScrollArea):
    """Shows the sessions it is given, one card each, reusing cards; the cards' requests come out of it."""

    openRequested = Signal(uuid.UUID)
    cancelRequested = Signal(uuid.UUID)
    retryRequested = Signal(uuid.UUID)
    menuRequested = Signal(uuid.UUID, QPoint, bool)  # session id, global position, True: the menu's top-right corner

    def __init__(self, current_user_id: uuid.UUID, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionList")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._current_user_id = current_user_id
        self._cards: dict[uuid.UUID, SessionCard] = {}
        self._headers: dict[date, QLabel] = {}
        content = QWidget()
        content.setObjectName("sessionListContent")
        content.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.list_layout = QVBoxLayout(content)
        self.list_layout.setContentsMargins(0, 0, 8, 24)
        self.list_layout.setSpacing(10)
        self.list_layout.addStretch(1)
        self.setWidget(content)

    def cards(self) -> list[SessionCard]:
        """The cards shown, top to bottom."""
        items = (self.list_layout.itemAt(i) for i in range(self.list_layout.count()))
        return [w for item in items if item is not None and isinstance(w := item.widget(), SessionCard)]

    def card(self, session_id: uuid.UUID) -> SessionCard | None:
        return self._cards.get(session_id)

    def day_headers(self) -> list[str]:
        """The day headings shown, top to bottom."""
        items = (self.list_layout.itemAt(i) for i in range(self.list_layout.count()))
        return [w.text() for item in items if item is not None and isinstance(w := item.widget(), QLabel)]

    def apply_event(self, event: ProgressEvent) -> bool:
        """Pass a progress event to its card; False when no card shows that session."""
        card = self._cards.get(event.session_id)
        if card is None:
            return False
        card.apply_event(event)
        return True

    def show_sessions(self, visible: list[SessionInfo], every: list[SessionInfo]) -> None:
        """Lay out the cards of `visible` (newest first) by day; cards and headings of sessions not in `every`
        (deleted) go for good, the others are kept, hidden, for when a filter lets them through again."""
        alive = {info.id for info in every}
        for sid in [sid for sid in self._cards if sid not in alive]:
            old = self._cards.pop(sid)
            self.list_layout.removeWidget(old)
            old.deleteLater()
        today = date.today()
        wanted: list[QWidget] = []  # day headers and cards, top to bottom
        previous_day: date | None = None
        for info in visible:
            if info.session_date != previous_day:
                wanted.append(self._header(info.session_date, today))
                previous_day = info.session_date
            wanted.append(self._card_for(info))
        self._lay_out(wanted)
        days = {info.session_date for info in every}
        for day in [day for day in self._headers if day not in days]:
            header = self._headers.pop(day)
            self.list_layout.removeWidget(header)
            header.deleteLater()

    def _lay_out(self, wanted: list[QWidget]) -> None:
        """The list holds ``wanted`` in this order. Only what changed is moved, hidden or shown: re-showing every
        card on each refresh (when a session finishes processing, say) held the window for ~0.2 s at 300 cards."""
        layout = self.list_layout
        items = (layout.itemAt(i) for i in range(layout.count() - 1))  # the stretch at the end stays
        current = [w for item in items if item is not None and (w := item.widget()) is not None]
        if current != wanted:
            keep = set(wanted)
            for widget in current:
                if widget not in keep:
                    layout.removeWidget(widget)
                    widget.hide()
            for position, widget in enumerate(wanted):
                if layout.indexOf(widget) != position:
                    layout.removeWidget(widget)
                    layout.insertWidget(position, widget)
        for widget in wanted:
            if widget.isHidden():
                widget.show()

    def _header(self, day: date, today: date) -> QLabel:
        header = self._headers.get(day)
        if header is None:
            header = QLabel()
            header.setObjectName("dayHeader")
            self._headers[day] = header
        header.setText(day_title(day, today))
        return header

    def _card_for(self, info: SessionInfo) -> SessionCard:
        card = self._cards.get(info.id)
        if card is None:
            card = SessionCard(info, current_user_id=self._current_user_id)
            card.openRequested.connect(self.openRequested)
            card.editRequested.connect(self.openRequested)  # Edit opens the session too
            card.cancelRequested.connect(self.cancelRequested)
            card.retryRequested.connect(self.retryRequested)
            card.menuRequested.connect(self.menuRequested)
            self._cards[info.id] = card
        elif card.info != info:
            card.update_info(info)
        return card
