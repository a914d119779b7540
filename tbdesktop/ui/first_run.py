"""First run on a workstation: create the local therapist profile (name, optional email, passcode)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import UserInfo
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.buttons import dialog_buttons, primary_button
from tbdesktop.ui.forms import field_label
from tbdesktop.ui.resources import icon

CreateProfile = Callable[[str, str | None, str], Coroutine[Any, Any, UserInfo]]
MIN_PASSCODE = 6


class FirstRunDialog(QDialog):
    """Asks for the therapist's name, email and passcode; `create` persists the profile, errors show inline.

    The passcode unlocks the window after it locks itself and, on a computer without an OS keyring, opens the
    profile's encrypted keys."""

    def __init__(self, create: CreateProfile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("firstRunDialog")
        self.setWindowTitle("Welcome to TherapyBridge")
        self.setWindowIcon(icon("app"))
        self.setMinimumWidth(440)
        self._create = create
        self.profile: UserInfo | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(10)

        head = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(icon("app").pixmap(44, 44))
        head.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        title = QLabel("Welcome to TherapyBridge")
        title.setObjectName("dialogTitle")
        head.addWidget(title, 1, Qt.AlignmentFlag.AlignVCenter)
        layout.addLayout(head)
        hint = QLabel("Set up your profile on this workstation. Your sessions stay on this computer.")
        hint.setObjectName("dialogHint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addSpacing(8)

        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.setPlaceholderText("e.g. Dr. Alex Morgan")
        self.name_edit.setMaxLength(200)
        name_label = field_label("Your name", self.name_edit)
        layout.addWidget(name_label)
        layout.addWidget(self.name_edit)

        self.email_edit = QLineEdit()
        self.email_edit.setObjectName("emailEdit")
        self.email_edit.setPlaceholderText("name@clinic.org")
        email_label = field_label("Email (optional)", self.email_edit)
        layout.addWidget(email_label)
        layout.addWidget(self.email_edit)

        self.passcode_edit = QLineEdit()
        self.passcode_edit.setObjectName("passcodeEdit")
        self.passcode_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passcode_edit.setPlaceholderText("Unlocks TherapyBridge when it locks itself")
        passcode_label = field_label("Passcode (6 characters or more)", self.passcode_edit)
        self.confirm_edit = QLineEdit()
        self.confirm_edit.setObjectName("passcodeConfirmEdit")
        self.confirm_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm_edit.setPlaceholderText("The same passcode again")
        layout.addWidget(passcode_label)
        layout.addWidget(self.passcode_edit)
        layout.addWidget(self.confirm_edit)

        self.error_label = QLabel()
        self.error_label.setObjectName("formError")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        layout.addSpacing(6)

        self.continue_button = primary_button("Continue", "continueButton")
        buttons, _quit = dialog_buttons(self.continue_button, "Quit", "quitButton", self.submit, self.reject)
        layout.addWidget(buttons)

        self.name_edit.textChanged.connect(self._update_enabled)
        self._busy = False
        self._update_enabled()

    def _update_enabled(self) -> None:
        self.continue_button.setEnabled(bool(self.name_edit.text().strip()) and not self._busy)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def submit(self) -> None:
        if self._busy:
            return
        name = self.name_edit.text().strip()
        if not name:
            self.show_error("Please enter your name.")
            self.name_edit.setFocus()
            return
        email = self.email_edit.text().strip() or None
        passcode = self.passcode_edit.text()
        if len(passcode) < MIN_PASSCODE:
            self.show_error("Choose a passcode of 6 characters or more: it protects your sessions on this computer.")
            self.passcode_edit.setFocus()
            return
        if passcode != self.confirm_edit.text():
            self.show_error("The two passcodes differ.")
            self.confirm_edit.selectAll()
            self.confirm_edit.setFocus()
            return
        self._set_busy(True)
        self.show_error("")
        spawn(self._create(name, email, passcode), on_error=self._failed, on_done=self._created)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        # Read-only rather than disabled: disabling the focused field would move focus (and Enter) elsewhere.
        for edit in (self.name_edit, self.email_edit, self.passcode_edit, self.confirm_edit):
            edit.setReadOnly(busy)
        self._update_enabled()

    def _failed(self, message: str) -> None:
        self._set_busy(False)
        self.show_error(message)

    def _created(self, profile: UserInfo) -> None:
        self.profile = profile
        self._set_busy(False)
        self.accept()
