"""The Profile section of Settings: the clinician's name and email address, and changing the passcode."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from tbdesktop.services.dto import UserInfo
from tbdesktop.ui.forms import card_box, card_form, field_label, hint_label


class ProfileSection(QFrame):
    """Shows the signed-in clinician's profile and asks for changes; the page's controller makes them."""

    notify = Signal(str, str)  # ("success" | "error", message)
    profileChanged = Signal(UserInfo)
    saveRequested = Signal(str, str, str)  # name, email, practice
    passcodeRequested = Signal(str, str)  # new passcode, current passcode ("" when there is none)

    def __init__(self, user: UserInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.user = user
        box = card_box(self, "Profile")
        box.addWidget(
            hint_label(
                "Your name as it appears on notes and addenda, your email address, and the practice named on the "
                "notes you export.",
                "muted",
            )
        )
        box.addSpacing(8)
        form = card_form("profileForm")
        box.addLayout(form)

        self.name_edit = QLineEdit(user.display_name)
        self.name_edit.setObjectName("profileNameEdit")
        self.name_edit.setAccessibleName("Your name")
        self.name_edit.setMaxLength(200)
        form.addRow(field_label("&Name", self.name_edit), self.name_edit)
        self.email_edit = QLineEdit(user.email or "")
        self.email_edit.setObjectName("profileEmailEdit")
        self.email_edit.setAccessibleName("Your email address")
        self.email_edit.setPlaceholderText("name@clinic.example")
        self.email_edit.setMaxLength(320)
        form.addRow(field_label("&Email", self.email_edit), self.email_edit)
        self.practice_edit = QLineEdit()
        self.practice_edit.setObjectName("profilePracticeEdit")
        self.practice_edit.setAccessibleName("Practice name on exported notes")
        self.practice_edit.setPlaceholderText("e.g. Riverside Counselling — printed at the top of exported notes")
        self.practice_edit.setMaxLength(200)
        form.addRow(field_label("Pract&ice", self.practice_edit), self.practice_edit)
        self.profile_error = hint_label("", "fieldError")
        self.profile_error.hide()
        form.addRow("", self.profile_error)
        self.save_profile_button = QPushButton("Save profile")
        self.save_profile_button.setObjectName("saveProfileButton")
        self.save_profile_button.setAutoDefault(False)
        self.save_profile_button.clicked.connect(self.save_profile)
        row = QHBoxLayout()
        row.addWidget(self.save_profile_button)
        row.addStretch(1)
        form.addRow("", row)

        self.current_edit = self._secret("currentPasscodeEdit", "Current passcode")
        self.new_edit = self._secret("newPasscodeEdit", "New passcode")
        self.confirm_edit = self._secret("confirmPasscodeEdit", "New passcode again")
        self.current_label = field_label("C&urrent passcode", self.current_edit)
        form.addRow(self.current_label, self.current_edit)
        form.addRow(field_label("New &passcode", self.new_edit), self.new_edit)
        form.addRow(field_label("&Again", self.confirm_edit), self.confirm_edit)
        self.passcode_error = hint_label("", "fieldError")
        self.passcode_error.hide()
        form.addRow("", self.passcode_error)
        self.passcode_button = QPushButton("Change passcode")
        self.passcode_button.setObjectName("changePasscodeButton")
        self.passcode_button.setAutoDefault(False)
        self.passcode_button.clicked.connect(self.change_passcode)
        row = QHBoxLayout()
        row.setSpacing(10)
        row.addWidget(self.passcode_button)
        row.addWidget(hint_label("It unlocks the window after a pause and opens your stored keys."), 1)
        form.addRow("", row)

    def _secret(self, name: str, label: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setAccessibleName(label)
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setMaxLength(128)
        return edit

    @staticmethod
    def _show(label: QLabel, message: str) -> None:
        label.setText(message)
        label.setVisible(bool(message))

    def save_profile(self) -> None:
        self._show(self.profile_error, "")
        self.save_profile_button.setEnabled(False)
        self.saveRequested.emit(self.name_edit.text(), self.email_edit.text(), self.practice_edit.text())

    def profile_saved(self, info: UserInfo) -> None:
        self.save_profile_button.setEnabled(True)
        self.user = info
        self.profileChanged.emit(info)
        self.notify.emit("success", "Profile saved.")

    def profile_failed(self, message: str) -> None:
        self.save_profile_button.setEnabled(True)
        self._show(self.profile_error, message)

    def show_practice(self, name: str) -> None:
        self.practice_edit.setText(name)

    def change_passcode(self) -> None:
        self._show(self.passcode_error, "")
        new = self.new_edit.text()
        if new != self.confirm_edit.text():
            self._show(self.passcode_error, "The new passcode and its repeat differ.")
            return
        self.passcode_button.setEnabled(False)
        self.passcodeRequested.emit(new, self.current_edit.text())

    def passcode_changed(self) -> None:
        self.passcode_button.setEnabled(True)
        for edit in (self.current_edit, self.new_edit, self.confirm_edit):
            edit.clear()
        self.notify.emit("success", "Passcode changed.")

    def passcode_failed(self, message: str) -> None:
        self.passcode_button.setEnabled(True)
        self._show(self.passcode_error, message)
