"""The Sessions page's controller: turns what the user asks on the page (delete, reassign, retry, export, search,
refresh) into service calls, showing a change at once and rolling it back when the service refuses it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from PySide6.QtCore import QObject, Signal, SignalInstance
from PySide6.QtWidgets import QDialog, QWidget

from tbdesktop.errors import TBError
from tbdesktop.services.bundle import AppServices
from tbdesktop.services.dto import SessionInfo
from tbdesktop.services.search import MAX_LIMIT, SearchHit, SearchService
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT
from tbdesktop.ui.aio import accepted, spawn, user_message
from tbdesktop.ui.export_menu import NoteExporter
from tbdesktop.ui.sessions_page.confirm_delete import (
    confirm_delete_recording,
    confirm_delete_session,
    confirm_delete_transcript,
)
from tbdesktop.ui.sessions_page.reassign_dialog import ReassignDialog

log = logging.getLogger(__name__)

T = TypeVar("T")


class SessionsView(Protocol):
    """What the controller needs from the Sessions page: the requests it answers and how it shows the outcome."""

    @property
    def searchRequested(self) -> SignalInstance: ...

    @property
    def deleteRecordingRequested(self) -> SignalInstance: ...

    @property
    def deleteTranscriptRequested(self) -> SignalInstance: ...

    @property
    def deleteSessionRequested(self) -> SignalInstance: ...

    @property
    def reassignRequested(self) -> SignalInstance: ...

    @property
    def retryRequested(self) -> SignalInstance: ...

    @property
    def exportRequested(self) -> SignalInstance: ...

    def set_sessions(self, sessions: list[SessionInfo]) -> None: ...

    def searching(self) -> bool: ...

    def run_search(self) -> None: ...

    def show_search(self, hits: list[SearchHit] | None) -> None: ...

    def shown_info(self, session_id: uuid.UUID) -> SessionInfo | None: ...

    def close_menu(self) -> None: ...

    def hold(self, session_id: uuid.UUID, shown: SessionInfo | None) -> None: ...

    def release(self, session_id: uuid.UUID) -> None: ...

    def settle(self, session_id: uuid.UUID, result: SessionInfo | None, *, deleted: bool) -> None: ...


class SessionsController(QObject):
    """Connected to the page's requests; tells the page what to show. ``notify`` (kind "success" | "error",
    message) is the one way out for outcomes and errors; ``processingQueued`` says a retry queued a session.
    ``parent`` (the page's widget) owns the controller and its dialogs."""

    notify = Signal(str, str)
    processingQueued = Signal(uuid.UUID)

    def __init__(self, services: AppServices, page: SessionsView, parent: QWidget) -> None:
        super().__init__(parent)
        self.services = services
        self.page = page
        self._parent = parent
        self.dialog: QDialog | None = None  # the confirmation or client picker on screen
        self._search_generation = 0
        # Copy, export and print a session's latest note from its card's menu.
        self.exporter = NoteExporter(services.export, parent)
        self.exporter.notify.connect(self.notify)
        page.searchRequested.connect(self.search)
        page.deleteRecordingRequested.connect(lambda sid: self._start(sid, self._delete_recording))
        page.deleteTranscriptRequested.connect(lambda sid: self._start(sid, self._delete_transcript))
        page.deleteSessionRequested.connect(lambda sid: self._start(sid, self._delete_session))
        page.reassignRequested.connect(lambda sid: self._start(sid, self._reassign))
        page.retryRequested.connect(lambda sid: self._start(sid, self._retry))
        page.exportRequested.connect(self.exporter.export_session)

    @property
    def search_service(self) -> SearchService:
        return self.services.search

    def _error(self, message: str) -> None:
        self.notify.emit("error", message)

    # -- loading and searching --------------------------------------------------------------------------

    async def refresh(self) -> None:
        self.page.set_sessions(await self.services.sessions.list_sessions())
        if self.page.searching():
            self.page.run_search()

    def schedule_refresh(self) -> None:
        spawn(self.refresh(), on_error=self._error)

    def search(self, query: str) -> None:
        """Search the typed words off the UI thread; results of an older query are dropped."""
        self._search_generation += 1
        if not query:
            self.page.show_search(None)
            return
        spawn(self._search(query, self._search_generation), on_error=self._error)

    async def _search(self, query: str, generation: int) -> None:
        hits = await self.services.search.search(query, limit=MAX_LIMIT)
        if generation == self._search_generation:
            self.page.show_search(hits)

    # -- changes: shown at once, rolled back when refused -------------------------------------------------

    def _start(
        self, session_id: uuid.UUID, flow: Callable[[SessionInfo], Coroutine[Any, Any, None]]
    ) -> asyncio.Task[None] | None:
        info = self.page.shown_info(session_id)
        if info is None:
            return None
        self.page.close_menu()
        return spawn(flow(info), on_error=self._error)

    async def _confirm(self, dialog: QDialog) -> bool:
        return await accepted(dialog, self._hold)

    def _hold(self, dialog: QDialog | None) -> None:
        self.dialog = dialog

    async def _change(
        self,
        info: SessionInfo,
        shown: SessionInfo | None,
        call: Awaitable[T],
        success: str | Callable[[T], str],
    ) -> T | None:
        """Show `shown` for the session at once (None hides it), await the service, then keep its answer or
        put the session back as it was; a toast says which. Returns the service's answer, None when refused."""
        self.page.hold(info.id, shown)
        try:
            result = await call
        except BaseException as exc:
            self.page.release(info.id)
            if not isinstance(exc, Exception):
                raise
            if not isinstance(exc, TBError):
                log.error("session change failed", exc_info=exc, extra={"session_id": str(info.id)})
            self._error(user_message(exc))
            return None
        self.page.settle(info.id, result if isinstance(result, SessionInfo) else None, deleted=shown is None)
        self.notify.emit("success", success if isinstance(success, str) else success(result))
        return result

    async def _delete_recording(self, info: SessionInfo) -> None:
        if not await self._confirm(confirm_delete_recording(info, self._parent)):
            return
        shown = replace(info, recording_available=False, recording_deleted_at=datetime.now(UTC))
        call = self.services.sessions.delete_recording(info.id)
        await self._change(info, shown, call, "Recording deleted. The transcript and notes stay.")

    async def _delete_transcript(self, info: SessionInfo) -> None:
        if not await self._confirm(confirm_delete_transcript(info, self._parent)):
            return
        shown = replace(info, transcript_deleted_at=datetime.now(UTC))
        stays = "The recording and notes stay." if info.recording_available else "The notes stay."
        call = self.services.sessions.delete_transcript(info.id)
        await self._change(info, shown, call, f"Transcript deleted. {stays}")

    async def _delete_session(self, info: SessionInfo) -> None:
        if not await self._confirm(confirm_delete_session(info, self._parent)):
            return
        await self._change(info, None, self.services.sessions.delete_session(info.id), "Session deleted.")

    async def _reassign(self, info: SessionInfo) -> None:
        clients = await self.services.sessions.list_clients()
        dialog = ReassignDialog(info, clients, self._parent)
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
            client_id = (await self.services.sessions.create_client(name)).id
        return await self.services.sessions.reassign(session_id, client_id=client_id)

    async def _retry(self, info: SessionInfo) -> None:
        shown = replace(
            info, status="queued", progress=0, stage_detail="Waiting to start", error=None, eta_seconds=None
        )

        def words(result: SessionInfo) -> str:
            if result.stage_detail == AWAITING_CONSENT:
                return "The session will be processed once the client's consent is recorded."
            return "Processing queued again."

        result = await self._change(info, shown, self.services.sessions.retry(info.id), words)
        if result is not None and result.stage_detail != AWAITING_CONSENT:
            self.processingQueued.emit(info.id)
