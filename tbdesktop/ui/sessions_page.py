"""The Sessions page: cards grouped by day (newest first), full-text search, client and status filters, and the
session actions (reassign, deletes, retry) shown at once and rolled back when the service refuses them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.errors import TBError
from tbdesktop.services.dto import ProgressEvent, SessionInfo
from tbdesktop.services.export import ExportService
from tbdesktop.services.search import MAX_LIMIT, MAX_QUERY, SearchService
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT
from tbdesktop.services.sessions import SessionService
from tbdesktop.ui.aio import run_dialog, spawn, user_message
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.buttons import action_button
from tbdesktop.ui.export_menu import NoteExporter
from tbdesktop.ui.formatting import long_date
from tbdesktop.ui.resources import icon
from tbdesktop.ui.search_results import SearchPanel
from tbdesktop.ui.session_card import SessionCard, is_processing, needs_consent, with_event
from tbdesktop.ui.session_menu import (
    ConfirmDeleteDialog,
    ReassignDialog,
    SessionContextMenu,
    confirm_delete_recording,
    confirm_delete_session,
    confirm_delete_transcript,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

REFRESH_DEBOUNCE_MS = 250
SEARCH_DEBOUNCE_MS = 250

# Status filter: (key, words). Each key names a test in `_status_matches`.
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

DELETED = None  # an override that hides a session while its delete is on its way


def day_title(day: date, today: date) -> str:
    """The heading of a day's sessions: "Today", "Yesterday" or e.g. "Monday 23 November 2026"."""
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    return long_date(day)


def _status_matches(key: str, info: SessionInfo) -> bool:
    if key == "processing":
        return is_processing(info)
    if key == "consent":
        return needs_consent(info)
    if key in ("completed", "failed", "cancelled"):
        return info.status == key
    if key in ("draft", "signed"):
        return info.note_state == key
    return True


def _newest_first(info: SessionInfo) -> tuple[date, datetime]:
    created = info.created_at if info.created_at.tzinfo else info.created_at.replace(tzinfo=UTC)
    return info.session_date, created


class SessionsPage(QWidget):
    """Signals: importRequested (empty state), openRequested / editRequested (session id: show the session),
    cancelRequested (session id: stop its processing), processingQueued (session id: a retry queued it, so the
    runner should look for work), notify (kind "success" | "error", message: a toast for an action's outcome),
    errorOccurred (message: loading or searching failed)."""

    importRequested = Signal()
    recordRequested = Signal()
    openRequested = Signal(object)  # session id
    editRequested = Signal(object)  # session id
    cancelRequested = Signal(object)  # session id
    processingQueued = Signal(object)  # session id
    notify = Signal(str, str)  # kind "success" | "error", message
    errorOccurred = Signal(str)
    refreshed = Signal()
    searched = Signal()
    hitOpened = Signal(object, object)  # session id, transcript line (None: the hit is not a line)

    def __init__(self, sessions: SessionService, bridge: ProgressBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionsPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._sessions = sessions
        self.search_service = SearchService(sessions.ctx, sessions.user)
        self._server: dict[uuid.UUID, SessionInfo] = {}  # as the service last told
        self._overrides: dict[uuid.UUID, SessionInfo | None] = {}  # shown while a change is on its way
        self._cards: dict[uuid.UUID, SessionCard] = {}
        self._headers: dict[date, QLabel] = {}
        self._search_ids: set[uuid.UUID] | None = None  # None: no search text
        self._search_generation = 0
        self._added_while_filtered: set[uuid.UUID] = set()  # new sessions that came in while a filter was on
        self._loaded = False
        self.menu: SessionContextMenu | None = None
        self.dialog: QDialog | None = None
        # Copy, export and print a session's latest note from its card's menu.
        self.exporter = NoteExporter(ExportService(sessions.ctx, sessions.user), self)
        self.exporter.notify.connect(self.notify)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 0)
        layout.setSpacing(4)

        titles = QVBoxLayout()
        titles.setSpacing(2)
        title = QLabel("Sessions")
        title.setObjectName("pageTitle")
        self.subtitle = QLabel("")
        self.subtitle.setObjectName("pageSubtitle")
        titles.addWidget(title)
        titles.addWidget(self.subtitle)
        layout.addLayout(titles)
        layout.addSpacing(12)

        self.toolbar = self._build_toolbar()
        layout.addWidget(self.toolbar)
        layout.addSpacing(8)
        self.search_panel = SearchPanel()
        self.search_panel.hitOpened.connect(self.hitOpened)
        self.search_panel.clearRequested.connect(self.clear_filters)
        layout.addWidget(self.search_panel)

        self.stack = QStackedWidget()
        layout.addWidget(self.stack, 1)
        self.empty_state = self._build_empty_state()
        self.no_match_state = self._build_no_match_state()

        self.list_scroll = QScrollArea()
        self.list_scroll.setObjectName("sessionList")
        self.list_scroll.setWidgetResizable(True)
        self.list_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.list_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content = QWidget()
        content.setObjectName("sessionListContent")
        content.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.list_layout = QVBoxLayout(content)
        self.list_layout.setContentsMargins(0, 0, 8, 24)
        self.list_layout.setSpacing(10)
        self.list_layout.addStretch(1)
        self.list_scroll.setWidget(content)

        self.loading = QLabel("Loading sessions…")
        self.loading.setObjectName("muted")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)

        for page in (self.loading, self.empty_state, self.no_match_state, self.list_scroll):
            self.stack.addWidget(page)
        self.stack.setCurrentWidget(self.loading)
        self.toolbar.hide()

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DEBOUNCE_MS)
        self._refresh_timer.timeout.connect(self.schedule_refresh)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._run_search)
        bridge.progress.connect(self.apply_event)

    # -- building -------------------------------------------------------------------------------------

    def _build_toolbar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("sessionsToolbar")
        row = QHBoxLayout(bar)
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
        self.search_edit.textChanged.connect(self._search_text_changed)
        clear = QAction(self.search_edit)
        clear.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        clear.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        clear.triggered.connect(self.search_edit.clear)
        self.search_edit.addAction(clear)
        row.addWidget(self.search_edit, 1)

        self.client_filter = QComboBox()
        self.client_filter.setObjectName("clientFilter")
        self.client_filter.setAccessibleName("Filter by client")
        self.client_filter.setMinimumWidth(170)
        self.client_filter.addItem("All clients", None)
        self.client_filter.currentIndexChanged.connect(self._render)
        row.addWidget(self.client_filter)

        self.status_filter = QComboBox()
        self.status_filter.setObjectName("statusFilter")
        self.status_filter.setAccessibleName("Filter by status")
        self.status_filter.setMinimumWidth(160)
        for key, words in STATUS_FILTERS:
            self.status_filter.addItem(words, key)
        self.status_filter.currentIndexChanged.connect(self._render)
        row.addWidget(self.status_filter)
        return bar

    def _build_empty_state(self) -> QWidget:
        state = QWidget()
        state.setObjectName("emptyState")
        state.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        column = QVBoxLayout(state)
        column.addStretch(2)
        art = QLabel()
        art.setPixmap(icon("empty").pixmap(96, 96))
        art.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(art)
        heading = QLabel("No sessions yet")
        heading.setObjectName("emptyStateTitle")
        heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(heading)
        text = QLabel(
            "Record a session in the room, or import a recording, to transcribe it on this workstation.\n"
            "Audio never leaves this computer."
        )
        text.setObjectName("emptyStateText")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(text)
        column.addSpacing(12)
        self.empty_import_button = action_button("  Import recording", "emptyStateImportButton", icon("import"))
        self.empty_import_button.setAccessibleName("Import recording")
        self.empty_import_button.clicked.connect(self.importRequested)
        self.empty_record_button = action_button("  Record session", "emptyStateRecordButton", icon("record"))
        self.empty_record_button.setAccessibleName("Record session")
        self.empty_record_button.clicked.connect(self.recordRequested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.empty_record_button)
        buttons.addSpacing(8)
        buttons.addWidget(self.empty_import_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        column.addStretch(3)
        return state

    def _build_no_match_state(self) -> QWidget:
        state = QWidget()
        state.setObjectName("noMatchState")
        state.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        column = QVBoxLayout(state)
        column.addStretch(1)
        art = QLabel()
        art.setPixmap(icon("no-match").pixmap(72, 72))
        art.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(art)
        heading = QLabel("No sessions match")
        heading.setObjectName("emptyStateTitle")
        heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(heading)
        self.no_match_text = QLabel()
        self.no_match_text.setObjectName("emptyStateText")
        self.no_match_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_match_text.setWordWrap(True)
        self.no_match_text.setTextFormat(Qt.TextFormat.PlainText)
        column.addWidget(self.no_match_text)
        column.addSpacing(8)
        self.clear_filters_button = QPushButton("Clear search and filters")
        self.clear_filters_button.setObjectName("clearFiltersButton")
        self.clear_filters_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.clear_filters_button.clicked.connect(self.clear_filters)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.clear_filters_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        column.addStretch(2)
        return state

    # -- data -----------------------------------------------------------------------------------------

    def cards(self) -> list[SessionCard]:
        """The cards shown, top to bottom."""
        items = (self.list_layout.itemAt(i) for i in range(self.list_layout.count()))
        return [w for item in items if item is not None and isinstance(w := item.widget(), SessionCard)]

    def card(self, session_id: uuid.UUID) -> SessionCard | None:
        """The card of a session (None once it is deleted); it may be hidden by the filters."""
        return self._cards.get(session_id)

    def day_headers(self) -> list[str]:
        """The day headings shown, top to bottom."""
        items = (self.list_layout.itemAt(i) for i in range(self.list_layout.count()))
        return [w.text() for item in items if item is not None and isinstance(w := item.widget(), QLabel)]

    def sessions(self) -> list[SessionInfo]:
        """Every session of mine as shown (pending changes included), newest first, filters aside."""
        shown = []
        for sid, info in self._server.items():
            override = self._overrides.get(sid, info)
            if override is not None:
                shown.append(override)
        return sorted(shown, key=_newest_first, reverse=True)

    async def refresh(self) -> None:
        sessions = await self._sessions.list_sessions()
        self.set_sessions(sessions)
        if self._search_ids is not None:
            self._run_search()

    def schedule_refresh(self) -> None:
        spawn(self.refresh(), on_error=self.errorOccurred.emit)

    def show_info(self, info: SessionInfo) -> None:
        """A session as just read from the service (when it was opened, say): its card shows it at once."""
        if info.id in self._server and info.id not in self._overrides and self._server[info.id] != info:
            self._server[info.id] = info
            self._render()

    def set_sessions(self, sessions: list[SessionInfo]) -> None:
        """Show `sessions`, reusing the cards of sessions already shown."""
        if self._loaded and self._filtering():
            self._added_while_filtered |= {s.id for s in sessions if s.id not in self._server}
        self._loaded = True
        self._server = {s.id: s for s in sessions}
        for sid in [sid for sid in self._overrides if sid not in self._server]:
            del self._overrides[sid]
        self._update_client_filter()
        self._render()
        self.refreshed.emit()

    def apply_event(self, event: object) -> None:
        if not isinstance(event, ProgressEvent):
            return
        sid = event.session_id
        if sid in self._server:
            self._server[sid] = with_event(self._server[sid], event)
        override = self._overrides.get(sid)
        if override is not None:
            self._overrides[sid] = with_event(override, event)
        card = self._cards.get(sid)
        if card is None or event.finished:
            # A session this page has not shown yet, or one whose stored details (duration, summary) changed.
            if self._loaded:
                self._refresh_timer.start()
        if card is not None:
            card.apply_event(event)
            self._update_header(len(self.cards()))

    # -- filters --------------------------------------------------------------------------------------

    def focus_search(self) -> None:
        """Put the cursor in the search box (Ctrl+F), its text selected."""
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def clear_filters(self) -> None:
        self.search_edit.clear()
        self.client_filter.setCurrentIndex(0)
        self.status_filter.setCurrentIndex(0)
        self._run_search()  # at once, not after the typing pause: the search is gone

    def set_client_filter(self, client_id: uuid.UUID | None) -> None:
        self.client_filter.setCurrentIndex(self._client_index(client_id))

    def _client_index(self, client_id: object) -> int:
        # findData cannot compare Python objects such as UUIDs, so the items are looked through.
        found = (i for i in range(self.client_filter.count()) if self.client_filter.itemData(i) == client_id)
        return next(found, 0)

    def set_status_filter(self, key: str) -> None:
        self.status_filter.setCurrentIndex(max(0, self.status_filter.findData(key)))

    def _update_client_filter(self) -> None:
        # Anonymous sessions stay out of the client filter: it would show whose they are.
        names = {
            info.client_id: info.client_name
            for info in self.sessions()
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

    def _matches(self, info: SessionInfo) -> bool:
        client_id = self.client_filter.currentData()
        if client_id is not None and (info.client_id != client_id or info.is_anonymous):
            return False
        if not _status_matches(str(self.status_filter.currentData()), info):
            return False
        return self._search_ids is None or info.id in self._search_ids

    def _filtering(self) -> bool:
        chosen = self.client_filter.currentIndex() > 0 or self.status_filter.currentIndex() > 0
        return self._search_ids is not None or chosen

    def _search_text_changed(self, _text: str) -> None:
        self._search_timer.start()

    def _run_search(self) -> None:
        """Search the typed words off the UI thread; results of an older query are dropped."""
        self._search_timer.stop()
        self._search_generation += 1
        query = self.search_edit.text().strip()
        if not query:
            self._search_ids = None
            self.search_panel.set_hits([])
            self._render()
            self.searched.emit()
            return
        spawn(self._search(query, self._search_generation), on_error=self.errorOccurred.emit)

    async def _search(self, query: str, generation: int) -> None:
        hits = await self.search_service.search(query, limit=MAX_LIMIT)
        if generation != self._search_generation:
            return
        self._search_ids = {hit.session_id for hit in hits}
        self.search_panel.set_hits(hits)
        self._render()
        self.searched.emit()

    # -- showing --------------------------------------------------------------------------------------

    def _render(self) -> None:
        """Lay the cards out by day, newest first, as the filters and pending changes say."""
        every = self.sessions()
        alive = {info.id for info in every}
        for sid in [sid for sid in self._cards if sid not in alive]:
            old = self._cards.pop(sid)
            self.list_layout.removeWidget(old)
            old.deleteLater()
        visible = [info for info in every if self._matches(info)]
        today = date.today()
        wanted: list[QWidget] = []  # day headers and cards, top to bottom
        previous_day: date | None = None
        for info in visible:
            if info.session_date != previous_day:
                wanted.append(self._header(info.session_date, today))
                previous_day = info.session_date
            wanted.append(self._card_for(info))
        self._lay_out(wanted)
        for day in [day for day in self._headers if day not in {info.session_date for info in every}]:
            header = self._headers.pop(day)
            self.list_layout.removeWidget(header)
            header.deleteLater()
        self._update_status_counts(every)
        self._update_header(len(visible))
        self._update_cue({info.id for info in visible})
        if not self._loaded:
            return
        self.toolbar.setVisible(bool(every))
        if not every:
            self.stack.setCurrentWidget(self.empty_state)
        elif not visible:
            self.no_match_text.setText(self._no_match_words())
            self.stack.setCurrentWidget(self.no_match_state)
        else:
            self.stack.setCurrentWidget(self.list_scroll)

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
            card = SessionCard(info, current_user_id=self._sessions.user.id)
            card.openRequested.connect(self.openRequested)
            card.editRequested.connect(self.editRequested)
            card.cancelRequested.connect(self.cancelRequested)
            card.retryRequested.connect(self.retry)
            card.menuRequested.connect(self.open_menu)
            self._cards[info.id] = card
        elif card.info != info:
            card.update_info(info)
        return card

    def _update_status_counts(self, every: list[SessionInfo]) -> None:
        for index, (key, words) in enumerate(STATUS_FILTERS):
            if key == "all":
                continue
            count = sum(1 for info in every if _status_matches(key, info))
            self.status_filter.setItemText(index, f"{words} ({count})" if count else words)

    def _update_header(self, shown: int) -> None:
        every = self.sessions()
        if not every:
            self.subtitle.setText("Your imported and recorded sessions appear here.")
            return
        total = len(every)
        text = f"{total} session" + ("" if total == 1 else "s")
        if self._filtering():
            text = f"Showing {shown} of {text}"
        active = sum(1 for info in every if is_processing(info))
        if active:
            text += f" · {active} processing"
        self.subtitle.setText(text)

    def _update_cue(self, visible: set[uuid.UUID]) -> None:
        """While a search or filter is on, say so above the list, with a way to clear it, and how many sessions
        that came in meanwhile (a new import, say) it hides."""
        if not self._filtering():
            self._added_while_filtered.clear()
            self.search_panel.set_cue("")
            return
        parts = []
        query = self.search_edit.text().strip()
        if query and self._search_ids is not None:
            parts.append(f"“{query}”")
        if self.client_filter.currentIndex() > 0:
            parts.append(self.client_filter.currentText())
        if self.status_filter.currentIndex() > 0:
            parts.append(str(self.status_filter.currentText()).split(" (")[0])
        text = "Filtered by " + ", ".join(parts) if parts else "Filtered"
        hidden = len(self._added_while_filtered & set(self._server) - visible)
        if hidden:
            text += f" — {hidden} new session{'' if hidden == 1 else 's'} not shown"
        self.search_panel.set_cue(text)

    def _no_match_words(self) -> str:
        query = self.search_edit.text().strip()
        if query and self._search_ids is not None:
            return f"Nothing matches “{query}” with these filters."
        return "No session matches these filters."

    # -- the menu -------------------------------------------------------------------------------------

    def open_menu(self, session_id: object, position: QPoint, right_aligned: bool = False) -> SessionContextMenu | None:
        """Show the ⋮ menu of a session at `position` (global; its top-right corner when `right_aligned`), its
        first action highlighted for the keyboard."""
        if not isinstance(session_id, uuid.UUID):
            return None
        info = self._shown(session_id)
        if info is None:
            return None
        menu = self.menu
        if menu is None:
            menu = SessionContextMenu(info, self)
            menu.reassignRequested.connect(self.reassign)
            menu.deleteRecordingRequested.connect(self.delete_recording)
            menu.deleteTranscriptRequested.connect(self.delete_transcript)
            menu.deleteSessionRequested.connect(self.delete_session)
            menu.exportRequested.connect(self.exporter.export_session)
            self.menu = menu
        else:
            menu.close()
            menu.set_info(info)
        if right_aligned:
            position = position - QPoint(menu.sizeHint().width(), 0)
        menu.popup(position)
        first = menu.first_enabled()
        if first is not None:
            menu.setActiveAction(first)
        return menu

    # -- actions: shown at once, rolled back when refused -----------------------------------------------

    def _shown(self, session_id: uuid.UUID) -> SessionInfo | None:
        if session_id in self._overrides:
            return self._overrides[session_id]
        return self._server.get(session_id)

    def delete_recording(self, session_id: object) -> asyncio.Task[None] | None:
        return self._start(session_id, self._delete_recording)

    def delete_transcript(self, session_id: object) -> asyncio.Task[None] | None:
        return self._start(session_id, self._delete_transcript)

    def delete_session(self, session_id: object) -> asyncio.Task[None] | None:
        return self._start(session_id, self._delete_session)

    def reassign(self, session_id: object) -> asyncio.Task[None] | None:
        return self._start(session_id, self._reassign)

    def retry(self, session_id: object) -> asyncio.Task[None] | None:
        return self._start(session_id, self._retry)

    def _start(self, session_id: object, flow: Callable[[SessionInfo], Awaitable[None]]) -> asyncio.Task[None] | None:
        if not isinstance(session_id, uuid.UUID):
            return None
        info = self._shown(session_id)
        if info is None:
            return None
        if self.menu is not None and self.menu.isVisible():
            self.menu.close()

        async def run() -> None:
            await flow(info)

        return spawn(run(), on_error=lambda message: self.notify.emit("error", message))

    async def _confirm(self, dialog: QDialog) -> bool:
        self.dialog = dialog
        try:
            return await run_dialog(dialog) == QDialog.DialogCode.Accepted
        finally:
            self.dialog = None
            dialog.deleteLater()

    async def _change(
        self,
        info: SessionInfo,
        shown: SessionInfo | None,
        call: Awaitable[T],
        success: str | Callable[[T], str],
    ) -> T | None:
        """Show `shown` for the session at once (None hides it), await the service, then keep its answer or
        put the session back as it was; a toast says which. Returns the service's answer, None when refused."""
        self._overrides[info.id] = shown
        self._render()
        try:
            result = await call
        except BaseException as exc:
            self._overrides.pop(info.id, None)
            self._render()
            if not isinstance(exc, Exception):
                raise
            if not isinstance(exc, TBError):
                log.error("session change failed", exc_info=exc, extra={"session_id": str(info.id)})
            self.notify.emit("error", user_message(exc))
            return None
        self._overrides.pop(info.id, None)
        if isinstance(result, SessionInfo):
            self._server[info.id] = result
        elif shown is DELETED:
            self._server.pop(info.id, None)
        self._update_client_filter()
        self._render()
        self.notify.emit("success", success if isinstance(success, str) else success(result))
        return result

    async def _delete_recording(self, info: SessionInfo) -> None:
        if not await self._confirm(confirm_delete_recording(info, self)):
            return
        shown = replace(info, recording_available=False, recording_deleted_at=datetime.now(UTC))
        await self._change(
            info, shown, self._sessions.delete_recording(info.id), "Recording deleted. The transcript and notes stay."
        )

    async def _delete_transcript(self, info: SessionInfo) -> None:
        if not await self._confirm(confirm_delete_transcript(info, self)):
            return
        shown = replace(info, transcript_deleted_at=datetime.now(UTC))
        stays = "The recording and notes stay." if info.recording_available else "The notes stay."
        await self._change(info, shown, self._sessions.delete_transcript(info.id), f"Transcript deleted. {stays}")

    async def _delete_session(self, info: SessionInfo) -> None:
        if not await self._confirm(confirm_delete_session(info, self)):
            return
        await self._change(info, DELETED, self._sessions.delete_session(info.id), "Session deleted.")

    async def _reassign(self, info: SessionInfo) -> None:
        clients = await self._sessions.list_clients()
        dialog = ReassignDialog(info, clients, self)
        if not await self._confirm(dialog):
            return
        client, new_name = dialog.choice()
        name = client.name if client is not None else new_name
        if name is None:
            return
        shown = replace(info, client_id=client.id if client else info.client_id, client_name=name)
        # An anonymous session's toast names no one.
        success = "Session reassigned." if info.is_anonymous else f"Session moved to {name}."
        await self._change(info, shown, self._move(info.id, client.id if client else None, name), success)

    async def _move(self, session_id: uuid.UUID, client_id: uuid.UUID | None, name: str) -> SessionInfo:
        if client_id is None:
            client_id = (await self._sessions.create_client(name)).id
        return await self._sessions.reassign(session_id, client_id=client_id)

    async def _retry(self, info: SessionInfo) -> None:
        shown = replace(
            info, status="queued", progress=0, stage_detail="Waiting to start", error=None, eta_seconds=None
        )

        def words(result: SessionInfo) -> str:
            if result.stage_detail == AWAITING_CONSENT:
                return "The session will be processed once the client's consent is recorded."
            return "Processing queued again."

        result = await self._change(info, shown, self._sessions.retry(info.id), words)
        if result is not None and result.stage_detail != AWAITING_CONSENT:
            self.processingQueued.emit(info.id)

    def confirm_dialog(self) -> ConfirmDeleteDialog | None:
        """The delete confirmation on screen, if any."""
        return self.dialog if isinstance(self.dialog, ConfirmDeleteDialog) else None
