"""Unexpected errors anywhere in the GUI: logged without their message (it may quote a transcript or a name)
and shown in a dialog, while the app keeps running."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)

MESSAGE = (
    "Something unexpected went wrong. Your sessions are safe and the app keeps running; if this keeps "
    "happening, contact your IT support with the time it happened (the details are in the log)."
)


def safe_traceback(exc: BaseException) -> str:
    """Where it happened — the error's type and its frames (file, line, function) — without its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " < ".join(f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}" for frame in reversed(frames))
    return f"{type(exc).__name__} at {where or 'unknown'}"


class ErrorReporter(QObject):
    """Installs itself as ``sys.excepthook``, ``threading.excepthook`` and the loop's exception handler."""

    _reported = Signal(str)  # crosses from any thread to the GUI thread

    def __init__(self, parent_window: Callable[[], QWidget | None] = lambda: None) -> None:
        super().__init__()
        self._parent_window = parent_window
        self.dialog: QMessageBox | None = None
        self.count = 0
        self._reported.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self._previous: Any = None

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._previous = sys.excepthook
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_hook
        if loop is not None:
            loop.set_exception_handler(self._loop_handler)

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook = self._previous
        threading.excepthook = threading.__excepthook__

    def report(self, exc: BaseException) -> None:
        self.count += 1
        log.error("unexpected error", extra={"error_type": type(exc).__name__, "where": safe_traceback(exc)})
        self._reported.emit(type(exc).__name__)

    def _excepthook(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        if exc.__traceback__ is None:
            exc = exc.with_traceback(tb)
        self.report(exc)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self.report(args.exc_value)

    def _loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            self.report(exc)
        else:
            log.error("event loop error", extra={"error_type": "none"})

    def _show(self, _error_type: str) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            return  # one dialog at a time; the log has every occurrence
        box = QMessageBox(QMessageBox.Icon.Warning, "TherapyBridge", MESSAGE, QMessageBox.StandardButton.Ok)
        box.setObjectName("unexpectedErrorDialog")
        parent = self._parent_window()
        if parent is not None:
            box.setParent(parent, box.windowFlags())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.destroyed.connect(self._forget)
        self.dialog = box
        QTimer.singleShot(0, box.open)

    def _forget(self) -> None:
        self.dialog = None
