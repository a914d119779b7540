"""Clinic sync for the window: the header's indicator and its menu, the sign-in dialog, Settings → Clinic, and what
a sync brings in (the sessions list and the open session are read again; the open session's conflicts too)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from tbdesktop.errors import NotFoundError
from tbdesktop.services.sync.service import SyncReport
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.clinic_link import ClinicLink
from tbdesktop.ui.clinic_signin import sign_in_to_clinic
from tbdesktop.ui.session_view import SessionView
from tbdesktop.ui.settings_page.clinic import ClinicSection
from tbdesktop.ui.sync_indicator import SyncIndicator
from tbdesktop.ui.window.sessions_list import SessionsList

STATUS_POLL_MS = 60_000  # changes waiting are counted again this often (the loop reports after each sync)


class SyncController(QObject):
    def __init__(
        self,
        link: ClinicLink,
        indicator: SyncIndicator,
        clinic_section: ClinicSection,
        sessions_page: SessionsList,
        session_view: SessionView,
        window: QWidget,
        *,
        notify: Callable[[str, str], None],
        show_sessions: Callable[[], None],
        show_clinic_settings: Callable[[], None],
        session_on_screen: Callable[[], bool],
    ) -> None:
        super().__init__(window)
        self.link = link
        self.sessions_page = sessions_page
        self.session_view = session_view
        self.window = window
        self.notify = notify
        self.show_sessions = show_sessions
        self.session_on_screen = session_on_screen
        link.statusChanged.connect(indicator.set_status)
        link.reportArrived.connect(self._sync_report)
        indicator.syncNowRequested.connect(link.sync_now)
        indicator.settingsRequested.connect(show_clinic_settings)
        indicator.signInRequested.connect(self.clinic_sign_in)
        clinic_section.notify.connect(notify)
        clinic_section.left.connect(lambda _wipe: self.refresh_after_sync())
        session_view.changed.connect(lambda _session_id: link.schedule_refresh())
        self.sync_timer = QTimer(self)
        self.sync_timer.setInterval(STATUS_POLL_MS)
        self.sync_timer.timeout.connect(link.schedule_refresh)
        self.sync_timer.start()

    def clinic_sign_in(self) -> None:
        spawn(self._clinic_sign_in(), on_error=lambda message: self.notify("error", message))

    async def _clinic_sign_in(self) -> None:
        accepted, notice = await sign_in_to_clinic(self.link, self.window)
        if notice is not None:
            self.notify("error", notice)
        elif accepted:
            self.notify("success", "Signed in to the clinic.")

    def _sync_report(self, report: SyncReport) -> None:
        if self.session_view.session_id is not None:
            self.session_view.conflict_panel.reload()
        if report.pulled or report.deleted:
            self.refresh_after_sync()

    def refresh_after_sync(self) -> None:
        """Rows came from the clinic server (or left with the profile's data): read the list and the open session
        again, as after processing."""
        self.sessions_page.schedule_refresh()
        if self.session_view.session_id is not None and self.session_on_screen():
            spawn(self._reload_open_session(), on_error=lambda message: self.notify("error", message))

    async def _reload_open_session(self) -> None:
        try:
            await self.session_view.reload()
        except NotFoundError:
            self.session_view.release()
            self.show_sessions()
            self.notify("error", "This session was deleted on another workstation.")
