"""The primary/secondary button row every dialog uses."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialogButtonBox, QPushButton


def dialog_buttons(
    primary: QPushButton,
    secondary_text: str,
    secondary_name: str,
    on_primary: Callable[[], None],
    on_secondary: Callable[[], None],
) -> tuple[QDialogButtonBox, QPushButton]:
    """A button box whose primary button takes Enter; the secondary never does (no auto-default)."""
    primary.setProperty("primary", True)
    primary.setDefault(True)
    secondary = QPushButton(secondary_text)
    secondary.setObjectName(secondary_name)
    # An auto-default button takes Enter when it has focus, so Enter could otherwise cancel or quit.
    secondary.setAutoDefault(False)
    box = QDialogButtonBox()
    box.addButton(primary, QDialogButtonBox.ButtonRole.AcceptRole)
    box.addButton(secondary, QDialogButtonBox.ButtonRole.RejectRole)
    primary.clicked.connect(on_primary)
    secondary.clicked.connect(on_secondary)
    return box, secondary


def primary_button(text: str, name: str, button_icon: QIcon | None = None) -> QPushButton:
    button = QPushButton(button_icon, text) if button_icon is not None else QPushButton(text)
    button.setObjectName(name)
    return button


def action_button(text: str, name: str, button_icon: QIcon | None = None) -> QPushButton:
    """A primary call-to-action outside dialogs (e.g. "Import recording" in the header and empty state)."""
    button = primary_button(text, name, button_icon)
    button.setProperty("primary", True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button
