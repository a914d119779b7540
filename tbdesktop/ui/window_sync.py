"""The window's clinic sync: the header's indicator and its menu, the sign-in dialog, Settings → Clinic, and what a
sync brings in (the sessions list and the open session are read again; the open session's conflicts too)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from tbdesktop.errors import NotFoundError
from tbdesktop.services.sync.service import SyncReport
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.clinic_signin import sign_in_to_clinic

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStackedWidget

    from tbdesktop.ui.clinic_link import ClinicLink
    from tbdesktop.ui.session_view import SessionView
    from tbdesktop.ui.sessions_page import SessionsPage
    from tbdesktop.ui.settings_page import SettingsPage
    from tbdesktop.ui.settings_page.clinic import ClinicSection
    from tbdesktop.ui.sync_indicator import SyncIndicator

STATUS_POLL_MS = 60_000  # changes waiting are counted again this often (the loop reports after each sync)


class SyncActions:
    """Mixed into MainWindow, which provides the link, the indicator, the pages and the feedback methods."""

    if TYPE_CHECKING:
        clinic: ClinicLink
        sync_indicator: SyncIndicator
        clinic_section: ClinicSection
        session_view: SessionView
        sessions_page: SessionsPage
        settings_page: SettingsPage
        stack: QStackedWidget

        def navigate(self, key: str) -> None: ...

        def notify(self, kind: str, message: str) -> None: ...

        def show_sessions(self) -> None: ...

        def show_error(self, message: str) -> None: ...

        def show_success(self, message: str) -> None: ...

    def _wire_sync(self) -> None:
        link = self.clinic
        link.statusChanged.connect(self.sync_indicator.set_status)
        link.reportArrived.connect(self._sync_report)
        self.sync_indicator.syncNowRequested.connect(link.sync_now)
        self.sync_indicator.settingsRequested.connect(self.show_clinic_settings)
        self.sync_indicator.signInRequested.connect(self.clinic_sign_in)
        self.clinic_section.notify.connect(self.notify)
        self.clinic_section.left.connect(lambda _wipe: self.refresh_after_sync())
        self.session_view.changed.connect(lambda _session_id: link.schedule_refresh())
        self.sync_timer = QTimer(cast(QWidget, self))
        self.sync_timer.setInterval(STATUS_POLL_MS)
        self.sync_timer.timeout.connect(link.schedule_refresh)
        self.sync_timer.start()

    def show_clinic_settings(self) -> None:
        self.navigate("settings")
        self.settings_page.show_section(self.clinic_section)

    def clinic_sign_in(self) -> None:
        spawn(self._clinic_sign_in(), on_error=self.show_error)

    async def _clinic_sign_in(self) -> None:
        accepted, notice = await sign_in_to_clinic(self.clinic, cast(QWidget, self))
        if notice is not None:
            self.show_error(notice)
        elif accepted:
            self.show_success("Signed in to the clinic.")

    def _sync_report(self, report: object) -> None:
        if not isinstance(report, SyncReport):
            return
        if self.session_view.session_id is not None:
            self.session_view.conflict_panel.reload()
        if report.pulled or report.deleted:
            self.refresh_after_sync()

    def refresh_after_sync(self) -> None:
        """Rows came from the clinic server (or left with the profile's data): read the list and the open session
        again, as after processing."""
        self.sessions_page.schedule_refresh()
        if self.session_view.session_id is not None and self.stack.currentWidget() is self.session_view:
            spawn(self._reload_open_session(), on_error=self.show_error)

    async def _reload_open_session(self) -> None:
        try:
            await self.session_view.reload()
        except NotFoundError:
            self.session_view.release()
            self.show_sessions()
            self.show_error("This session was deleted on another workstation.")
