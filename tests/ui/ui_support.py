"""Helpers shared by the UI tests (a module of its own so test files can import it by a unique name)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import uuid

    from pytestqt.qtbot import QtBot

    from tbdesktop.services.bundle import AppServices
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.dto import ProgressEvent, UserInfo
    from tbdesktop.services.sessions import SessionService
    from tbdesktop.ui.clinic_link import ClinicLink
    from tbdesktop.ui.session_view import SessionView
    from tbdesktop.ui.window.main_window import MainWindow
    from tbdesktop.ui.window.processing import Processing

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACT_DIR = REPO_ROOT / "test-artifacts"
SCREENSHOT_DIR = ARTIFACT_DIR / "screenshots"


class AsyncDriver:
    """Runs coroutines on the qasync loop; the Qt event loop turns while they wait."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._driving: set[asyncio.Future[Any]] = set()  # the tasks `run` is driving now: the test's own

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        task = asyncio.ensure_future(coro, loop=self.loop)
        driver = asyncio.ensure_future(asyncio.wait_for(task, timeout), loop=self.loop)
        self._driving = {task, driver}
        try:
            return self.loop.run_until_complete(driver)
        finally:
            self._driving = set()

    async def settled(self, timeout: float = 30.0) -> None:
        """Until the work the widgets started has finished: no task left on the loop but the test's own, and the
        events Qt has posted (layout requests, deferred updates) delivered."""
        from PySide6.QtCore import QCoreApplication

        own = {*self._driving, asyncio.current_task()}

        def idle() -> bool:
            QCoreApplication.sendPostedEvents()
            return all(t.done() or t in own for t in asyncio.all_tasks(self.loop))

        await self.until(idle, timeout, "the widgets' background work to finish")

    @staticmethod
    async def until(predicate: Callable[[], object], timeout: float = 30.0, message: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message or predicate}")
            await asyncio.sleep(0.02)


def services_support() -> Any:
    """tests/services/tests_support.py, loaded by file (it is on the import path only when service tests run)."""
    import importlib.util
    import sys

    if "tests_support" not in sys.modules:
        path = REPO_ROOT / "tests" / "services" / "tests_support.py"
        spec = importlib.util.spec_from_file_location("tests_support", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["tests_support"] = module
        spec.loader.exec_module(module)
    return sys.modules["tests_support"]


def view_services(sessions: SessionService) -> AppServices:
    """The services a session view gets, sharing ``sessions`` (so a test can patch it)."""
    import dataclasses

    from tbdesktop.services.bundle import AppServices

    return dataclasses.replace(AppServices.compose(sessions.ctx, sessions.user), sessions=sessions)


def open_session_view(qtbot: QtBot, sessions: SessionService) -> SessionView:
    """The session view, shown at a desktop size."""
    from tbdesktop.ui.session_view import SessionView

    widget = SessionView(view_services(sessions))
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    return widget


async def show_session(view: SessionView, sessions: SessionService, session_id: uuid.UUID) -> None:
    """Open a session in the view (as the main window does), then wait for the recording to be ready."""
    info = await view.open(session_id)
    if info.recording_available:
        await AsyncDriver.until(lambda: view.player.loaded and view.player.duration_ms > 0, message="the recording")


class QuietRunner:
    """The processing runner's face to the window where no job runs: it counts wake-ups, and ``report`` sends
    an event the way the runner reports its progress."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[ProgressEvent], None]] = []
        self.woken = 0

    def add_listener(self, listener: Callable[[ProgressEvent], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def wake(self) -> None:
        self.woken += 1

    async def cancel(self, session_id: uuid.UUID) -> bool:
        return True

    def report(self, event: ProgressEvent) -> None:
        for listener in list(self.listeners):
            listener(event)


def make_window(
    qtbot: QtBot,
    ctx: AppContext,
    user: UserInfo,
    processing: Processing,
    *,
    size: tuple[int, int] | None = None,
    clinic: ClinicLink | None = None,
    **parts: Any,
) -> MainWindow:
    """The main window as the app composes it (one bundle of services for ``user``), shown; ``parts`` replace
    services of the bundle (``sessions=…``)."""
    import dataclasses

    from tbdesktop.services.bundle import AppServices
    from tbdesktop.ui.window.main_window import MainWindow

    services = dataclasses.replace(AppServices.compose(ctx, user), **parts)
    window = MainWindow(services, processing, clinic=clinic)
    qtbot.addWidget(window)
    if size is not None:
        window.resize(*size)
    window.show()
    return window
