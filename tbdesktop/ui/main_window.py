"""The main window: a header with navigation (Sessions, Templates, Settings) and the signed-in therapist; the
pages; the session view; the idle lock; toasts."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.errors import DuplicateRecordingError, TBError
from tbdesktop.services.dto import ProgressEvent, SessionInfo, UserInfo
from tbdesktop.services.notes import NoteService
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.services.settings import SettingsService
from tbdesktop.services.stats import StatsService
from tbdesktop.services.sync.service import SyncService
from tbdesktop.services.templates import TemplateService
from tbdesktop.ui.aio import run_dialog, spawn
from tbdesktop.ui.batch_import_flow import ImportFlow
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.buttons import action_button
from tbdesktop.ui.clinic_link import ClinicLink
from tbdesktop.ui.duplicate_dialog import AGAIN, OPEN, DuplicateDialog
from tbdesktop.ui.formatting import initials, long_date
from tbdesktop.ui.import_dialog import ImportDialog
from tbdesktop.ui.insights import InsightsPage
from tbdesktop.ui.lock import IdleWatcher, LockScreen
from tbdesktop.ui.processing_dialog import ProcessingDialog
from tbdesktop.ui.recorder_dialog import RecorderDialog
from tbdesktop.ui.resources import icon
from tbdesktop.ui.session_view import SessionView
from tbdesktop.ui.sessions_page import SessionsPage
from tbdesktop.ui.settings_page import SettingsPage
from tbdesktop.ui.settings_page.clinic import ClinicSection
from tbdesktop.ui.sync_indicator import SyncIndicator
from tbdesktop.ui.templates_page import TemplatesPage
from tbdesktop.ui.toasts import ToastOverlay
from tbdesktop.ui.window_notes import NoteActions
from tbdesktop.ui.window_recording import RecordingActions
from tbdesktop.ui.window_sync import SyncActions


class Processing(Protocol):
    """What the window needs from the processing runner."""

    def add_listener(self, listener: Callable[[ProgressEvent], None]) -> Callable[[], None]: ...

    def wake(self) -> None: ...

    async def cancel(self, session_id: uuid.UUID) -> bool: ...


class MainWindow(QMainWindow, RecordingActions, NoteActions, SyncActions):
    closed = Signal()

    def __init__(
        self,
        user: UserInfo,
        sessions: SessionService,
        processing: Processing,
        parent: QWidget | None = None,
        *,
        clinic: ClinicLink | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("TherapyBridge")
        self.setWindowIcon(icon("app"))
        self.resize(1040, 720)
        self.setMinimumSize(720, 480)
        self.user = user
        self.sessions = sessions
        self.processing = processing
        self.notes = NoteService(sessions.ctx, user)
        self.profiles = ProfileService(sessions.ctx)
        self.templates = TemplateService(sessions.ctx, user)
        self.bridge = ProgressBridge(self)
        self.bridge.attach(processing.add_listener)
        # Clinic sync (the app passes the link its sync loop reports through; without one, sync runs on request)
        self.clinic = clinic if clinic is not None else ClinicLink(SyncService(sessions.ctx), user, parent=self)
        self.import_dialog: ImportDialog | None = None
        self.import_flow = ImportFlow(self, self)  # several recordings, a folder, files dropped on the window
        self.setAcceptDrops(True)
        self.processing_dialog: ProcessingDialog | None = None
        self.duplicate_dialog: DuplicateDialog | None = None

        central = QWidget()
        central.setObjectName("centralWidget")
        central.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        root = QVBoxLayout(central)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        self.setCentralWidget(central)

        self.import_action = QAction(icon("import"), "Import recording…", self)
        self.import_action.setObjectName("importAction")
        self.import_action.setShortcut(QKeySequence("Ctrl+I"))
        self.import_action.triggered.connect(self.start_import)
        self.addAction(self.import_action)
        self.record_action = QAction(icon("record"), "Record session…", self)
        self.record_action.setObjectName("recordAction")
        self.record_action.setShortcut(QKeySequence("Ctrl+R"))
        self.record_action.triggered.connect(self.start_recording)
        self.addAction(self.record_action)
        self.recorder_dialog: RecorderDialog | None = None
        self.search_action = QAction("Search sessions", self)
        self.search_action.setObjectName("searchAction")
        self.search_action.setShortcut(QKeySequence.StandardKey.Find)
        self.search_action.triggered.connect(self.focus_search)
        self.addAction(self.search_action)
        # Quit closes the window the usual way, so a recording in progress is saved first (closeEvent).
        self.quit_action = QAction("Quit TherapyBridge", self)
        self.quit_action.setObjectName("quitAction")
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quit_action.triggered.connect(self.close)
        self.addAction(self.quit_action)

        root.addWidget(self._build_header())

        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        self.sessions_page = SessionsPage(sessions, self.bridge)
        self.sessions_page.importRequested.connect(self.start_import)
        self.sessions_page.recordRequested.connect(self.start_recording)
        self.sessions_page.openRequested.connect(self.open_session_later)
        self.sessions_page.cancelRequested.connect(self.cancel_processing)
        self.sessions_page.errorOccurred.connect(self.show_error)
        self.sessions_page.editRequested.connect(self.open_session_later)
        self.sessions_page.hitOpened.connect(self.open_search_hit)
        self.sessions_page.notify.connect(self.notify)
        self.sessions_page.processingQueued.connect(lambda _session_id: self.processing.wake())
        self.session_view = SessionView(sessions)
        self.session_view.notify.connect(self.notify)
        self.session_view.changed.connect(lambda _session_id: self.sessions_page.schedule_refresh())
        self.session_view.backRequested.connect(self.show_sessions)
        self.session_view.speakerRoleChanged.connect(self.change_speaker_role)
        self.session_view.consentRecorded.connect(self.record_consent)
        self.session_view.processingQueued.connect(lambda _session_id: self.processing.wake())
        self.session_view.cancelRequested.connect(self.cancel_processing)
        panel = self.session_view.notes_panel
        panel.regenerateRequested.connect(self.regenerate_notes)
        panel.versionRequested.connect(self.show_note_version)
        panel.signRequested.connect(self.sign_note)
        panel.editRequested.connect(lambda: self.edit_note(addendum=False))
        panel.addendumRequested.connect(lambda: self.edit_note(addendum=True))
        panel.flagReviewRequested.connect(self.review_flag)
        self.bridge.progress.connect(self._session_progress)
        self.bridge.progress.connect(self._announce_finished)
        self.templates_page = TemplatesPage(self.templates, user)
        self.templates_page.notify.connect(self.notify)
        self.settings_page = SettingsPage(SettingsService(sessions.ctx, user))
        self.settings_page.notify.connect(self.notify)
        profile = self.settings_page.profile_section
        profile.profileChanged.connect(lambda info: self.therapist_label.setText(info.display_name))
        self.clinic_section = ClinicSection(self.clinic)
        self.settings_page.add_section(self.clinic_section)
        self.stack.addWidget(self.sessions_page)
        self.stack.addWidget(self.session_view)
        self.stack.addWidget(self.templates_page)
        self.stack.addWidget(self.settings_page)
        self.insights_page = InsightsPage(StatsService(sessions.ctx, user))
        self.insights_page.notify.connect(self.notify)
        self.stack.addWidget(self.insights_page)
        self.stack.currentChanged.connect(self._sync_nav)
        self.lock_screen = LockScreen(user.display_name)
        self.lock_screen.unlockRequested.connect(self.unlock)
        self.lock_screen.passcodeChosen.connect(self.choose_passcode_and_unlock)
        self.stack.addWidget(self.lock_screen)
        root.addWidget(self.stack, 1)
        self._page_before_lock: QWidget | None = None
        self.idle_watcher = IdleWatcher(self)
        self.idle_watcher.idle.connect(self.lock)
        self.set_idle_lock_minutes(self.profiles.idle_lock_minutes_sync(user.id))

        self.toasts = ToastOverlay(self)
        self._wire_sync()

    def _build_header(self) -> QFrame:
        header = QFrame()
        header.setObjectName("header")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(header)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        logo = QLabel()
        logo.setPixmap(icon("app").pixmap(30, 30))
        layout.addWidget(logo)
        name = QLabel("TherapyBridge")
        name.setObjectName("appName")
        layout.addWidget(name)
        layout.addSpacing(8)
        self.nav_group = QButtonGroup(self)
        self.nav_group.setExclusive(True)
        self.nav_buttons: dict[str, QPushButton] = {}
        for key, text, shortcut in (
            ("sessions", "Sessions", "Ctrl+1"),
            ("templates", "Templates", "Ctrl+2"),
            ("insights", "Insights", "Ctrl+3"),
            ("settings", "Settings", "Ctrl+,"),
        ):
            button = QPushButton(text)
            button.setObjectName(f"nav_{key}")
            button.setProperty("nav", True)
            button.setCheckable(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setShortcut(QKeySequence(shortcut))
            button.setToolTip(f"{text} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
            button.setAccessibleName(f"{text} page")
            button.clicked.connect(lambda _checked=False, k=key: self.navigate(k))
            self.nav_group.addButton(button)
            self.nav_buttons[key] = button
            layout.addWidget(button)
        self.nav_buttons["sessions"].setChecked(True)
        layout.addStretch(1)
        self.sync_indicator = SyncIndicator()
        layout.addWidget(self.sync_indicator)
        layout.addSpacing(6)
        self.record_button = action_button("  Record", "recordButton", icon("record"))
        self.record_button.setToolTip("Record a session in the room (Ctrl+R)")
        self.record_button.setAccessibleName("Record session")
        self.record_button.clicked.connect(self.start_recording)
        layout.addWidget(self.record_button)
        layout.addSpacing(6)
        self.import_button = action_button("  Import", "importButton", icon("import"))
        self.import_button.setAccessibleName("Import recording")
        self.import_button.setToolTip("Import an audio recording of a session (Ctrl+I)")
        self.import_button.clicked.connect(self.start_import)
        layout.addWidget(self.import_button)
        layout.addSpacing(6)
        avatar = QLabel(initials(self.user.display_name))
        avatar.setObjectName("avatar")
        avatar.setFixedSize(32, 32)
        avatar.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(avatar)
        self.therapist_label = QLabel(self.user.display_name)
        self.therapist_label.setObjectName("therapistName")
        # a long name is elided (the tooltip has it whole) so four pages still fit a 1024-px window
        self.therapist_label.setText(
            self.therapist_label.fontMetrics().elidedText(self.user.display_name, Qt.TextElideMode.ElideRight, 120)
        )
        self.therapist_label.setToolTip(f"Signed in as {self.user.display_name}")
        layout.addWidget(self.therapist_label)
        return header

    # -- idle lock ------------------------------------------------------------------------------------

    def set_idle_lock_minutes(self, minutes: float) -> None:
        self.idle_watcher.set_interval_ms(int(minutes * 60_000))

    @property
    def locked(self) -> bool:
        return self.stack.currentWidget() is self.lock_screen

    def lock(self) -> None:
        """Hide every session behind the lock screen until the passcode is given."""
        if self.locked:
            return
        self._page_before_lock = self.stack.currentWidget()
        if self.import_dialog is not None:
            self.import_dialog.reject()
        if self.processing_dialog is not None:
            self.processing_dialog.hide()  # the session card keeps showing progress
        self.import_flow.hide_views()  # a batch's progress view too (file names can name clients)
        self.import_action.setEnabled(False)
        self.import_button.setEnabled(False)
        self.record_action.setEnabled(False)
        self.record_button.setEnabled(False)
        self.sync_indicator.setEnabled(False)
        for button in self.nav_buttons.values():
            button.setEnabled(False)
        self.lock_screen.set_mode(has_passcode=self.profiles.has_passcode_sync(self.user.id))
        self.lock_screen.reset()
        self.stack.setCurrentWidget(self.lock_screen)

    def unlock(self, passcode: str) -> None:
        spawn(self._unlock(passcode), on_error=self.lock_screen.show_error)

    async def _unlock(self, passcode: str) -> None:
        if await self.profiles.unlock_secrets(self.user.id, passcode):
            self._resume()
        else:
            self.lock_screen.show_error("That passcode is not right.")

    def choose_passcode_and_unlock(self, passcode: str) -> None:
        spawn(self._choose(passcode), on_error=self.lock_screen.show_error)

    async def _choose(self, passcode: str) -> None:
        await asyncio.to_thread(self.profiles.set_passcode_sync, self.user.id, passcode)
        self._resume()

    def _resume(self) -> None:
        self.lock_screen.reset()
        self.stack.setCurrentWidget(self._page_before_lock or self.sessions_page)
        self.import_action.setEnabled(True)
        self.import_button.setEnabled(True)
        self.record_action.setEnabled(True)
        self.record_button.setEnabled(True)
        self.sync_indicator.setEnabled(True)
        for button in self.nav_buttons.values():
            button.setEnabled(True)
        self.idle_watcher.resume()

    # -- feedback -------------------------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        self.toasts.show_error(message)

    def show_success(self, message: str) -> None:
        self.toasts.show_success(message)

    # -- navigation -----------------------------------------------------------------------------------

    async def refresh(self) -> None:
        self.clinic.schedule_refresh()
        await self.sessions_page.refresh()

    def show_sessions(self) -> None:
        self._show_page(self.sessions_page)

    def focus_search(self) -> None:
        """Ctrl+F: the sessions page with the cursor in its search box."""
        if self.locked:
            return
        self.show_sessions()
        self.sessions_page.focus_search()

    def navigate(self, key: str) -> None:
        """Show a top-level page by its key: sessions, templates, insights or settings."""
        pages: dict[str, QWidget] = {
            "sessions": self.sessions_page,
            "templates": self.templates_page,
            "insights": self.insights_page,
            "settings": self.settings_page,
        }
        self._show_page(pages[key])

    def _sync_nav(self, _index: int) -> None:
        current = self.stack.currentWidget()
        if current is None:
            return
        key = {
            self.sessions_page: "sessions",
            self.session_view: "sessions",
            self.templates_page: "templates",
            self.insights_page: "insights",
            self.settings_page: "settings",
        }.get(current)
        if key is not None:
            self.nav_buttons[key].setChecked(True)

    def notify(self, kind: str, message: str) -> None:
        if kind == "error":
            self.show_error(message)
        else:
            self.show_success(message)

    def _show_page(self, page: QWidget) -> None:
        if self.locked:  # nothing shows through the lock; the page is shown once unlocked
            self._page_before_lock = page
        else:
            self.stack.setCurrentWidget(page)

    def open_session_later(self, session_id: object) -> None:
        if isinstance(session_id, uuid.UUID):
            spawn(self.open_session(session_id), on_error=self.show_error)

    async def open_session(self, session_id: uuid.UUID, version: int | None = None, *, show: bool = True) -> None:
        """Load a session into the session view and show it; ``show=False`` refreshes it where it is."""
        info = await self.sessions.get(session_id)
        segments = await self.sessions.transcript(session_id)
        note = await asyncio.to_thread(self._note_or_none, session_id, version)
        flags = await self.notes.risk_flags(session_id)
        templates = await self.templates.list_templates()
        self.session_view.set_content(info, segments, note, flags, templates)
        self.session_view.notes_panel.set_busy(info.status == "generating_notes" or info.status == "queued")
        self.sessions_page.show_info(info)  # the card shows what was just read (the note's state, say)
        if show:
            self._show_page(self.session_view)

    def open_search_hit(self, session_id: object, segment_idx: object) -> None:
        """Open a search hit: the session, its transcript at the matching line."""
        if not isinstance(session_id, uuid.UUID):
            return

        async def run() -> None:
            await self.open_session(session_id)
            if isinstance(segment_idx, int) and not self.session_view.transcript.show_match(segment_idx):
                self.show_error("That line is no longer in the transcript.")

        spawn(run(), on_error=self.show_error)

    def _note_or_none(self, session_id: uuid.UUID, version: int | None) -> Any:
        if version is None:
            return self.notes.latest_or_none_sync(session_id)
        return self.notes.get_sync(session_id, version)

    # -- notes ----------------------------------------------------------------------------------------

    def _session_progress(self, event: object) -> None:
        if not isinstance(event, ProgressEvent) or event.session_id != self.session_view.session_id:
            return
        self.session_view.speaker_actions.show_progress(event)
        panel = self.session_view.notes_panel
        if event.status in ("generating_notes", "queued"):
            panel.set_busy(True, event.progress, event.stage_detail or "Writing notes…")
        elif event.finished:
            panel.set_busy(False)
            on_screen = self.stack.currentWidget() is self.session_view
            if event.error and on_screen:
                self.show_error(event.error)
            if on_screen:  # refreshed where it is; elsewhere a toast offers to open it (never a jump)
                spawn(self.open_session(event.session_id, show=False), on_error=self.show_error)

    def review_flag(self, kind: str, segment_idx: object) -> None:
        """Mark a risk flag of the shown session's latest note reviewed."""
        session_id = self.session_view.session_id
        if session_id is None:
            return
        idx = segment_idx if isinstance(segment_idx, int) else None
        panel = self.session_view.notes_panel

        def failed(message: str) -> None:
            panel.flags_list.review_failed()
            self.show_error(message)

        def done(flags: object) -> None:
            if self.session_view.session_id == session_id and isinstance(flags, list):
                panel.set_flags(flags)

        spawn(self.notes.mark_flag_reviewed(session_id, kind, idx), on_error=failed, on_done=done)

    def _announce_finished(self, event: object) -> None:
        """A session finished processing while the therapist was elsewhere: say so, with a way to open it."""
        if not isinstance(event, ProgressEvent) or not event.finished or event.status == "cancelled":
            return
        if self.session_view.session_id == event.session_id and self.stack.currentWidget() is self.session_view:
            return  # on screen already
        dialog = self.processing_dialog
        if dialog is not None and dialog.isVisible() and dialog.session_id == event.session_id:
            return  # its dialog says so
        card = self.sessions_page.card(event.session_id)
        named = card is not None and (card.info.client_name is not None or card.info.is_anonymous)
        who = card.info.display_client if card is not None and named else "A session"
        session_id = event.session_id
        if event.status == "completed" and (event.stage_detail or "").startswith("Speaker"):  # separated again
            self.toasts.show_message(
                f"{who}: {event.stage_detail}. {event.error or ''}".strip(),
                "error" if event.error else "success",
                action=("Open session", lambda: self.open_session_later(session_id)),
            )
        elif event.status == "completed":
            self.toasts.show_message(
                f"{who}: transcript and note are ready.",
                "success",
                action=("Open session", lambda: self.open_session_later(session_id)),
            )
        elif event.status == "failed":
            self.toasts.show_message(
                f"{who}: processing failed. {event.error or ''}".strip(),
                "error",
                action=("Show", self.show_sessions),
            )

    # -- import and processing ------------------------------------------------------------------------

    def change_speaker_role(self, speaker: str, role: str) -> None:
        session_id = self.session_view.session_id
        if session_id is None:
            return
        spawn(self._change_speaker_role(session_id, speaker, role), on_error=self.show_error)

    async def _change_speaker_role(self, session_id: uuid.UUID, speaker: str, role: str) -> None:
        await self.sessions.set_speaker_role(session_id, speaker, role)
        if self.session_view.session_id == session_id:
            await self.open_session(session_id)
        self.show_success("Speaker role updated.")

    def record_consent(self, method: str) -> None:
        session_id = self.session_view.session_id
        if session_id is not None:
            spawn(self._record_consent(session_id, method), on_error=self.show_error)

    async def _record_consent(self, session_id: uuid.UUID, method: str) -> None:
        await self.sessions.update(session_id, consent_method=method)
        self.processing.wake()
        await self.open_session(session_id)
        await self.sessions_page.refresh()
        self.show_success("Consent recorded; the session is being processed.")

    def start_import(self) -> None:
        if self.import_dialog is not None:
            self.import_dialog.raise_()
            self.import_dialog.activateWindow()
            return
        spawn(self.import_recording(), on_error=self.show_error)

    async def import_recording(self, paths: Sequence[Path] = ()) -> SessionInfo | None:
        """Ask for recordings (ImportDialog): one is imported with a ProcessingDialog, several as a batch."""
        return await self.import_flow.ask_and_import(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.import_flow.drag_enter(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.import_flow.drop(event)

    async def run_import(self, request: ImportRequest) -> SessionInfo | None:
        # Who and when, never the file's name (it may hold a client's name) in a window title.
        when = long_date(request.session_date or date.today())
        dialog = ProcessingDialog(f"{request.client_name or 'Session'} · {when}", parent=self)
        dialog.setWindowTitle("Processing session")
        if self.processing_dialog is not None:
            self.processing_dialog.close()
        self.processing_dialog = dialog
        self.bridge.progress.connect(dialog.apply_event)
        dialog.cancelRequested.connect(self.cancel_processing)
        dialog.openRequested.connect(self.open_session_later)
        dialog.consentRecorded.connect(self.import_flow.record_consent)
        dialog.show()
        loop = asyncio.get_running_loop()

        def on_copy(done: int, total: int) -> None:  # called on the import thread
            loop.call_soon_threadsafe(dialog.set_copy_progress, done, total)

        try:
            info = await self.sessions.import_recording(request, on_copy)
        except DuplicateRecordingError as exc:
            dialog.close()
            return await self._import_duplicate(request, exc)
        except TBError as exc:
            dialog.set_failed(exc.message)
            self.show_error(exc.message)
            return None
        dialog.bind_session(info)
        self.processing.wake()
        self.show_sessions()
        await self.sessions_page.refresh()
        return info

    async def _import_duplicate(self, request: ImportRequest, exc: DuplicateRecordingError) -> SessionInfo | None:
        """The recording is in a session already: open that one, or import it again if the user says so."""
        ask = DuplicateDialog(exc.message, parent=self)
        self.duplicate_dialog = ask
        try:
            await run_dialog(ask)
            choice = ask.choice()
        finally:
            self.duplicate_dialog = None
            ask.deleteLater()
        if choice == AGAIN:
            return await self.run_import(dataclasses.replace(request, allow_duplicate=True))
        if choice == OPEN and isinstance(exc.existing_id, uuid.UUID):
            await self.open_session(exc.existing_id)
        return None

    def cancel_processing(self, session_id: object) -> None:
        if not isinstance(session_id, uuid.UUID):
            return

        def done(cancelled: bool) -> None:
            if not cancelled:
                self.show_error("That session is no longer processing.")

        spawn(self.processing.cancel(session_id), on_error=self.show_error, on_done=done)

    # -- lifecycle ------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        recorder = self.recorder_dialog
        if recorder is not None and recorder.recorder is not None:
            # An unsaved recording is saved as a session first; the window closes once it is.
            event.ignore()
            recorder.saved.connect(lambda _info: self.close())
            recorder.close()
            return
        for dialog in (self.processing_dialog, self.import_dialog):
            if dialog is not None:
                dialog.close()
        self.bridge.detach()
        super().closeEvent(event)
        self.closed.emit()
