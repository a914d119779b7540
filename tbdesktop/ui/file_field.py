"""A file path field: typed, or chosen with Browse… (a non-modal file dialog, so the window never blocks)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget


class FileField(QWidget):
    changed = Signal(str)

    def __init__(
        self,
        names: tuple[str, str, str, str],
        *,
        what: str,
        placeholder: str,
        dialog_title: str,
        file_filter: str,
        max_length: int = 1000,
        parent: QWidget | None = None,
    ) -> None:
        """``names``: object names of the field, its line edit, its Browse… button and its file dialog."""
        super().__init__(parent)
        field_name, edit_name, button_name, self._dialog_name = names
        self._dialog_title = dialog_title
        self._filter = file_filter
        self.setObjectName(field_name)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.edit = QLineEdit()
        self.edit.setObjectName(edit_name)
        self.edit.setAccessibleName(what)
        self.edit.setPlaceholderText(placeholder)
        self.edit.setMaxLength(max_length)
        self.edit.textChanged.connect(self.changed)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setObjectName(button_name)
        self.browse_button.setAccessibleName(f"Choose the {what[0].lower()}{what[1:]}")
        self.browse_button.setAutoDefault(False)
        self.browse_button.clicked.connect(self.browse)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse_button)
        self.dialog: QFileDialog | None = None

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's naming, as the line edit it stands for
        self.edit.setText(text)
        self.edit.setCursorPosition(0)

    def setReadOnly(self, read_only: bool) -> None:  # noqa: N802
        self.edit.setReadOnly(read_only)
        self.browse_button.setEnabled(not read_only)

    def browse(self) -> None:
        if self.dialog is not None:
            self.dialog.raise_()
            return
        current = Path(self.text()).expanduser() if self.text() else None
        start = str(current.parent) if current is not None and current.parent.is_dir() else str(Path.home())
        dialog = QFileDialog(self, self._dialog_title, start, self._filter)
        dialog.setObjectName(self._dialog_name)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        dialog.fileSelected.connect(self.setText)
        dialog.finished.connect(self._closed)
        self.dialog = dialog
        dialog.open()

    def _closed(self, _result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.deleteLater()
