"""The main window: the header, the pages and the session view composed from one bundle of services, the
controllers that record, import, sync and lock for it, navigation between the pages, and toasts."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QStackedWidget, QVBoxLayout, QWidget

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.dto import ProgressEvent
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.clinic_link import ClinicLink
from tbdesktop.ui.insights import InsightsPage
from tbdesktop.ui.lock import LockScreen
from tbdesktop.ui.resources import icon
from tbdesktop.ui.session_view import SessionView
from tbdesktop.ui.sessions_page import SessionsPage
from tbdesktop.ui.settings_page import SettingsPage
from tbdesktop.ui.settings_page.clinic import ClinicSection
from tbdesktop.ui.templates import TemplatesPage
from tbdesktop.ui.toasts import ToastOverlay
from tbdesktop.ui.window.header import WindowHeader
from tbdesktop.ui.window.import_controller import ImportController
from tbdesktop.ui.window.lock_controller import LockController
from tbdesktop.ui.window.processing import Processing
from tbdesktop.ui.window.recording_controller import RecordingController
from tbdesktop.ui.window.sync_controller import SyncController


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(
        self,
        services: AppServices,
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
        self.services = services
        self.user = services.user
        self.processing = processing
        self.bridge = ProgressBridge(self)
        self.bridge.attach(processing.add_listener)
        # Clinic sync (the app passes the link its sync loop reports through; without one, sync runs on request)
        self.clinic = clinic if clinic is not None else ClinicLink(services.sync, services.user, parent=self)
        self.setAcceptDrops(True)

        central = QWidget()
        central.setObjectName("centralWidget")
        central.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        root = QVBoxLayout(central)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        self.setCentralWidget(central)
        self.header = WindowHeader(services.user.display_name)
        self.nav_buttons = self.header.nav_buttons
        self.sync_indicator = self.header.sync_indicator
        self.record_button = self.header.record_button
        self.import_button = self.header.import_button
        self.therapist_label = self.header.therapist_label
        root.addWidget(self.header)

        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        self.sessions_page = SessionsPage(services, self.bridge)
        self.session_view = SessionView(services)
        self.templates_page = TemplatesPage(services)
        self.settings_page = SettingsPage(services)
        self.clinic_section = ClinicSection(self.clinic)
        self.settings_page.add_section(self.clinic_section)
        self.insights_page = InsightsPage(services.stats)
        self.lock_screen = LockScreen(services.user.display_name)
        for page in (
            self.sessions_page,
            self.session_view,
            self.templates_page,
            self.settings_page,
            self.insights_page,
            self.lock_screen,
        ):
            self.stack.addWidget(page)
        root.addWidget(self.stack, 1)
        self.toasts = ToastOverlay(self)

        self.lock_control = LockController(
            services.profiles, services.user, self.stack, self.lock_screen, self.sessions_page, self
        )
        self.recordings = RecordingController(
            services.recording,
            services.sessions,
            processing,
            self.sessions_page,
            self,
            notify=self.notify,
            show_sessions=self.show_sessions,
            is_locked=lambda: self.locked,
        )
        self.imports = ImportController(
            services.sessions,
            services.batch_import,
            self.bridge,
            processing,
            self.sessions_page,
            self,
            notify=self.notify,
            open_session=self.open_session,
            open_session_later=self.open_session_later,
            cancel_processing=self.cancel_processing,
            show_sessions=self.show_sessions,
            is_locked=lambda: self.locked,
        )
        self.sync = SyncController(
            self.clinic,
            self.sync_indicator,
            self.clinic_section,
            self.sessions_page,
            self.session_view,
            self,
            notify=self.notify,
            show_sessions=self.show_sessions,
            show_clinic_settings=self.show_clinic_settings,
            session_on_screen=lambda: self.stack.currentWidget() is self.session_view,
        )
        self._add_actions()
        self._wire()

    def _add_actions(self) -> None:
        def add(
            name: str, text: str, shortcut: QKeySequence, slot: Callable[[], object], image: str | None = None
        ) -> QAction:
            action = QAction(icon(image), text, self) if image else QAction(text, self)
            action.setObjectName(name)
            action.setShortcut(shortcut)
            action.triggered.connect(slot)
            self.addAction(action)
            return action

        self.import_action = add(
            "importAction", "Import recording…", QKeySequence("Ctrl+I"), self.imports.start_import, "import"
        )
        self.record_action = add(
            "recordAction", "Record session…", QKeySequence("Ctrl+R"), self.recordings.start_recording, "record"
        )
        self.search_action = add(
            "searchAction", "Search sessions", QKeySequence(QKeySequence.StandardKey.Find), self.focus_search
        )
        # Quit closes the window the usual way, so a recording in progress is saved first (closeEvent).
        self.quit_action = add("quitAction", "Quit TherapyBridge", QKeySequence("Ctrl+Q"), self.close)
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)

    def _wire(self) -> None:
        header = self.header
        header.navRequested.connect(self.navigate)
        header.recordRequested.connect(self.recordings.start_recording)
        header.importRequested.connect(self.imports.start_import)
        page = self.sessions_page
        page.importRequested.connect(self.imports.start_import)
        page.recordRequested.connect(self.recordings.start_recording)
        page.openRequested.connect(self.open_session_later)
        page.cancelRequested.connect(self.cancel_processing)
        page.hitOpened.connect(self.open_search_hit)
        page.notify.connect(self.notify)
        page.processingQueued.connect(lambda _session_id: self.processing.wake())
        view = self.session_view
        view.notify.connect(self.notify)
        view.changed.connect(lambda _session_id: self.sessions_page.schedule_refresh())
        view.backRequested.connect(self.show_sessions)
        view.processingQueued.connect(lambda _session_id: self.processing.wake())
        view.cancelRequested.connect(self.cancel_processing)
        self.bridge.progress.connect(self._progress)
        self.templates_page.notify.connect(self.notify)
        self.settings_page.notify.connect(self.notify)
        self.settings_page.profile_section.profileChanged.connect(
            lambda info: self.header.set_display_name(info.display_name)
        )
        self.insights_page.notify.connect(self.notify)
        self.stack.currentChanged.connect(self._sync_nav)
        self.lock_control.lockedChanged.connect(self._locked_changed)

    async def start(self) -> None:
        """Once shown: the profile's idle lock is read and started."""
        await self.lock_control.start()

    # -- the idle lock --------------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self.lock_control.locked

    def _locked_changed(self, locked: bool) -> None:
        if locked:
            self.imports.hide_views()
        for action in (self.import_action, self.record_action):
            action.setEnabled(not locked)
        self.header.set_actions_enabled(not locked)

    # -- feedback: every room's notify(kind, message) ends in a toast -----------------------------------

    def show_error(self, message: str) -> None:
        self.toasts.show_error(message)

    def show_success(self, message: str) -> None:
        self.toasts.show_success(message)

    def notify(self, kind: str, message: str) -> None:
        if kind == "error":
            self.show_error(message)
        else:
            self.show_success(message)

    # -- navigation -----------------------------------------------------------------------------------

    async def refresh(self) -> None:
        self.clinic.schedule_refresh()
        await self.sessions_page.refresh()

    def show_sessions(self) -> None:
        self.lock_control.show_page(self.sessions_page)

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
        self.lock_control.show_page(pages[key])

    def show_clinic_settings(self) -> None:
        self.navigate("settings")
        self.settings_page.show_section(self.clinic_section)

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
            self.header.set_current(key)

    # -- sessions -------------------------------------------------------------------------------------

    def open_session_later(self, session_id: uuid.UUID) -> None:
        spawn(self.open_session(session_id), on_error=self.show_error)

    async def open_session(self, session_id: uuid.UUID, version: int | None = None) -> None:
        """Load a session into the session view and show it."""
        info = await self.session_view.open(session_id, version)
        self.sessions_page.show_info(info)  # the card shows what was just read (the note's state, say)
        self.lock_control.show_page(self.session_view)

    def open_search_hit(self, session_id: uuid.UUID, segment_idx: int) -> None:
        """Open a search hit: the session, its transcript at the matching line (-1: the hit is not a line)."""

        async def run() -> None:
            await self.open_session(session_id)
            if segment_idx >= 0 and not self.session_view.show_match(segment_idx):
                self.show_error("That line is no longer in the transcript.")

        spawn(run(), on_error=self.show_error)

    def cancel_processing(self, session_id: uuid.UUID) -> None:
        def done(cancelled: bool) -> None:
            if not cancelled:
                self.show_error("That session is no longer processing.")

        spawn(self.processing.cancel(session_id), on_error=self.show_error, on_done=done)

    def _progress(self, event: ProgressEvent) -> None:
        self.session_view.on_progress(event)
        self._announce_finished(event)

    def _announce_finished(self, event: ProgressEvent) -> None:
        """A session finished processing while the therapist was elsewhere: say so, with a way to open it."""
        if not event.finished or event.status == "cancelled":
            return
        if self.session_view.session_id == event.session_id and self.stack.currentWidget() is self.session_view:
            return  # on screen already
        dialog = self.imports.processing_dialog
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

    # -- lifecycle ------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        self.imports.drag_enter(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.imports.drop(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        # An unsaved recording is saved as a session first; the window closes once it is.
        if self.recordings.save_before_close(self.close):
            event.ignore()
            return
        self.imports.close_views()
        self.bridge.detach()
        super().closeEvent(event)
        self.closed.emit()
