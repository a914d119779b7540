"""The Settings page's API key field."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from tbdesktop.ui.forms import hint_label, mark_invalid, repolish

KEY_STORED = "A key is stored"
NO_KEY = "No key stored"


class KeyField(QWidget):
    """An API key: typed into a password field, saved to or cleared from the secret store; never shown back."""

    saveRequested = Signal(str, str)  # key name, value
    clearRequested = Signal(str)  # key name

    def __init__(self, key_name: str, label: str, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key_name = key_name
        self.setObjectName(f"{key_name}Field")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.edit = QLineEdit()
        self.edit.setObjectName(f"{key_name}Edit")
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setAccessibleName(label)
        self.edit.setPlaceholderText(placeholder)
        self.edit.setMaxLength(4096)
        self.edit.returnPressed.connect(self._save)
        self.save_button = QPushButton("Save key")
        self.save_button.setObjectName(f"{key_name}SaveButton")
        self.save_button.setAccessibleName(f"Save {label.lower()}")
        self.save_button.setAutoDefault(False)
        self.save_button.clicked.connect(self._save)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName(f"{key_name}ClearButton")
        self.clear_button.setAccessibleName(f"Clear {label.lower()}")
        self.clear_button.setAutoDefault(False)
        self.clear_button.clicked.connect(lambda: self.clearRequested.emit(self.key_name))
        row.addWidget(self.edit, 1)
        row.addWidget(self.save_button)
        row.addWidget(self.clear_button)
        layout.addLayout(row)
        self.status = hint_label(NO_KEY, "keyStatus")
        self.status.setAccessibleName(f"{label} status")
        layout.addWidget(self.status)
        self.edit.textChanged.connect(self._typed)
        self._stored: bool | None = False
        self._problem: str | None = None
        self._typed("")

    def _typed(self, text: str) -> None:
        self.save_button.setEnabled(bool(text.strip()))
        if self.status.property("state") == "error":
            self._show_status()
        mark_invalid(self.edit, False)

    def _save(self) -> None:
        if self.edit.text().strip():
            self.saveRequested.emit(self.key_name, self.edit.text())

    def set_stored(self, stored: bool | None, problem: str | None = None) -> None:
        self._stored = stored
        self._problem = problem
        self.edit.clear()
        self._show_status()
        self.clear_button.setEnabled(stored is not False)

    def _show_status(self) -> None:
        if self._stored is None:
            self._set_status(self._problem or "The secret store cannot be read right now.", "unknown")
        else:
            self._set_status(KEY_STORED if self._stored else NO_KEY, "stored" if self._stored else "none")

    def _set_status(self, text: str, state: str) -> None:
        self.status.setText(text)
        self.status.setProperty("state", state)
        repolish(self.status)

    def show_error(self, message: str) -> None:
        self._set_status(message, "error")
        mark_invalid(self.edit, True)
