"""Running service coroutines from widgets on the qasync loop, with errors routed to the user."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtWidgets import QDialog

from tbdesktop.errors import TBError
from tbdesktop.ui.crash import safe_traceback

log = logging.getLogger(__name__)

T = TypeVar("T")
ErrorSink = Callable[[str], None]

UNEXPECTED = "Something went wrong. Please try again; if it keeps happening, contact your IT support."

# Tasks are kept referenced until they finish (the loop holds only weak references).
_TASKS: set[asyncio.Task[Any]] = set()
# Where an unexpected error of a task nobody waits on goes (the app's ErrorReporter).
_unexpected: Callable[[BaseException], None] | None = None


def set_unexpected_error_handler(handler: Callable[[BaseException], None] | None) -> None:
    global _unexpected
    _unexpected = handler


def _loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.get_event_loop_policy().get_event_loop()


def user_message(exc: BaseException) -> str:
    if isinstance(exc, TBError):
        return exc.message
    return UNEXPECTED


def spawn(
    coro: Coroutine[Any, Any, T],
    on_error: ErrorSink | None = None,
    on_done: Callable[[T], None] | None = None,
) -> asyncio.Task[T] | None:
    """Schedule `coro` on the GUI loop; a TBError's message (or a generic one) goes to `on_error`.

    Returns None when there is no loop any more (a timer or signal firing while the app shuts down): the work
    is dropped, as nobody is left to show its result to."""
    try:
        loop = _loop()
    except RuntimeError:
        coro.close()
        return None
    task = loop.create_task(coro)
    _TASKS.add(task)

    def finished(t: asyncio.Task[T]) -> None:
        _TASKS.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None:
            if not isinstance(exc, TBError):
                if on_error is None and _unexpected is not None:
                    _unexpected(exc)  # logged and shown in a dialog
                else:
                    log.error(
                        "background task failed",
                        extra={"error_type": type(exc).__name__, "where": safe_traceback(exc)},
                    )
            if on_error is not None:
                on_error(user_message(exc))
            return
        if on_done is not None:
            on_done(t.result())

    task.add_done_callback(finished)
    return task


async def run_dialog(dialog: QDialog) -> int:
    """Show a dialog window-modally and wait for its result without a nested event loop."""
    future: asyncio.Future[int] = _loop().create_future()

    def done(result: int) -> None:
        if not future.done():
            future.set_result(result)

    dialog.finished.connect(done)
    dialog.open()
    try:
        return await future
    finally:
        dialog.finished.disconnect(done)


async def accepted(dialog: QDialog, hold: Callable[[QDialog | None], None]) -> bool:
    """Run ``dialog`` to its end: True when accepted. ``hold`` hears the open dialog (so a room can say which one
    is showing), then None; the dialog is freed after."""
    hold(dialog)
    try:
        return await run_dialog(dialog) == QDialog.DialogCode.Accepted
    finally:
        hold(None)
        dialog.deleteLater()


def spawn_one_at_a_time(
    coro: Coroutine[Any, Any, Any], *, busy: bool, set_busy: Callable[[bool], None], on_error: ErrorSink | None
) -> None:
    """A widget's actions one at a time: dropped while one runs, the widget busy until it ends."""
    if busy:
        coro.close()
        return
    set_busy(True)

    async def guarded() -> None:
        try:
            await coro
        finally:
            set_busy(False)

    spawn(guarded(), on_error=on_error)
