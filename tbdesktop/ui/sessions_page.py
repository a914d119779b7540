"""The Sessions page: a card per session, newest first, or an empty state inviting an import."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import ProgressEvent, SessionInfo
from tbdesktop.services.sessions import SessionService
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.buttons import action_button
from tbdesktop.ui.formatting import ACTIVE_STATUSES
from tbdesktop.ui.resources import icon
from tbdesktop.ui.session_card import SessionCard

REFRESH_DEBOUNCE_MS = 250


class SessionsPage(QWidget):
    importRequested = Signal()
    openRequested = Signal(object)  # session id
    cancelRequested = Signal(object)  # session id
    errorOccurred = Signal(str)
    refreshed = Signal()

    def __init__(self, sessions: SessionService, bridge: ProgressBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionsPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._sessions = sessions
        self._cards: dict[uuid.UUID, SessionCard] = {}
        self._loaded = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 0)
        layout.setSpacing(4)

        title_row = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        title = QLabel("Sessions")
        title.setObjectName("pageTitle")
        self.subtitle = QLabel("")
        self.subtitle.setObjectName("pageSubtitle")
        titles.addWidget(title)
        titles.addWidget(self.subtitle)
        title_row.addLayout(titles, 1)
        layout.addLayout(title_row)
        layout.addSpacing(12)

        self.stack = QStackedWidget()
        layout.addWidget(self.stack, 1)

        # empty state
        self.empty_state = QWidget()
        self.empty_state.setObjectName("emptyState")
        self.empty_state.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        empty = QVBoxLayout(self.empty_state)
        empty.addStretch(2)
        art = QLabel()
        art.setPixmap(icon("empty").pixmap(96, 96))
        art.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.addWidget(art)
        empty_title = QLabel("No sessions yet")
        empty_title.setObjectName("emptyStateTitle")
        empty_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.addWidget(empty_title)
        empty_text = QLabel(
            "Import a session recording to transcribe it on this workstation.\nAudio never leaves this computer."
        )
        empty_text.setObjectName("emptyStateText")
        empty_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.addWidget(empty_text)
        empty.addSpacing(12)
        self.empty_import_button = action_button("  Import recording", "emptyStateImportButton", icon("import"))
        self.empty_import_button.clicked.connect(self.importRequested)
        button_row = QHBoxLayout()
        button_row.addStretch(1)
        button_row.addWidget(self.empty_import_button)
        button_row.addStretch(1)
        empty.addLayout(button_row)
        empty.addStretch(3)

        # list of cards
        self.list_scroll = QScrollArea()
        self.list_scroll.setObjectName("sessionList")
        self.list_scroll.setWidgetResizable(True)
        self.list_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.list_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content = QWidget()
        content.setObjectName("sessionListContent")
        content.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.list_layout = QVBoxLayout(content)
        self.list_layout.setContentsMargins(0, 0, 4, 24)
        self.list_layout.setSpacing(12)
        self.list_layout.addStretch(1)
        self.list_scroll.setWidget(content)

        self.loading = QLabel("Loading sessions…")
        self.loading.setObjectName("muted")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.stack.addWidget(self.loading)
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.list_scroll)
        self.stack.setCurrentWidget(self.loading)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DEBOUNCE_MS)
        self._refresh_timer.timeout.connect(self.schedule_refresh)
        bridge.progress.connect(self.apply_event)

    # -- data -----------------------------------------------------------------------------------------

    def cards(self) -> list[SessionCard]:
        items = (self.list_layout.itemAt(i) for i in range(self.list_layout.count()))
        return [w for item in items if item is not None and isinstance(w := item.widget(), SessionCard)]

    def card(self, session_id: uuid.UUID) -> SessionCard | None:
        return self._cards.get(session_id)

    async def refresh(self) -> None:
        sessions = await self._sessions.list_sessions()
        self.set_sessions(sessions)

    def schedule_refresh(self) -> None:
        spawn(self.refresh(), on_error=self.errorOccurred.emit)

    def set_sessions(self, sessions: list[SessionInfo]) -> None:
        """Show `sessions` (already newest first), reusing the cards of sessions already shown."""
        self._loaded = True
        wanted = {s.id for s in sessions}
        for sid in [sid for sid in self._cards if sid not in wanted]:
            old = self._cards.pop(sid)
            self.list_layout.removeWidget(old)
            old.deleteLater()
        for position, info in enumerate(sessions):
            card = self._cards.get(info.id)
            if card is None:
                card = SessionCard(info)
                card.openRequested.connect(self.openRequested)
                card.cancelRequested.connect(self.cancelRequested)
                self._cards[info.id] = card
            else:
                card.update_info(info)
                self.list_layout.removeWidget(card)
            self.list_layout.insertWidget(position, card)
        self._update_header()
        self.stack.setCurrentWidget(self.list_scroll if sessions else self.empty_state)
        self.refreshed.emit()

    def _update_header(self) -> None:
        cards = list(self._cards.values())
        if not cards:
            self.subtitle.setText("Your imported and recorded sessions appear here.")
            return
        active = sum(1 for c in cards if c.status in ACTIVE_STATUSES)
        text = f"{len(cards)} session" + ("" if len(cards) == 1 else "s")
        if active:
            text += f" · {active} processing"
        self.subtitle.setText(text)

    def apply_event(self, event: object) -> None:
        if not isinstance(event, ProgressEvent):
            return
        card = self._cards.get(event.session_id)
        if card is None or event.finished:
            # A session this page has not shown yet, or one whose stored details (duration) changed.
            if self._loaded:
                self._refresh_timer.start()
        if card is not None:
            card.apply_event(event)
            self._update_header()
