"""Joining the clinic when the clinic's IT set its server (policy.json "clinic_server"): the dialog takes IT's address
and CA file, read-only with "Set by your clinic's IT", and the Clinic section says IT set the server. Real widgets,
a real sync service, a real connection attempt to a port where nothing listens."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from ui_support import SCREENSHOT_DIR, AsyncDriver

from tbdesktop.config import Settings
from tbdesktop.policy import LOCKED_TEXT, ClinicServer, Policy
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.sync.service import SyncService
from tbdesktop.ui.clinic_link import ClinicLink
from tbdesktop.ui.clinic_signin import ClinicSignInDialog
from tbdesktop.ui.settings_page.clinic import ClinicSection

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support"),
]




def shot(widget: QWidget, name: str) -> None:
    QApplication.sendPostedEvents()  # pending layout requests: the page as it is painted, not half laid out
    for folder in (SCREENSHOT_DIR,):
        folder.mkdir(parents=True, exist_ok=True)
        assert widget.grab().save(str(folder / f"{name}.png"))


class Loop:
    def sync_now(self) -> None:
        pass


@pytest.fixture
def clinic_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "clinic-ca.crt"
    path.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    return path


@pytest.fixture
def ui_settings(tmp_path: Path, base_model_cache: Path, clinic_port: int, ca_file: Path) -> Settings:
    """This computer's settings under a clinic policy naming the clinic server (with IT's login) and its CA file."""
    policy = Policy(
        source=tmp_path / "policy.json",
        clinic_server=ClinicServer(f"postgresql://it:secret@127.0.0.1:{clinic_port}/clinic", str(ca_file)),
    )
    return Settings(
        data_dir=tmp_path / "data",
        secrets_dir=tmp_path / "secrets",
        cache_dir=base_model_cache,
        asr_device="cpu",
        policy=policy,
    )


def test_join_dialog_takes_the_server_and_ca_file_it_set(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, clinic_port: int, ca_file: Path
) -> None:
    dialog = ClinicSignInDialog(ClinicLink(SyncService(ui_ctx), therapist, Loop()))
    qtbot.addWidget(dialog)
    dialog.show()
    # shown without IT's user name and password; read-only, with the note
    assert dialog.server_edit.text() == f"postgresql://127.0.0.1:{clinic_port}/clinic"
    assert dialog.server_edit.isReadOnly() and LOCKED_TEXT in dialog.server_edit.toolTip()
    assert dialog.server_note.isVisible() and dialog.server_note.text() == LOCKED_TEXT
    assert dialog.ca_field.text() == str(ca_file) and dialog.ca_field.edit.isReadOnly()
    assert not dialog.ca_field.browse_button.isEnabled()
    assert dialog.ca_note.isVisible() and dialog.ca_note.text() == LOCKED_TEXT
    shot(dialog, "clinic-join-policy")

    qtbot.keyClicks(dialog.password_edit, "correct horse battery staple")
    dialog.submit_button.click()
    assert dialog.busy
    aio.run(aio.until(lambda: not dialog.busy, message="the join to fail"))
    # it tried IT's server (nothing listens there); the fields stay read-only afterwards
    assert dialog.error_text().startswith(f"Could not reach the clinic server at 127.0.0.1:{clinic_port}")
    assert dialog.server_edit.isReadOnly() and dialog.ca_field.edit.isReadOnly()
    assert not dialog.ca_field.browse_button.isEnabled()
    assert SyncService(ui_ctx).accounts() == []


def test_clinic_section_says_it_set_the_server(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, clinic_port: int
) -> None:
    section = ClinicSection(ClinicLink(SyncService(ui_ctx), therapist, Loop()))
    qtbot.addWidget(section)
    section.resize(900, 300)
    section.show()
    aio.run(aio.until(lambda: section.status() is not None and not section.busy, message="the clinic state"))
    assert section.not_joined.isVisible()
    assert section.managed_label.isVisible()
    assert f"postgresql://127.0.0.1:{clinic_port}/clinic" in section.managed_label.text()
    assert "secret" not in section.managed_label.text()
    assert section.managed_note.isVisible() and section.managed_note.text() == LOCKED_TEXT
    assert section.ca_locked and section.save_ca_button.isHidden() and section.ca_field.edit.isReadOnly()
    shot(section, "clinic-section-policy")
