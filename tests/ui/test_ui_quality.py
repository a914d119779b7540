"""Cross-cutting qualities of the window: unexpected errors are reported (without PHI) and never end the app."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from ui_support import AsyncDriver

from tbdesktop.ui.aio import set_unexpected_error_handler, spawn
from tbdesktop.ui.crash import ErrorReporter, safe_traceback

SECRET = "Jordan Lee said the word pineapple"


def _dialogs() -> list[Any]:
    return [w for w in QApplication.topLevelWidgets() if w.objectName() == "unexpectedErrorDialog" and w.isVisible()]


def test_unexpected_errors_show_a_dialog_and_log_no_message(aio: AsyncDriver, caplog: Any) -> None:
    reporter = ErrorReporter()
    reporter.install(aio.loop)
    set_unexpected_error_handler(reporter.report)
    caplog.set_level(logging.INFO)
    try:

        def broken_slot() -> None:
            raise RuntimeError(SECRET)

        async def broken_task() -> None:
            await asyncio.sleep(0)
            raise KeyError(SECRET)

        async def scenario() -> None:
            QTimer.singleShot(0, broken_slot)  # an exception in a Qt slot
            await AsyncDriver.until(lambda: reporter.count == 1, message="slot error reported")
            await AsyncDriver.until(lambda: len(_dialogs()) == 1, message="error dialog")
            spawn(broken_task())  # a background task nobody waits on
            await AsyncDriver.until(lambda: reporter.count == 2, message="task error reported")
            assert len(_dialogs()) == 1  # one dialog at a time
            _dialogs()[0].accept()
            await AsyncDriver.until(lambda: not _dialogs(), message="dialog closed")
            # The app goes on: work still runs on the loop.
            done: list[int] = []
            spawn(asyncio.sleep(0, result=7), on_done=done.append)
            await AsyncDriver.until(lambda: done == [7], message="later work")

        aio.run(scenario())
    finally:
        reporter.uninstall()
        set_unexpected_error_handler(None)
    logged = " ".join(
        f"{r.getMessage()} {r.__dict__.get('where', '')} {r.__dict__.get('error_type', '')}" for r in caplog.records
    )
    assert "RuntimeError" in logged and "KeyError" in logged and "broken_slot" in logged
    assert "pineapple" not in logged and "Jordan" not in logged


def test_safe_traceback_names_the_place_not_the_message() -> None:
    try:
        raise ValueError(SECRET)
    except ValueError as exc:
        text = safe_traceback(exc)
    assert text.startswith("ValueError at test_ui_quality.py:") and "pineapple" not in text
