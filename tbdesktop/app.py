"""GUI bootstrap: QApplication on a qasync event loop, database start-up, profile, main window, runner."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable

import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QProgressDialog, QWidget

from tbdesktop.config import APP_NAME, Settings
from tbdesktop.errors import TBError
from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.database_keys import DatabaseKeys
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.processing.host import RunnerThread
from tbdesktop.services.processing.runner import ProcessingRunner
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.retention import RetentionService
from tbdesktop.services.secrets import SecretVault, WrongPasscodeError
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.sync.loop import SyncLoop
from tbdesktop.ui.aio import run_dialog, set_unexpected_error_handler
from tbdesktop.ui.clinic_link import ClinicLink
from tbdesktop.ui.crash import ErrorReporter
from tbdesktop.ui.first_run import FirstRunDialog
from tbdesktop.ui.lock import UnlockDialog
from tbdesktop.ui.resources import icon, style_sheet
from tbdesktop.ui.window.main_window import MainWindow

log = logging.getLogger(__name__)
# Shown when opening the database takes a while: after an update it is migrated, with a copy kept until it is done.
PREPARING_TEXT = (
    "Preparing your data…\n\nAfter an update this can take a moment. TherapyBridge keeps a copy of your database "
    "until the update is finished; please do not turn off the computer."
)
NOTICE_AFTER_S = 0.8


def create_application() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName("therapybridge")  # the menu entry the package installs (its icon, on Wayland too)
    app.setWindowIcon(icon("app"))
    app.setStyleSheet(style_sheet())
    # The main coroutine decides when to quit, after the runner and database are shut down.
    app.setQuitOnLastWindowClosed(False)
    return app


async def show_fatal(message: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Critical, APP_NAME, message, QMessageBox.StandardButton.Close)
    box.setObjectName("fatalErrorDialog")
    box.setWindowModality(Qt.WindowModality.ApplicationModal)
    await run_dialog(box)


def preparing_notice() -> QProgressDialog:
    notice = QProgressDialog(PREPARING_TEXT, "", 0, 0)
    notice.setObjectName("preparingDataNotice")
    notice.setWindowTitle(APP_NAME)
    notice.setCancelButton(None)  # nothing to cancel: stopping half-way would only mean restoring the copy
    notice.setMinimumDuration(0)
    notice.setMinimumWidth(420)
    return notice


async def open_with_notice(open_: Callable[[], AppContext], after_s: float = NOTICE_AFTER_S) -> AppContext:
    """Opens the database on a thread (migrating it after an update); a notice says so if it takes a while."""
    task = asyncio.ensure_future(asyncio.to_thread(open_))
    done, _ = await asyncio.wait({task}, timeout=after_s)
    if done:
        return task.result()
    notice = preparing_notice()
    notice.show()
    try:
        return await task
    finally:
        notice.close()
        notice.deleteLater()


async def ensure_profile(profiles: ProfileService) -> UserInfo | None:
    """The local therapist profile; asks for one on the first run. None when the user quits."""
    user = await profiles.local_profile()
    if user is not None:
        return user
    dialog = FirstRunDialog(profiles.create_profile)
    result = await run_dialog(dialog)
    profile = dialog.profile
    dialog.deleteLater()
    return profile if result == QDialog.DialogCode.Accepted else None


async def sign_in(profiles: ProfileService, user: UserInfo) -> bool:
    """Where the profile's keys open with its passcode (no OS keyring), ask for it before anything runs.

    False when the user quits instead."""
    if not profiles.needs_unlock(user.id):
        profiles.ctx.secrets.select(user.id)
        return True
    preset = os.environ.get("TB_PASSCODE")  # an unattended start (as for the command line)
    if preset and await profiles.unlock_secrets(user.id, preset):
        return True
    has_passcode = await profiles.has_passcode(user.id)

    async def choose(passcode: str) -> None:
        await profiles.change_passcode(user.id, passcode, None)

    dialog = UnlockDialog(
        user.display_name, lambda passcode: profiles.unlock_secrets(user.id, passcode), has_passcode, choose
    )
    result = await run_dialog(dialog)
    dialog.deleteLater()
    return result == QDialog.DialogCode.Accepted


async def unlock_database(keys: DatabaseKeys) -> bool:
    """Without an OS keyring, the encrypted database opens with a profile's passcode: asked for before anything
    is read from it (the first profile, as the window signs in to). It opens the profile's secret store too.

    False when the user quits instead."""
    profile = keys.profiles()[0]

    async def unlock(passcode: str) -> bool:
        try:
            await asyncio.to_thread(keys.unlock, profile.id, passcode)
        except WrongPasscodeError:
            return False
        await asyncio.to_thread(keys.vault.unlock, profile.id, passcode)
        return True

    preset = os.environ.get("TB_PASSCODE")  # an unattended start (as for the command line)
    if preset and await unlock(preset):
        return True
    dialog = UnlockDialog(profile.display_name, unlock, has_passcode=True)
    result = await run_dialog(dialog)
    dialog.deleteLater()
    return result == QDialog.DialogCode.Accepted


def open_context(settings: Settings) -> tuple[SecretVault, DatabaseKeys | None]:
    vault = SecretVault(settings.secrets_dir, settings.secret_store)
    return vault, AppContext.database_keys_for(settings, vault)


async def prepare_recordings(service: SessionService) -> None:
    """Recordings stored before encryption at rest are encrypted now (what a crash left was removed when the data
    folder was opened: services/leftovers.py)."""
    try:
        await asyncio.to_thread(service.seal_plain_recordings_sync)
    except TBError as exc:
        log.warning("recordings not sealed", extra={"error_type": type(exc).__name__})


def processing_for_window(ctx: AppContext, user: UserInfo) -> RunnerThread:
    """The window's processing: the runner on a thread and asyncio loop of its own (services/processing/host.py),
    so nothing Qt does with the window's loop can stall the queue."""
    return RunnerThread(ProcessingRunner(ctx, owner_ids=[user.id]))


async def main_coroutine(settings: Settings) -> int:
    try:
        vault, keys = await asyncio.to_thread(open_context, settings)
        if keys is not None and await asyncio.to_thread(keys.needs_passcode):
            if not await unlock_database(keys):
                return 0
        ctx = await open_with_notice(lambda: AppContext.open(settings, secrets=vault, keys=keys))
    except TBError as exc:
        await show_fatal(exc.message)
        return 1
    runner: RunnerThread | None = None
    retention: asyncio.Task[None] | None = None
    sync_loop: SyncLoop | None = None
    try:
        profiles = ProfileService(ctx)
        user = await ensure_profile(profiles)
        if user is None or not await sign_in(profiles, user):
            return 0
        services = AppServices.compose(ctx, user)
        await prepare_recordings(services.sessions)
        runner = processing_for_window(ctx, user)
        # Clinic sync on its own thread (idle while no profile here joined a clinic); its reports reach the
        # window as queued Qt signals through the link.
        clinic = ClinicLink(services.sync, user)
        sync_loop = SyncLoop(clinic.service, on_status=clinic.loop_status, on_report=clinic.loop_report)
        clinic.loop = sync_loop
        window = MainWindow(services, runner, clinic=clinic)
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_closed() -> None:
            if not closed.done():
                closed.set_result(None)

        window.closed.connect(on_closed)
        window.show()
        await window.start()
        retention = asyncio.ensure_future(RetentionService(ctx).run_periodically())
        await runner.start()
        sync_loop.start()
        if ctx.database_notice:
            window.show_error(ctx.database_notice)
        try:
            await window.refresh()
            await window.recordings.offer_interrupted_recordings()
        except TBError as exc:
            window.show_error(exc.message)
        await closed
        return 0
    except TBError as exc:
        await show_fatal(exc.message)
        return 1
    finally:
        if retention is not None:
            retention.cancel()
        if sync_loop is not None:
            await asyncio.to_thread(sync_loop.stop)  # a sync under way ends within its timeouts
        if runner is not None:
            await runner.stop()
        await asyncio.to_thread(ctx.close)


async def start_app(settings: Settings | Callable[[], Settings]) -> int:
    """Read the settings (when given how to), then run the app. Settings that cannot be read — a clinic policy
    file that is not valid — stop it here with their message in the error dialog: it never starts without them."""
    if callable(settings):
        try:
            settings = await asyncio.to_thread(settings)
        except TBError as exc:
            await show_fatal(exc.message)
            return 1
    return await main_coroutine(settings)


def install_error_reporter(loop: asyncio.AbstractEventLoop) -> ErrorReporter:
    """Unexpected errors (in slots, threads and tasks) are logged without PHI and shown in a dialog."""

    def window() -> QWidget | None:
        found = [w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow" and w.isVisible()]
        return found[0] if found else None

    reporter = ErrorReporter(window)
    reporter.install(loop)
    set_unexpected_error_handler(reporter.report)
    return reporter


def run_gui(settings: Settings | Callable[[], Settings]) -> int:
    """Run the desktop app until its window closes; the exit code for the process. ``settings`` may be how to read
    them, so that a problem reading them is shown in the app's error dialog."""
    app = create_application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    reporter = install_error_reporter(loop)
    try:
        with loop:
            return int(loop.run_until_complete(start_app(settings)))
    finally:
        reporter.uninstall()
        set_unexpected_error_handler(None)
        asyncio.set_event_loop(None)
