"""Cross-cutting qualities of the window: unexpected errors are reported (without PHI) and never end the app."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from ui_support import AsyncDriver, make_window

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


# -- the window: navigation, keyboard, layout ----------------------------------------------------------------


@pytest.fixture
def window(qtbot: Any, ui_ctx: Any, therapist: Any) -> Any:
    from tbdesktop.services.processing.runner import ProcessingRunner

    win = make_window(qtbot, ui_ctx, therapist, ProcessingRunner(ui_ctx, owner_ids=[therapist.id]))
    return win


def test_pages_by_button_and_by_keyboard(qtbot: Any, aio: AsyncDriver, window: Any) -> None:
    from PySide6.QtCore import Qt

    async def scenario() -> None:
        await window.refresh()
        qtbot.mouseClick(window.nav_buttons["templates"], Qt.MouseButton.LeftButton)
        assert window.stack.currentWidget() is window.templates_page
        window.nav_buttons["settings"].animateClick()
        await AsyncDriver.until(lambda: window.stack.currentWidget() is window.settings_page, message="settings")
        for key, page in (("1", window.sessions_page), ("2", window.templates_page)):
            qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier)
            await AsyncDriver.until(lambda page=page: window.stack.currentWidget() is page, message=f"Ctrl+{key}")
            assert window.nav_buttons["sessions" if key == "1" else "templates"].isChecked()
        await aio.settled()  # the pages finish loading

    aio.run(scenario())
    window.lock_control.lock()
    assert not any(b.isEnabled() for b in window.nav_buttons.values())
    qtbot.keyClick(window, "1", Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.lock_screen  # nothing opens through the lock
    for button in window.nav_buttons.values():
        assert button.accessibleName().endswith("page")


def _overlaps(widgets: list[Any]) -> list[tuple[str, str]]:
    shown = [w for w in widgets if w.isVisible()]
    out = []
    for i, a in enumerate(shown):
        for b in shown[i + 1 :]:
            if a.geometry().intersects(b.geometry()):
                out.append((a.objectName() or type(a).__name__, b.objectName() or type(b).__name__))
    return out


@pytest.mark.parametrize("size", [(1024, 700), (1440, 900), (2560, 1440)])
def test_window_layout_from_small_to_large(
    qtbot: Any, aio: AsyncDriver, window: Any, screenshot: Any, size: tuple[int, int]
) -> None:
    from PySide6.QtWidgets import QFrame

    assert window.minimumSizeHint().width() <= 1024 and window.minimumSizeHint().height() <= 700
    window.resize(*size)

    async def visit(key: str) -> None:
        window.navigate(key)
        page = window.stack.currentWidget()
        ready = {"sessions": "refreshed", "templates": "refreshed", "settings": "loaded"}[key]
        seen: list[bool] = []
        getattr(page, ready).connect(lambda: seen.append(True))
        if key == "sessions":
            await window.refresh()
        else:
            await AsyncDriver.until(lambda: bool(seen), message=f"{key} page loaded")
        await aio.settled()  # the rest of the page's loading, and its layout

    for key in ("sessions", "templates", "settings"):
        aio.run(visit(key))
        assert (window.width(), window.height()) == size
        header = window.findChild(QFrame, "header")
        items = [header.layout().itemAt(i).widget() for i in range(header.layout().count())]
        assert _overlaps([w for w in items if w is not None]) == []
        page = window.stack.currentWidget()
        assert page.width() <= window.width() and page.minimumSizeHint().width() <= window.width()
        assert not window.toasts.findChildren(QFrame, "toast"), "an error was shown"
        screenshot(window, f"window-{key}-{size[0]}x{size[1]}")


SCALED = r"""
import json, os, sys
from pathlib import Path
from PySide6.QtWidgets import QApplication, QFrame
from tbdesktop.config import Settings
from tbdesktop.services.context import AppContext
from tbdesktop.services.processing.runner import ProcessingRunner
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.bundle import AppServices
from tbdesktop.ui.window.main_window import MainWindow
from tbdesktop.app import create_application

out, data = Path(sys.argv[1]), Path(sys.argv[2])
app = create_application()
ctx = AppContext.open(Settings(data_dir=data / "data", secrets_dir=data / "secrets", secret_store="file"))
user = ProfileService(ctx).create_profile_sync("Dr. Sam Rivera", passcode="scaled-passcode")
win = MainWindow(AppServices.compose(ctx, user), ProcessingRunner(ctx, owner_ids=[user.id]))
win.resize(1024, 700)
win.show()
report = {"ratio": win.devicePixelRatioF(), "pages": {}}
for key in ("sessions", "templates", "settings"):
    win.navigate(key)
    for _ in range(5):
        app.processEvents()
    header = win.findChild(QFrame, "header")
    widgets = [header.layout().itemAt(i).widget() for i in range(header.layout().count())]
    shown = [w for w in widgets if w is not None and w.isVisible()]
    clash = [(a.objectName(), b.objectName()) for i, a in enumerate(shown) for b in shown[i + 1:]
             if a.geometry().intersects(b.geometry())]
    pixmap = win.grab()
    pixmap.save(str(out / f"window-{key}-200pct.png"))
    report["pages"][key] = {"overlaps": clash, "logical": [win.width(), win.height()],
                            "pixels": [pixmap.width(), pixmap.height()]}
win.close()
ctx.close()
print(json.dumps(report))
"""


def test_window_at_200_percent_scaling(tmp_path: Path) -> None:
    """A separate process (the scale factor is fixed when Qt starts): the window at 2× device pixels."""
    import json
    import os
    import subprocess
    import sys

    from ui_support import SCREENSHOT_DIR

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, QT_SCALE_FACTOR="2", QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", SCALED, str(SCREENSHOT_DIR), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ratio"] == 2.0
    for key, page in report["pages"].items():
        assert page["overlaps"] == [], key
        assert page["logical"] == [1024, 700] and page["pixels"] == [2048, 1400], key


def test_finished_session_toast_fades_in_and_opens_the_session(
    qtbot: Any, aio: AsyncDriver, window: Any, ui_ctx: Any, therapist: Any, speech_session: Any, screenshot: Any
) -> None:
    from PySide6.QtCore import Qt
    from ui_support import services_support

    from tbdesktop.services.dto import ProgressEvent

    lines = [("therapist", "Hello."), ("client", "Hi.")]
    info = services_support().session_with_transcript(ui_ctx, therapist, speech_session[0], lines)

    async def scenario() -> None:
        await window.refresh()
        window.bridge.progress.emit(ProgressEvent(info.id, None, "completed", 100, "Done", None))
        await AsyncDriver.until(lambda: bool(window.toasts.toasts()), message="a toast")
        toast = window.toasts.toasts()[-1]
        assert toast.text == "Jordan: transcript and note are ready."
        assert toast.action_button is not None and toast.action_button.text() == "Open session"
        await AsyncDriver.until(lambda: toast.opacity > 0.99, message="faded in")
        screenshot(window, "toast-session-ready")
        qtbot.mouseClick(toast.action_button, Qt.MouseButton.LeftButton)
        await AsyncDriver.until(lambda: window.stack.currentWidget() is window.session_view, message="opened")
        assert window.session_view.session_id == info.id
        await AsyncDriver.until(lambda: not window.toasts.toasts(), message="the toast faded out")
        # Already on screen: no toast for it.
        window.bridge.progress.emit(ProgressEvent(info.id, None, "completed", 100, "Done", None))
        await aio.settled()  # the view has reloaded the session for the event
        assert window.toasts.toasts() == []
        for n in range(6):  # they stack, four at most
            window.toasts.show_error(f"Problem {n}")
        assert [t.text for t in window.toasts.toasts()] == [f"Problem {n}" for n in range(2, 6)]

    aio.run(scenario())


def test_qt_bindings_keep_python_singletons_alive(qtbot: Any) -> None:
    """Calling Qt and emitting signals must not drop references to None/True/False (PySide6 6.12.0 does so on
    Python 3.11, which ends the app with a fatal error after a few thousand calls)."""
    import sys

    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QLabel, QPushButton

    class Emitter(QObject):
        fired = Signal(object)

    label, button, emitter = QLabel(), QPushButton(), Emitter()
    qtbot.addWidget(label)
    qtbot.addWidget(button)
    seen: list[object] = []
    emitter.fired.connect(seen.append)
    button.clicked.connect(lambda checked=False: seen.append(checked))
    before = (sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False))
    for n in range(500):
        label.setText(str(n))
        button.setEnabled(True)
        button.click()
        emitter.fired.emit(n)
    seen.clear()
    after = (sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False))
    assert all(a >= b - 20 for a, b in zip(after, before, strict=True)), (before, after)
