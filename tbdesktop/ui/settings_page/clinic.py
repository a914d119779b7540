"""Settings → Clinic: join a clinic; once joined, where this workstation syncs to and how it stands, the CA file,
Sync now, Sign out and Leave clinic."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.policy import LOCKED_TEXT
from tbdesktop.services.sync.service import ChangesWaitingError, SyncAccountInfo, SyncStatus
from tbdesktop.ui.aio import run_dialog, spawn, spawn_one_at_a_time
from tbdesktop.ui.buttons import action_button
from tbdesktop.ui.clinic_link import ClinicLink
from tbdesktop.ui.clinic_signin import CaFileField, shown_server, sign_in_to_clinic
from tbdesktop.ui.forms import LockedNote, card_box, card_form, field_label, hint_label, lock_tooltip
from tbdesktop.ui.sync_indicator import synced_words

NOT_JOINED = (
    "This workstation keeps your sessions on this computer only. When your clinic runs a TherapyBridge server, "
    "join it to keep your sessions on the clinic's server too and work on any of the clinic's workstations."
)


def managed_words(server: str) -> str:
    """What the Clinic section says when the clinic's IT set the server every profile here joins."""
    return (
        f"Your clinic's IT has set the clinic server for this computer ({shown_server(server)}): join it with your "
        "clinic email and password."
    )


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "Not yet"
    local = (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone()
    return f"{local.day} {local:%b %Y, %H:%M} ({synced_words(moment, datetime.now(UTC)).removeprefix('Synced ')})"


class ClinicSection(QFrame):
    notify = Signal(str, str)  # ("success" | "error", message) for toasts
    left = Signal(bool)  # the profile left the clinic here; True when its data was removed too

    def __init__(self, link: ClinicLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._link = link
        self._status: SyncStatus | None = None
        self._account: SyncAccountInfo | None = None
        self._busy = False  # an action under way (its buttons are disabled meanwhile)
        self._refreshing = False
        self.leave_box: QMessageBox | None = None

        box = card_box(self, "Clinic", name="clinicSettings", spacing=6)

        self.not_joined = QWidget()
        self.not_joined.setObjectName("clinicNotJoined")
        row = QHBoxLayout(self.not_joined)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(16)
        self.explain_label = hint_label(NOT_JOINED, "settingsHint")
        explain = QVBoxLayout()
        explain.setSpacing(6)
        explain.addWidget(self.explain_label)
        managed = link.policy.clinic_server
        self.managed_label = hint_label(managed_words(managed.url) if managed else "", "clinicManagedServer")
        self.managed_label.setVisible(managed is not None)
        self.managed_note = LockedNote()
        self.managed_note.setObjectName("clinicServerLocked")
        self.managed_note.setVisible(managed is not None)
        explain.addWidget(self.managed_label)
        explain.addWidget(self.managed_note)
        row.addLayout(explain, 1)
        self.join_button = action_button("Join a clinic…", "joinClinicButton")
        self.join_button.setAccessibleName("Join a clinic")
        self.join_button.clicked.connect(self.sign_in)
        row.addWidget(self.join_button, 0, Qt.AlignmentFlag.AlignTop)
        box.addWidget(self.not_joined)

        self.joined = QWidget()
        self.joined.setObjectName("clinicJoined")
        joined = QVBoxLayout(self.joined)
        joined.setContentsMargins(0, 4, 0, 0)
        joined.setSpacing(8)
        form = card_form()
        self.values: dict[str, QLabel] = {}
        for key, label in (
            ("server", "Server"),
            ("signed_in_as", "Signed in as"),
            ("workstation", "Workstation"),
            ("status", "Status"),
            ("last_sync", "Last sync"),
            ("pending", "Changes waiting"),
        ):
            value = QLabel("")
            value.setObjectName("clinicStatusText" if key == "status" else f"clinic_{key}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setAccessibleName(label)
            self.values[key] = value
            form.addRow(field_label(label), value)
        ca_row = QHBoxLayout()
        ca_row.setSpacing(8)
        self.ca_field = CaFileField("clinicSettingsCa")
        self.ca_field.changed.connect(self._ca_edited)
        self.save_ca_button = QPushButton("Save")
        self.save_ca_button.setObjectName("saveCaFileButton")
        self.save_ca_button.setAccessibleName("Save the CA file")
        self.save_ca_button.setAutoDefault(False)
        self.save_ca_button.setEnabled(False)
        self.save_ca_button.clicked.connect(self.save_ca_file)
        ca_row.addWidget(self.ca_field, 1)
        ca_row.addWidget(self.save_ca_button)
        ca_column = QVBoxLayout()
        ca_column.setSpacing(3)
        ca_column.addLayout(ca_row)
        self.ca_note = LockedNote()
        self.ca_note.setObjectName("clinicCaLocked")
        ca_column.addWidget(self.ca_note)
        self.ca_locked = managed is not None and managed.ca_file is not None
        if self.ca_locked:  # IT's CA file: shown, not changed here
            self.ca_field.setReadOnly(True)
            self.ca_field.setToolTip(lock_tooltip(LOCKED_TEXT))
            self.save_ca_button.hide()
            self.ca_note.show()
        form.addRow(field_label("CA file", self.ca_field.edit), ca_column)
        joined.addLayout(form)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        self.sync_button = self._button("Sync now", "clinicSyncNowButton", self.sync_now)
        self.signin_button = self._button("Sign in…", "clinicSignInAgainButton", self.sign_in)
        self.signout_button = self._button("Sign out", "clinicSignOutButton", self.sign_out)
        self.signout_button.setToolTip("Forget the clinic password on this workstation; sync waits until you sign in")
        self.leave_button = self._button("Leave clinic…", "leaveClinicButton", self.leave)
        for button in (self.sync_button, self.signin_button, self.signout_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.leave_button)
        joined.addLayout(buttons)
        box.addWidget(self.joined)
        self.joined.hide()
        self.loading = True
        link.statusChanged.connect(self.set_status)

    def _button(self, text: str, name: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAccessibleName(text.rstrip("…"))
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    # -- state ----------------------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.schedule_refresh()

    def schedule_refresh(self) -> None:
        if self._refreshing:
            return
        self._refreshing = True

        async def guarded() -> None:
            try:
                await self.refresh()
            finally:
                self._refreshing = False

        spawn(guarded(), on_error=lambda message: self.notify.emit("error", message))

    async def refresh(self) -> None:
        self._account = await self._link.account()
        if self._account is not None:
            if not self.save_ca_button.property("edited"):  # an unsaved edit stays
                self.ca_field.setText(await self._link.ca_file() or "")
                self._ca_saved(edited=False)
        await self._link.refresh()  # comes back through set_status

    @property
    def is_joined(self) -> bool:
        return self._status is not None and self._status.state != "off"

    def set_status(self, status: SyncStatus) -> None:
        was_joined = self.is_joined
        self._status = status
        self.loading = False
        joined = status.state != "off"
        self.not_joined.setVisible(not joined)
        self.joined.setVisible(joined)
        if joined and (not was_joined or self._account is None):
            self.schedule_refresh()  # joined elsewhere (the dialog, the command line): read the account
        if not joined:
            return
        account = self._account
        name = f"{account.display_name} ({account.email})" if account else (status.login or "")
        self.values["server"].setText(status.server or "")
        self.values["signed_in_as"].setText(name)
        self.values["workstation"].setText(status.workstation or "")
        self.values["status"].setText(status.text)
        self.values["status"].setProperty("state", status.state)
        self.values["status"].style().unpolish(self.values["status"])
        self.values["status"].style().polish(self.values["status"])
        self.values["last_sync"].setText(_when(status.last_sync_at))
        self.values["pending"].setText(str(status.pending) if status.pending else "None")
        signin = status.state == "signin"
        self.signin_button.setVisible(signin)
        self.signout_button.setVisible(not signin)
        self.sync_button.setEnabled(not signin and status.state != "paused")

    def status(self) -> SyncStatus | None:
        return self._status

    def text_of(self, key: str) -> str:
        return self.values[key].text()

    # -- actions --------------------------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, Any]) -> None:
        spawn_one_at_a_time(
            coro, busy=self._busy, set_busy=self._set_busy, on_error=lambda message: self.notify.emit("error", message)
        )

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for button in (self.join_button, self.signin_button, self.signout_button, self.leave_button):
            button.setEnabled(not busy)
        self.save_ca_button.setEnabled(not busy and bool(self.save_ca_button.property("edited")))

    @property
    def busy(self) -> bool:
        return self._busy or self._refreshing

    def sign_in(self) -> None:
        self._run(self._sign_in())

    async def _sign_in(self) -> None:
        accepted, notice = await sign_in_to_clinic(self._link, self.window())
        if accepted:
            self.notify.emit("success" if notice is None else "error", notice or "Signed in to the clinic.")
            await self.refresh()

    def sync_now(self) -> None:
        self._link.sync_now()
        self.notify.emit("success", "Syncing with the clinic server…")

    def sign_out(self) -> None:
        self._run(self._sign_out())

    async def _sign_out(self) -> None:
        await self._link.call(self._link.service.sign_out, self._link.user_id)
        await self._link.refresh()
        self.notify.emit("success", "Signed out of the clinic on this workstation: sync waits until you sign in.")

    def _ca_edited(self, _text: str) -> None:
        self._ca_saved(edited=True)

    def _ca_saved(self, *, edited: bool) -> None:
        self.save_ca_button.setProperty("edited", edited)
        self.save_ca_button.setEnabled(edited and not self._busy)

    def save_ca_file(self) -> None:
        self._run(self._save_ca())

    async def _save_ca(self) -> None:
        path = self.ca_field.text()
        await self._link.call(self._link.service.update_connection, self._link.user_id, ca_file=path)
        self._ca_saved(edited=False)
        self.notify.emit("success", "The CA file was saved." if path else "The CA file was removed.")
        self._link.sync_now()

    def leave(self) -> None:
        self._run(self._leave())

    def _box(self, name: str, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, self.window())
        box.setObjectName(name)
        self.leave_box = box
        return box

    async def _leave(self) -> None:
        box = self._box(
            "leaveClinicDialog",
            QMessageBox.Icon.Question,
            "Leave the clinic?",
            "This workstation stops syncing your sessions with the clinic server. The clinic server keeps them.",
        )
        wipe_check = QCheckBox("Also remove this profile's data from this workstation")
        wipe_check.setObjectName("leaveWipeCheck")
        box.setCheckBox(wipe_check)
        leave = box.addButton("Leave clinic", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole))
        try:
            await run_dialog(box)
            chosen, wipe = box.clickedButton() is leave, wipe_check.isChecked()
        finally:
            self.leave_box = None
            box.deleteLater()
        if not chosen:
            return
        try:
            await self._link.call(self._link.service.leave, self._link.user_id, wipe=wipe)
        except ChangesWaitingError as exc:
            if not await self._leave_anyway(exc.message):
                return
            await self._link.call(self._link.service.leave, self._link.user_id, wipe=wipe, force=True)
        self._account = None
        await self._link.refresh()
        self.left.emit(wipe)
        self.notify.emit(
            "success",
            "You left the clinic on this workstation"
            + (", and this profile's data was removed from it." if wipe else "."),
        )

    async def _leave_anyway(self, refusal: str) -> bool:
        first = refusal.split(". ", 1)[0].rstrip(".") + "."  # the reason, without the command-line advice
        box = self._box(
            "leaveClinicForceDialog",
            QMessageBox.Icon.Warning,
            "Changes not sent yet",
            f"{first} Sync now and leave once they are sent, or leave anyway: the clinic server will not get them.",
        )
        anyway = box.addButton("Leave anyway", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole))
        try:
            await run_dialog(box)
            return box.clickedButton() is anyway
        finally:
            self.leave_box = None
            box.deleteLater()
