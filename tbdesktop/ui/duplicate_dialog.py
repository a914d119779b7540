"""Asked when a recording being imported is one already imported: open that session, or import it again."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

OPEN = "open"
AGAIN = "again"


class DuplicateDialog(QMessageBox):
    def __init__(self, message: str, parent: QWidget | None = None) -> None:
        super().__init__(QMessageBox.Icon.Information, "Already imported", message, parent=parent)
        self.setObjectName("duplicateDialog")
        self.open_button: QPushButton = self.addButton("Open that session", QMessageBox.ButtonRole.AcceptRole)
        self.again_button: QPushButton = self.addButton("Import again", QMessageBox.ButtonRole.ActionRole)
        self.cancel_button: QPushButton = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.open_button)
        self.setEscapeButton(self.cancel_button)

    def choice(self) -> str | None:
        clicked = self.clickedButton()
        if clicked is self.open_button:
            return OPEN
        if clicked is self.again_button:
            return AGAIN
        return None
