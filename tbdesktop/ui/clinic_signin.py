"""Joining a clinic, or signing in to it again: the server address, the clinician's email and password, whether the
password is remembered on this workstation, and the clinic's CA file. The call runs off the event loop; what the
server or the service refuses is shown inside the dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.errors import TBError
from tbdesktop.policy import LOCKED_TEXT
from tbdesktop.services.sync.connect import public_url
from tbdesktop.services.sync.service import SyncAccountInfo
from tbdesktop.ui.aio import run_dialog, spawn
from tbdesktop.ui.buttons import dialog_buttons, primary_button
from tbdesktop.ui.clinic_link import ClinicLink
from tbdesktop.ui.file_field import FileField
from tbdesktop.ui.forms import LockedNote, lock_tooltip
from tbdesktop.ui.resources import icon

SERVER_PLACEHOLDER = "postgresql://host:5432/clinic"
CA_FILTER = "Certificates (*.crt *.pem *.cer);;All files (*)"


def shown_server(url: str) -> str:
    """The server address without a user name or password (as the sync service stores and shows it)."""
    try:
        return public_url(url)
    except TBError:
        return url


class CaFileField(FileField):
    """The clinic's CA file (only when IT gave one)."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(
            (f"{name}Field", f"{name}Edit", f"{name}BrowseButton", "caFileDialog"),
            what="Clinic CA file",
            placeholder="Only when IT gave you one (e.g. clinic-ca.crt)",
            dialog_title="Choose the clinic's CA file",
            file_filter=CA_FILTER,
            parent=parent,
        )


class ClinicSignInDialog(QDialog):
    """With ``account`` None the profile joins the clinic; with it, the clinician gives the password again (the
    server and email are shown, not edited). When the clinic's IT set the server (policy ``clinic_server``), its
    address and CA file are filled in and read-only."""

    def __init__(self, link: ClinicLink, account: SyncAccountInfo | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("clinicSignInDialog")
        self.setWindowIcon(icon("app"))
        self.setMinimumWidth(500)
        self._link = link
        self.account = account
        self.joined: SyncAccountInfo | None = None
        self._busy = False
        rejoin = account is not None
        managed = None if rejoin else link.policy.clinic_server
        self.managed_server = managed.url if managed is not None else None
        self.managed_ca = managed.ca_file if managed is not None else None
        self.setWindowTitle("Sign in to the clinic" if rejoin else "Join a clinic")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(10)
        title = QLabel("Sign in to the clinic" if rejoin else "Join your clinic")
        title.setObjectName("dialogTitle")
        layout.addWidget(title)
        hint = QLabel(
            "Give your clinic password again to go on syncing. Your work on this computer is kept meanwhile."
            if rejoin
            else "Your sessions stay on this computer and are also kept on the clinic's server, so you can work on "
            "any workstation of the clinic. "
            + (
                "Your clinic's IT has set the server for this computer."
                if managed
                else "IT gives you the server address."
            )
        )
        hint.setObjectName("dialogHint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addSpacing(4)

        form = QFormLayout()
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(8)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.server_edit = QLineEdit(account.server if account else "")
        self.server_edit.setObjectName("clinicServerEdit")
        self.server_edit.setAccessibleName("Clinic server address")
        self.server_edit.setPlaceholderText(SERVER_PLACEHOLDER)
        self.server_edit.setMaxLength(1000)
        self.email_edit = QLineEdit(account.email if account else (link.user.email or ""))
        self.email_edit.setObjectName("clinicEmailEdit")
        self.email_edit.setAccessibleName("Clinic email")
        self.email_edit.setPlaceholderText("name@clinic.org")
        self.email_edit.setMaxLength(320)
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("clinicPasswordEdit")
        self.password_edit.setAccessibleName("Clinic password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setMaxLength(1000)
        self.ca_field = CaFileField("clinicCaFile")
        self.server_note = LockedNote()
        self.server_note.setObjectName("clinicServerLocked")
        self.ca_note = LockedNote()
        self.ca_note.setObjectName("clinicCaLocked")
        if self.managed_server is not None:
            self.server_edit.setText(shown_server(self.managed_server))
            self._lock(self.server_edit, self.server_note)
        if self.managed_ca is not None:
            self.ca_field.setText(self.managed_ca)
            self.ca_field.setReadOnly(True)
            self.ca_field.edit.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            self.ca_field.setToolTip(lock_tooltip(LOCKED_TEXT))
            self.ca_note.show()
        form.addRow(self._label("&Server", self.server_edit), self._with_note(self.server_edit, self.server_note))
        form.addRow(self._label("&Email", self.email_edit), self.email_edit)
        form.addRow(self._label("&Password", self.password_edit), self.password_edit)
        if rejoin:
            for edit in (self.server_edit, self.email_edit):
                edit.setReadOnly(True)
                edit.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        else:
            form.addRow(self._label("&CA file", self.ca_field.edit), self._with_note(self.ca_field, self.ca_note))
        self.ca_field.setVisible(not rejoin)
        layout.addLayout(form)
        self.remember_check = QCheckBox("Remember on this workstation")
        self.remember_check.setObjectName("clinicRememberCheck")
        self.remember_check.setChecked(account.remember if account else True)
        self.remember_check.setToolTip(
            "Keeps the password in this computer's secret store, so sync goes on after a restart. "
            "Leave it off on a shared computer: you sign in each time TherapyBridge starts."
        )
        layout.addWidget(self.remember_check)

        self.busy_label = QLabel("Connecting to the clinic server…")
        self.busy_label.setObjectName("muted")
        self.busy_label.hide()
        layout.addWidget(self.busy_label)
        self.error_label = QLabel()
        self.error_label.setObjectName("formError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        layout.addSpacing(4)
        self.submit_button = primary_button("Sign in" if rejoin else "Join clinic", "clinicSignInButton")
        buttons, self.cancel_button = dialog_buttons(
            self.submit_button, "Cancel", "clinicCancelButton", self.submit, self.reject
        )
        layout.addWidget(buttons)
        (self.password_edit if rejoin or self.server_edit.text() else self.server_edit).setFocus()

    @staticmethod
    def _lock(edit: QLineEdit, note: LockedNote) -> None:
        edit.setReadOnly(True)
        edit.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        edit.setToolTip(lock_tooltip(LOCKED_TEXT))
        note.show()

    @staticmethod
    def _with_note(field: QWidget, note: LockedNote) -> QWidget:
        """The field with the "Set by your clinic's IT" note under it (shown only where IT set the value)."""
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(3)
        column.addWidget(field)
        column.addWidget(note)
        return box

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text)
        label.setObjectName("fieldLabel")
        label.setBuddy(buddy)
        return label

    @property
    def busy(self) -> bool:
        return self._busy

    def error_text(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def submit(self) -> None:
        if self._busy:
            return
        if not self.server_edit.text().strip():
            self.show_error("Enter the clinic server address IT gave you (postgresql://host:5432/clinic).")
            self.server_edit.setFocus()
            return
        if not self.email_edit.text().strip():
            self.show_error("Enter the email address your clinic account uses.")
            self.email_edit.setFocus()
            return
        if not self.password_edit.text():
            self.show_error("Enter your clinic password.")
            self.password_edit.setFocus()
            return
        self.show_error("")
        self._set_busy(True)
        spawn(self._sign_in(), on_error=self._failed, on_done=lambda _none: self._signed_in())

    async def _sign_in(self) -> None:
        service, link = self._link.service, self._link
        password, remember = self.password_edit.text(), self.remember_check.isChecked()
        if self.account is None:
            self.joined = await link.call(
                service.join,
                self.managed_server or self.server_edit.text().strip(),
                self.email_edit.text().strip(),
                password,
                remember=remember,
                ca_file=self.managed_ca or self.ca_field.text() or None,
            )
        else:
            await link.call(service.sign_in, self.account.user_id, password, remember=remember)
        link.sync_now()
        link.schedule_refresh()

    @property
    def other_profile(self) -> bool:
        """The clinic login was linked to another profile of this workstation than the one signed in."""
        return self.joined is not None and self.joined.user_id != self._link.user_id

    def reject(self) -> None:
        if not self._busy:  # the call under way finishes first (it gives up within seconds)
            super().reject()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.busy_label.setVisible(busy)
        # Read-only rather than disabled: disabling the focused field would move focus (and Enter) elsewhere.
        self.password_edit.setReadOnly(busy)
        if self.account is None:
            self.server_edit.setReadOnly(busy or self.managed_server is not None)
            self.email_edit.setReadOnly(busy)
            self.ca_field.setReadOnly(busy or self.managed_ca is not None)
        self.remember_check.setEnabled(not busy)
        self.submit_button.setEnabled(not busy)

    def _failed(self, message: str) -> None:
        self._set_busy(False)
        self.show_error(message)
        self.password_edit.setFocus()
        self.password_edit.selectAll()

    def _signed_in(self) -> None:
        self._set_busy(False)
        self.password_edit.clear()
        self.accept()


async def sign_in_to_clinic(link: ClinicLink, parent: QWidget | None = None) -> tuple[bool, str | None]:
    """Opens the dialog for the signed-in profile: to join, or to sign in again when it has joined already.
    Returns whether it succeeded, and a notice for the window when the login belongs to another profile here."""
    account = await link.account()
    dialog = ClinicSignInDialog(link, account, parent)
    try:
        accepted = await run_dialog(dialog) == QDialog.DialogCode.Accepted
        notice = None
        if accepted and dialog.other_profile and dialog.joined is not None:
            notice = (
                f"{dialog.joined.email} joined the clinic as another profile on this workstation "
                f"({dialog.joined.display_name}); sign in to TherapyBridge as that profile to work with its sessions."
            )
        return accepted, notice
    finally:
        dialog.deleteLater()
