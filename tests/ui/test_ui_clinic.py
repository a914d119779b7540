"""Clinic mode in the window: the header's sync indicator, the sign-in dialog and Settings → Clinic, on real
services and a real SQLite database (and, end to end, a private PostgreSQL clinic server)."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from ui_support import AsyncDriver, make_window

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.settings import SettingsService
from tbdesktop.services.sync.service import PASSWORD_SECRET, SyncService, SyncStatus
from tbdesktop.store.models import Client, SyncAccount, SyncOutbox, SyncWorkstation
from tbdesktop.ui.clinic_link import ClinicLink
from tbdesktop.ui.clinic_signin import ClinicSignInDialog
from tbdesktop.ui.settings_page import SettingsPage
from tbdesktop.ui.settings_page.clinic import ClinicSection
from tbdesktop.ui.sync_indicator import SyncIndicator

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support", "pipewire", "PulseAudioService"),
]

Shot = Callable[[QWidget, str], Path]
NOW = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
SERVER = "postgresql://clinic.example:5432/clinic"
PASSWORD = "correct horse battery staple"


class Idle:
    """Stands in for the processing runner: no job runs in these tests."""

    def add_listener(self, listener: Any) -> Any:
        return lambda: None

    def wake(self) -> None:
        pass

    async def cancel(self, session_id: Any) -> bool:
        return False


class Loop:
    """Stands in for the background sync loop where a test only needs to see "Sync now" asked for."""

    def __init__(self) -> None:
        self.asked = 0

    def sync_now(self) -> None:
        self.asked += 1


def status(state: str, **values: Any) -> SyncStatus:
    texts = {"synced": "Synced", "pending": "3 changes waiting", "off": "Not connected to a clinic"}
    return SyncStatus(state=state, text=values.pop("text", texts.get(state, state)), server=SERVER, **values)


def top(name: str) -> Any:
    return next((w for w in QApplication.topLevelWidgets() if w.objectName() == name and w.isVisible()), None)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


def join_directly(ctx: AppContext, user: UserInfo, *, last_sync: datetime | None = None) -> None:
    """What joining leaves in the workstation's database, without a server: the account and the password."""
    with ctx.db.unit_of_work() as s:
        s.add(SyncWorkstation(id=1, name=ctx.workstation, applying=0))
        s.add(
            SyncAccount(user_id=user.id, server_url=SERVER, login=user.email, role="therapist", last_sync_at=last_sync)
        )
    ctx.secrets.set(PASSWORD_SECRET, PASSWORD, user_id=user.id)


# -- the indicator -----------------------------------------------------------------------------------------------


def test_indicator_renders_each_state(qtbot: QtBot, styled_app: Any, screenshot: Shot) -> None:
    clock = [NOW]
    indicator = SyncIndicator(clock=lambda: clock[0])
    qtbot.addWidget(indicator)
    indicator.show()
    indicator.set_status(status("off"))
    assert indicator.isHidden()

    indicator.set_status(status("synced", last_sync_at=NOW - timedelta(minutes=2)))
    assert indicator.isVisible() and indicator.label() == "Synced 2 min ago"
    assert indicator.timer.isActive()  # the minutes move on by themselves
    clock[0] = NOW + timedelta(minutes=3)
    indicator.timer.timeout.emit()
    assert indicator.label() == "Synced 5 min ago"
    screenshot(indicator, "sync_indicator_synced")

    shown = {
        "pending": (status("pending", pending=3), "3 changes waiting"),
        "offline": (status("offline", text="Offline — working on this computer"), "Offline — working on this computer"),
        "conflicts": (status("conflicts", text="1 conflict", conflicts=1), "1 conflict"),
        "signin": (status("signin", text="Sign in to the clinic to sync"), "Sign in to the clinic to sync"),
        "paused": (
            status("paused", text="Sync paused — update TherapyBridge on the server"),
            "Sync paused — update TherapyBridge on the server",
        ),
    }
    for state, (value, words) in shown.items():
        indicator.set_status(value)
        assert indicator.isVisible() and indicator.label() == words, state
        assert indicator.property("state") == state
        assert indicator.signin_action.isVisible() == (state == "signin")
        indicator.adjustSize()  # on its own here; in the header its layout sizes it
        screenshot(indicator, f"sync_indicator_{state}")
    assert not indicator.timer.isActive()

    asked: list[str] = []
    indicator.syncNowRequested.connect(lambda: asked.append("sync"))
    indicator.settingsRequested.connect(lambda: asked.append("settings"))
    indicator.signInRequested.connect(lambda: asked.append("signin"))
    indicator.set_status(status("pending", pending=3))
    for action in (indicator.sync_action, indicator.settings_action):
        action.trigger()
    indicator.set_status(status("signin"))
    indicator.signin_action.trigger()
    assert asked == ["sync", "settings", "signin"]


def test_window_header_shows_the_state_the_sync_loop_reports(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, screenshot: Shot
) -> None:
    loop = Loop()
    link = ClinicLink(SyncService(ui_ctx), therapist, loop)
    window = make_window(qtbot, ui_ctx, therapist, Idle(), size=(1180, 640), clinic=link)
    aio.run(window.refresh())
    aio.run(aio.until(lambda: link.last_status is not None, message="the status"))
    assert link.last_status is not None and link.last_status.state == "off"
    assert window.sync_indicator.isHidden()  # not in a clinic: nothing in the header

    join_directly(ui_ctx, therapist, last_sync=datetime.now(UTC) - timedelta(minutes=2))
    # The loop reports from its own thread; the window shows it on the GUI thread.
    import threading

    reporter = threading.Thread(target=link.loop_status, args=(status("synced"),))
    reporter.start()
    reporter.join()
    aio.run(aio.until(lambda: window.sync_indicator.isVisible(), message="the indicator"))
    assert window.sync_indicator.label() == "Synced 2 min ago"
    screenshot(window, "clinic_window_header")

    window.sync_indicator.sync_action.trigger()
    assert loop.asked == 1
    window.sync_indicator.settings_action.trigger()
    assert window.stack.currentWidget() is window.settings_page
    assert window.clinic_section.isVisibleTo(window.settings_page)


# -- the sign-in dialog -------------------------------------------------------------------------------------------


def test_sign_in_dialog_shows_why_the_server_refused(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    screenshot: Shot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    link = ClinicLink(SyncService(ui_ctx), therapist, Loop())
    dialog = ClinicSignInDialog(link)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.objectName() == "clinicSignInDialog"
    assert dialog.password_edit.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.remember_check.isChecked()
    assert dialog.email_edit.text() == therapist.email
    assert dialog.ca_field.isVisible() and dialog.ca_field.browse_button.isVisible()

    dialog.submit_button.click()
    assert dialog.error_text() == "Enter the clinic server address IT gave you (postgresql://host:5432/clinic)."
    port = closed_port()
    dialog.server_edit.setText(f"postgresql://127.0.0.1:{port}/clinic")
    qtbot.keyClicks(dialog.password_edit, PASSWORD)
    dialog.submit_button.click()
    assert dialog.busy and not dialog.submit_button.isEnabled() and dialog.busy_label.isVisible()
    dialog.reject()  # not while the call is under way
    assert dialog.isVisible()
    aio.run(aio.until(lambda: not dialog.busy, message="the sign-in to fail"))
    assert dialog.error_text().startswith(f"Could not reach the clinic server at 127.0.0.1:{port}")
    assert dialog.isVisible() and dialog.submit_button.isEnabled() and not dialog.busy_label.isVisible()
    assert SyncService(ui_ctx).accounts() == []
    assert PASSWORD not in caplog.text
    screenshot(dialog, "clinic_signin_refused")

    dialog.server_edit.setText("mysql://clinic/records")
    dialog.submit_button.click()
    aio.run(aio.until(lambda: not dialog.busy and dialog.error_text(), message="the address to be refused"))
    assert dialog.error_text().startswith("The clinic server address must start with postgresql://")


def test_sign_in_again_shows_the_known_server_and_email(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo
) -> None:
    join_directly(ui_ctx, therapist)
    service = SyncService(ui_ctx)
    account = service.account(therapist.id)
    assert account is not None
    dialog = ClinicSignInDialog(ClinicLink(service, therapist, Loop()), account)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.server_edit.text() == SERVER and dialog.server_edit.isReadOnly()
    assert dialog.email_edit.text() == therapist.email and dialog.email_edit.isReadOnly()
    assert not dialog.ca_field.isVisible()
    assert dialog.submit_button.text() == "Sign in"
    qtbot.keyClicks(dialog.password_edit, "another password")
    dialog.submit_button.click()
    aio.run(aio.until(lambda: not dialog.busy, message="the sign-in to fail"))
    assert dialog.error_text().startswith("Could not reach the clinic server at clinic.example:5432")


# -- Settings → Clinic ---------------------------------------------------------------------------------------------


def _settings(
    qtbot: QtBot, aio: AsyncDriver, ctx: AppContext, user: UserInfo, tmp_path: Path
) -> tuple[SettingsPage, ClinicSection]:
    page = SettingsPage(
        dataclasses.replace(
            AppServices.compose(ctx, user),
            settings=SettingsService(ctx, user, config_dir=tmp_path / "config", env={}),
        )
    )
    section = ClinicSection(ClinicLink(SyncService(ctx), user, Loop()))
    page.add_section(section)
    qtbot.addWidget(page)
    page.resize(1024, 900)
    page.show()
    aio.run(aio.until(lambda: section.status() is not None and not section.busy, message="the clinic state"))
    return page, section


def _answer(aio: AsyncDriver, section: ClinicSection, name: str, button: str, *, check: bool = False) -> None:
    async def answer() -> None:
        await aio.until(lambda: section.leave_box is not None and section.leave_box.objectName() == name, message=name)
        box = section.leave_box
        assert isinstance(box, QMessageBox)
        if check:
            checkbox = box.checkBox()
            assert checkbox is not None
            checkbox.setChecked(True)
        next(b for b in box.buttons() if b.text() == button).click()

    aio.run(answer())


def test_clinic_settings_not_joined_then_joined(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path, screenshot: Shot
) -> None:
    _page, section = _settings(qtbot, aio, ui_ctx, therapist, tmp_path)
    assert section.objectName() == "clinicSettings"
    assert section.not_joined.isVisible() and not section.joined.isVisible()
    assert section.join_button.text() == "Join a clinic…"
    assert "join it" in section.explain_label.text()
    screenshot(section, "clinic_settings_not_joined")

    join_directly(ui_ctx, therapist, last_sync=datetime.now(UTC) - timedelta(minutes=5))
    aio.run(section.refresh())
    aio.run(aio.until(lambda: section.joined.isVisible(), message="the joined state"))
    assert not section.not_joined.isVisible()
    assert section.text_of("server") == SERVER
    assert section.text_of("signed_in_as") == f"{therapist.display_name} ({therapist.email})"
    assert section.text_of("workstation") == ui_ctx.workstation
    assert section.text_of("status") == "Synced"
    assert section.text_of("last_sync").endswith("(5 min ago)")
    assert section.text_of("pending") == "None"
    assert section.signout_button.isVisible() and not section.signin_button.isVisible()
    screenshot(section, "clinic_settings_joined")

    # The CA file is changed through the service.
    ca = tmp_path / "clinic-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    section.ca_field.setText(str(ca))
    section.save_ca_button.click()
    aio.run(aio.until(lambda: not section.busy, message="saving the CA file"))
    with ui_ctx.db.unit_of_work() as s:
        assert s.scalar(select(SyncAccount.ca_file)) == str(ca)

    # Sign out forgets the password here: sync waits for a sign-in.
    section.signout_button.click()
    aio.run(aio.until(lambda: section.text_of("status") == "Sign in to the clinic to sync", message="signed out"))
    assert ui_ctx.secrets.get(PASSWORD_SECRET, user_id=therapist.id) is None
    assert section.signin_button.isVisible() and not section.signout_button.isVisible()


def test_leaving_with_changes_waiting_asks_before_dropping_them(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path
) -> None:
    join_directly(ui_ctx, therapist)
    SessionService(ui_ctx, therapist).create_client_sync("Jordan Lee")  # captured for the clinic: one change waits
    assert SyncService(ui_ctx).pending(therapist.id) >= 1
    _page, section = _settings(qtbot, aio, ui_ctx, therapist, tmp_path)
    assert section.joined.isVisible() and section.text_of("pending") != "None"
    left: list[bool] = []
    section.left.connect(left.append)

    section.leave_button.click()
    _answer(aio, section, "leaveClinicDialog", "Cancel")
    aio.run(aio.until(lambda: not section.busy))
    assert SyncService(ui_ctx).account(therapist.id) is not None

    section.leave_button.click()
    _answer(aio, section, "leaveClinicDialog", "Leave clinic", check=True)
    _answer(aio, section, "leaveClinicForceDialog", "Leave anyway")
    aio.run(aio.until(lambda: left == [True], message="leaving"))
    assert SyncService(ui_ctx).account(therapist.id) is None
    with ui_ctx.db.unit_of_work() as s:
        assert s.scalars(select(SyncOutbox)).all() == []
        assert s.scalars(select(Client).where(Client.owner_id == therapist.id)).all() == []  # wiped
    aio.run(aio.until(lambda: section.not_joined.isVisible(), message="the not-joined state"))


# -- end to end: a private PostgreSQL clinic server ------------------------------------------------------------------


@pytest.mark.postgres
def test_join_through_the_dialog_and_the_header_says_synced(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, clinic_cluster: Any, screenshot: Shot
) -> None:
    from tbdesktop.services.sync.loop import SyncLoop
    from tbdesktop.services.sync.server import add_user, init_clinic

    admin = clinic_cluster.new_database()
    init_clinic(admin)
    assert therapist.email is not None
    server_id = add_user(admin, therapist.email, therapist.display_name, "therapist", PASSWORD)
    url = clinic_cluster.server_url(admin.rsplit("/", 1)[1])
    SessionService(ui_ctx, therapist).create_client_sync("Jordan Lee")  # the profile's data from before joining

    service = SyncService(ui_ctx)
    link = ClinicLink(service, therapist)
    loop = SyncLoop(service, on_status=link.loop_status, on_report=link.loop_report, listen=False)
    link.loop = loop
    reports: list[Any] = []
    link.reportArrived.connect(reports.append)
    window = make_window(qtbot, ui_ctx, therapist, Idle(), size=(1180, 720), clinic=link)
    loop.start()
    try:
        aio.run(aio.until(lambda: link.last_status is not None, message="the first status"))
        assert window.sync_indicator.isHidden()
        window.navigate("settings")
        window.clinic_section.join_button.click()
        aio.run(aio.until(lambda: top("clinicSignInDialog") is not None, message="the sign-in dialog"))
        dialog = top("clinicSignInDialog")
        dialog.server_edit.setText(url)
        qtbot.keyClicks(dialog.password_edit, PASSWORD)
        dialog.submit_button.click()
        aio.run(
            aio.until(
                lambda: (
                    bool(reports)
                    and window.sync_indicator.isVisible()
                    and window.sync_indicator.label().startswith("Synced")
                ),
                timeout=60,
                message="the header to say synced",
            )
        )
        assert top("clinicSignInDialog") is None
        assert reports and reports[-1].ok and reports[-1].pushed >= 1
        aio.run(aio.until(lambda: window.clinic_section.joined.isVisible(), message="Settings → Clinic"))
        assert window.clinic_section.text_of("server") == url
        screenshot(window, "clinic_joined_window")
    finally:
        loop.stop()
    # The local profile kept its id (the server adopted it) and its client reached the server.
    assert service.account(therapist.id) is not None and server_id != therapist.id
    from sqlalchemy import text

    from tbdesktop.services.sync.connect import clinic_engine

    engine = clinic_engine(admin)
    try:
        with engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM clients WHERE owner_id = :u"), {"u": therapist.id}).all()
    finally:
        engine.dispose()
    assert [n[0] for n in names] == ["Jordan Lee"]
