"""The processing runner on its own thread and asyncio loop, for the window.

The window's asyncio loop runs inside Qt's (qasync). Whenever Qt processes events outside that loop's
``run_forever`` — a nested event loop, a ``processEvents`` — qasync still delivers the asyncio callbacks scheduled
on it, but with no running loop; a runner task stepped then fails in ``asyncio.to_thread`` ("no running event
loop") and the queue stops: a Regenerate that never ends. On a thread of its own the runner's loop is always the
running one, whatever the window's loop does. Its progress events are delivered on that thread (the window's bridge
re-emits them as a queued Qt signal); ``wake`` and ``cancel`` are handed over thread-safely.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.processing.runner import ProcessingRunner

log = logging.getLogger(__name__)

T = TypeVar("T")


class RunnerThread:
    """``ProcessingRunner``'s surface for the window (start, stop, wake, cancel, listeners), hosted on a thread."""

    def __init__(self, runner: ProcessingRunner) -> None:
        self.runner = runner
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the processing thread has not started")
        return self._loop

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Runs ``coro`` on the processing loop; the caller awaits the result on its own loop."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def start(self, *, warm_up: bool = True) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="tb-processing", daemon=True)
            self._thread.start()
            self._ready.wait()
        await self._call(self.runner.start(warm_up=warm_up))

    async def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            await self._call(self.runner.stop())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join, 30)
            self._thread = None
            self._loop = None
            self._ready.clear()

    def wake(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.runner.wake)

    async def cancel(self, session_id: uuid.UUID) -> bool:
        return await self._call(self.runner.cancel(session_id))

    async def run_until_idle(self) -> int:
        return await self._call(self.runner.run_until_idle())

    def add_listener(self, listener: Callable[[ProgressEvent], None]) -> Callable[[], None]:
        """``listener`` is called on the processing thread."""
        return self.runner.add_listener(listener)

    @property
    def busy(self) -> bool:
        return self.runner.busy

    @property
    def worker_pid(self) -> int | None:
        return self.runner.worker_pid
