"""The Sessions page: cards grouped by day (newest first), full-text search, client and status filters, and the
session actions (reassign, deletes, retry, export) asked for from each card; its controller carries them out."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QLabel, QStackedWidget, QVBoxLayout, QWidget

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.dto import ProgressEvent, SessionInfo
from tbdesktop.services.search import SearchHit, SearchService
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.export_menu import NoteExporter
from tbdesktop.ui.search_results import SearchPanel
from tbdesktop.ui.sessions_page.card import SessionCard
from tbdesktop.ui.sessions_page.confirm_delete import ConfirmDeleteDialog
from tbdesktop.ui.sessions_page.controller import SessionsController
from tbdesktop.ui.sessions_page.menu import SessionContextMenu
from tbdesktop.ui.sessions_page.session_list import SessionList
from tbdesktop.ui.sessions_page.session_state import is_processing, with_event
from tbdesktop.ui.sessions_page.states import EmptyState, NoMatchState
from tbdesktop.ui.sessions_page.toolbar import SessionsToolbar

REFRESH_DEBOUNCE_MS = 250
SEARCH_DEBOUNCE_MS = 250


def _newest_first(info: SessionInfo) -> tuple[date, datetime]:
    created = info.created_at if info.created_at.tzinfo else info.created_at.replace(tzinfo=UTC)
    return info.session_date, created


class SessionsPage(QWidget):
    """Signals for the window: importRequested, recordRequested (empty state), openRequested (session id: show the
    session; Edit too), cancelRequested (session id: stop its processing), hitOpened (session id, transcript line
    or -1), processingQueued (session id: a retry queued it), notify (kind "success" | "error", message: the one
    way out for outcomes and errors), refreshed, searched.

    Requests for the controller: deleteRecordingRequested, deleteTranscriptRequested, deleteSessionRequested,
    reassignRequested, retryRequested (session id), exportRequested (session id, kind, with the transcript),
    searchRequested (the typed words)."""

    importRequested = Signal()
    recordRequested = Signal()
    openRequested = Signal(uuid.UUID)
    cancelRequested = Signal(uuid.UUID)
    hitOpened = Signal(uuid.UUID, int)  # session id, transcript line (-1: the hit is not a line)
    processingQueued = Signal(uuid.UUID)
    notify = Signal(str, str)  # kind "success" | "error", message
    refreshed = Signal()
    searched = Signal()

    deleteRecordingRequested = Signal(uuid.UUID)
    deleteTranscriptRequested = Signal(uuid.UUID)
    deleteSessionRequested = Signal(uuid.UUID)
    reassignRequested = Signal(uuid.UUID)
    retryRequested = Signal(uuid.UUID)
    exportRequested = Signal(uuid.UUID, str, bool)  # session id, kind (copy, pdf, docx, print), with the transcript
    searchRequested = Signal(str)

    def __init__(self, services: AppServices, bridge: ProgressBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionsPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._server: dict[uuid.UUID, SessionInfo] = {}  # as the service last told
        self._overrides: dict[uuid.UUID, SessionInfo | None] = {}  # shown while a change is on its way (None: deleted)
        self._search_ids: set[uuid.UUID] | None = None  # None: no search text
        self._added_while_filtered: set[uuid.UUID] = set()  # new sessions that came in while a filter was on
        self._loaded = False
        self.menu: SessionContextMenu | None = None

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

        self.toolbar = SessionsToolbar()
        self.toolbar.queryChanged.connect(self._typed)
        self.toolbar.filtersChanged.connect(self._render)
        self.search_edit = self.toolbar.search_edit
        self.client_filter = self.toolbar.client_filter
        self.status_filter = self.toolbar.status_filter
        layout.addWidget(self.toolbar)
        layout.addSpacing(8)
        self.search_panel = SearchPanel()
        self.search_panel.hitOpened.connect(self.hitOpened)
        self.search_panel.clearRequested.connect(self.clear_filters)
        layout.addWidget(self.search_panel)

        self.stack = QStackedWidget()
        layout.addWidget(self.stack, 1)
        self.empty_state = EmptyState()
        self.empty_state.importRequested.connect(self.importRequested)
        self.empty_state.recordRequested.connect(self.recordRequested)
        self.empty_import_button = self.empty_state.import_button
        self.empty_record_button = self.empty_state.record_button
        self.no_match_state = NoMatchState()
        self.no_match_state.clearRequested.connect(self.clear_filters)
        self.no_match_text = self.no_match_state.text
        self.clear_filters_button = self.no_match_state.clear_button
        self.list_scroll = SessionList(services.user.id)
        self.list_scroll.openRequested.connect(self.openRequested)
        self.list_scroll.cancelRequested.connect(self.cancelRequested)
        self.list_scroll.retryRequested.connect(self.retryRequested)
        self.list_scroll.menuRequested.connect(self.open_menu)
        self.loading = QLabel("Loading sessions…")
        self.loading.setObjectName("muted")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for page in (self.loading, self.empty_state, self.no_match_state, self.list_scroll):
            self.stack.addWidget(page)
        self.stack.setCurrentWidget(self.loading)
        self.toolbar.hide()

        self.controller = SessionsController(services, self, parent=self)
        self.controller.notify.connect(self.notify)
        self.controller.processingQueued.connect(self.processingQueued)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DEBOUNCE_MS)
        self._refresh_timer.timeout.connect(self.schedule_refresh)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self.run_search)
        bridge.progress.connect(self.apply_event)

    @property
    def exporter(self) -> NoteExporter:
        return self.controller.exporter

    @property
    def search_service(self) -> SearchService:
        return self.controller.search_service

    @property
    def dialog(self) -> QDialog | None:
        """The confirmation or client picker on screen, if any."""
        return self.controller.dialog

    def confirm_dialog(self) -> ConfirmDeleteDialog | None:
        """The delete confirmation on screen, if any."""
        return self.dialog if isinstance(self.dialog, ConfirmDeleteDialog) else None

    # -- data -----------------------------------------------------------------------------------------

    def cards(self) -> list[SessionCard]:
        """The cards shown, top to bottom."""
        return self.list_scroll.cards()

    def card(self, session_id: uuid.UUID) -> SessionCard | None:
        """The card of a session (None once it is deleted); it may be hidden by the filters."""
        return self.list_scroll.card(session_id)

    def day_headers(self) -> list[str]:
        """The day headings shown, top to bottom."""
        return self.list_scroll.day_headers()

    def sessions(self) -> list[SessionInfo]:
        """Every session of mine as shown (pending changes included), newest first, filters aside."""
        shown = []
        for sid, info in self._server.items():
            override = self._overrides.get(sid, info)
            if override is not None:
                shown.append(override)
        return sorted(shown, key=_newest_first, reverse=True)

    def shown_info(self, session_id: uuid.UUID) -> SessionInfo | None:
        """A session as its card shows it now (None: not shown, or on its way out)."""
        if session_id in self._overrides:
            return self._overrides[session_id]
        return self._server.get(session_id)

    async def refresh(self) -> None:
        await self.controller.refresh()

    def schedule_refresh(self) -> None:
        self.controller.schedule_refresh()

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
        self.toolbar.set_clients(self.sessions())
        self._render()
        self.refreshed.emit()

    def apply_event(self, event: ProgressEvent) -> None:
        sid = event.session_id
        if sid in self._server:
            self._server[sid] = with_event(self._server[sid], event)
        override = self._overrides.get(sid)
        if override is not None:
            self._overrides[sid] = with_event(override, event)
        shown = self.list_scroll.apply_event(event)
        if (not shown or event.finished) and self._loaded:
            # A session this page has not shown yet, or one whose stored details (duration, summary) changed.
            self._refresh_timer.start()
        if shown:
            self._update_header(len(self.cards()))

    # -- pending changes (the controller's) -----------------------------------------------------------

    def hold(self, session_id: uuid.UUID, shown: SessionInfo | None) -> None:
        """Show `shown` for the session while a change is on its way (None hides it)."""
        self._overrides[session_id] = shown
        self._render()

    def release(self, session_id: uuid.UUID) -> None:
        """The change was refused: the session shows as it was."""
        self._overrides.pop(session_id, None)
        self._render()

    def settle(self, session_id: uuid.UUID, result: SessionInfo | None, *, deleted: bool) -> None:
        """The change went through: show the service's answer (`result`), or drop the session when `deleted`."""
        self._overrides.pop(session_id, None)
        if result is not None:
            self._server[session_id] = result
        elif deleted:
            self._server.pop(session_id, None)
        self.toolbar.set_clients(self.sessions())
        self._render()

    # -- the requests ---------------------------------------------------------------------------------

    def delete_recording(self, session_id: uuid.UUID) -> None:
        self.deleteRecordingRequested.emit(session_id)

    def delete_transcript(self, session_id: uuid.UUID) -> None:
        self.deleteTranscriptRequested.emit(session_id)

    def delete_session(self, session_id: uuid.UUID) -> None:
        self.deleteSessionRequested.emit(session_id)

    def reassign(self, session_id: uuid.UUID) -> None:
        self.reassignRequested.emit(session_id)

    def retry(self, session_id: uuid.UUID) -> None:
        self.retryRequested.emit(session_id)

    def open_menu(
        self, session_id: uuid.UUID, position: QPoint, right_aligned: bool = False
    ) -> SessionContextMenu | None:
        """Show the ⋮ menu of a session at `position` (global; its top-right corner when `right_aligned`), its
        first action highlighted for the keyboard."""
        info = self.shown_info(session_id)
        if info is None:
            return None
        menu = self.menu
        if menu is None:
            menu = SessionContextMenu(info, self)
            menu.reassignRequested.connect(self.reassignRequested)
            menu.deleteRecordingRequested.connect(self.deleteRecordingRequested)
            menu.deleteTranscriptRequested.connect(self.deleteTranscriptRequested)
            menu.deleteSessionRequested.connect(self.deleteSessionRequested)
            menu.exportRequested.connect(self.exportRequested)
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

    def close_menu(self) -> None:
        if self.menu is not None and self.menu.isVisible():
            self.menu.close()

    # -- search and filters ---------------------------------------------------------------------------

    def focus_search(self) -> None:
        """Put the cursor in the search box (Ctrl+F), its text selected."""
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def clear_filters(self) -> None:
        self.toolbar.clear()
        self.run_search()  # at once, not after the typing pause: the search is gone

    def set_client_filter(self, client_id: uuid.UUID | None) -> None:
        self.toolbar.set_client(client_id)

    def set_status_filter(self, key: str) -> None:
        self.toolbar.set_status(key)

    def query(self) -> str:
        return self.toolbar.query()

    def searching(self) -> bool:
        """Whether search results filter the list."""
        return self._search_ids is not None

    def _typed(self, _text: str) -> None:
        self._search_timer.start()

    def run_search(self) -> None:
        """Search the words typed now (the results of an older search are dropped)."""
        self._search_timer.stop()
        self.searchRequested.emit(self.query())

    def show_search(self, hits: list[SearchHit] | None) -> None:
        """Filter the list to the sessions of `hits` and list them above it (None: no search)."""
        self._search_ids = None if hits is None else {hit.session_id for hit in hits}
        self.search_panel.set_hits(hits or [])
        self._render()
        self.searched.emit()

    def _matches(self, info: SessionInfo) -> bool:
        return self.toolbar.matches(info) and (self._search_ids is None or info.id in self._search_ids)

    def _filtering(self) -> bool:
        return self._search_ids is not None or self.toolbar.filter_chosen()

    # -- showing --------------------------------------------------------------------------------------

    def _render(self) -> None:
        """Lay the cards out by day, newest first, as the filters and pending changes say."""
        every = self.sessions()
        visible = [info for info in every if self._matches(info)]
        self.list_scroll.show_sessions(visible, every)
        self.toolbar.count_statuses(every)
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
        query = self.query()
        if query and self._search_ids is not None:
            parts.append(f"“{query}”")
        parts += self.toolbar.chosen_words()
        text = "Filtered by " + ", ".join(parts) if parts else "Filtered"
        hidden = len(self._added_while_filtered & set(self._server) - visible)
        if hidden:
            text += f" — {hidden} new session{'' if hidden == 1 else 's'} not shown"
        self.search_panel.set_cue(text)

    def _no_match_words(self) -> str:
        query = self.query()
        if query and self._search_ids is not None:
            return f"Nothing matches “{query}” with these filters."
        return "No session matches these filters."
