"""The window's link to clinic sync: the sync service, the background sync loop and the signed-in profile.

The loop runs on its own thread; what it reports is re-emitted here as Qt signals, which Qt delivers on the GUI
thread (the signals are emitted from the sync thread, so the connections are queued). Widgets never call the
service on the GUI thread: every call goes through ``asyncio.to_thread``."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from PySide6.QtCore import QObject, Signal

from tbdesktop.policy import Policy
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.sync.service import SyncAccountInfo, SyncReport, SyncService, SyncStatus
from tbdesktop.ui.aio import spawn

log = logging.getLogger(__name__)

T = TypeVar("T")


class SyncTrigger(Protocol):
    """What the window needs from the background sync loop (``services.sync.loop.SyncLoop``)."""

    def sync_now(self) -> None: ...


class ClinicLink(QObject):
    """``statusChanged`` carries the signed-in profile's SyncStatus; ``reportArrived`` a SyncReport after each
    completed sync. Both may be emitted from the sync thread."""

    statusChanged = Signal(SyncStatus)
    reportArrived = Signal(SyncReport)

    def __init__(
        self,
        service: SyncService,
        user: UserInfo,
        loop: SyncTrigger | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.user = user
        self.loop = loop
        self.last_status: SyncStatus | None = None
        self.statusChanged.connect(self._remember)

    @property
    def user_id(self) -> uuid.UUID:
        return self.user.id

    @property
    def policy(self) -> Policy:
        """The clinic's managed settings on this computer (its ``clinic_server`` is the one server to join)."""
        return self.service.ctx.settings.policy

    def _remember(self, status: SyncStatus) -> None:
        self.last_status = status

    # -- called by the sync loop on its thread ---------------------------------------------------------------

    def loop_status(self, _status: SyncStatus) -> None:
        """The loop's status covers every profile joined here; the window shows the signed-in one's."""
        self.statusChanged.emit(self.service.status(self.user.id))

    def loop_report(self, report: SyncReport) -> None:
        self.reportArrived.emit(report)

    # -- called on the GUI thread ---------------------------------------------------------------------------

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking service method, run off the event loop. The arguments travel in a closure: the executor logs
        (at debug level) what it is handed, and a password must never be among it."""

        def run() -> T:
            return fn(*args, **kwargs)

        return await asyncio.to_thread(run)

    async def refresh(self) -> SyncStatus:
        """Reads the state now and tells every widget that shows it."""
        status = await self.call(self.service.status, self.user.id)
        self.statusChanged.emit(status)
        return status

    def schedule_refresh(self) -> None:
        spawn(self.refresh(), on_error=lambda _message: None)  # the next loop report says it again

    async def account(self) -> SyncAccountInfo | None:
        return await self.call(self.service.account, self.user.id)

    async def ca_file(self) -> str | None:
        """The CA file the profile's clinic connection verifies the server with."""
        info = await self.account()
        return info.ca_file if info is not None else None

    def sync_now(self) -> None:
        """Sync as soon as possible: through the background loop, or (without one) a single sync off the loop."""
        if self.loop is not None:
            self.loop.sync_now()
            return
        spawn(self._sync_once(), on_error=lambda _message: self.schedule_refresh())

    async def _sync_once(self) -> None:
        report = await self.call(self.service.sync_now, self.user.id)
        self.reportArrived.emit(report)
        await self.refresh()
