"""Settings widgets for a note model on this workstation: its file with a picker, and the test run's result."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.notes_model import ModelTestResult

GGUF_FILTER = "GGUF models (*.gguf)"


def _repolish(widget: QWidget) -> None:
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class ModelFileField(QWidget):
    """A GGUF file's path: typed, pasted, or chosen with Browse… (a non-blocking file dialog)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notesModelFileField")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.edit = QLineEdit()
        self.edit.setObjectName("notesModelFileEdit")
        self.edit.setPlaceholderText("The .gguf file IT installed, e.g. C:\\Models\\notes.gguf")
        self.edit.setMaxLength(2000)
        self.edit.setAccessibleName("Note model file")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setObjectName("notesModelBrowseButton")
        self.browse_button.setAccessibleName("Choose the note model file")
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

    def browse(self) -> None:
        if self.dialog is not None:
            self.dialog.raise_()
            return
        current = Path(self.text()).expanduser() if self.text() else None
        start = str(current.parent) if current is not None and current.parent.is_dir() else str(Path.home())
        dialog = QFileDialog(self, "Choose the note model file", start, f"{GGUF_FILTER};;All files (*)")
        dialog.setObjectName("notesModelFileDialog")
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


class ModelTestBox(QWidget):
    """Test this model: the button, a busy bar with Cancel while the run lasts, then what the run found."""

    testRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelTestBox")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.test_button = QPushButton("Test this model")
        self.test_button.setObjectName("testNotesModelButton")
        self.test_button.setToolTip("Load the model in a separate process and time a short answer")
        self.test_button.setAutoDefault(False)
        self.test_button.clicked.connect(self.testRequested)
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("modelTestBusy")
        self.busy_bar.setRange(0, 0)  # no fraction to show: loading says nothing until it is done
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumWidth(160)
        self.busy_bar.setAccessibleName("Testing the model")
        self.busy_bar.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelModelTestButton")
        self.cancel_button.setAccessibleName("Cancel the model test")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.cancel_button.hide()
        row.addWidget(self.test_button)
        row.addWidget(self.busy_bar)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.result_label = QLabel()
        self.result_label.setObjectName("modelTestResult")
        self.result_label.setWordWrap(True)
        self.result_label.setAccessibleName("Model test result")
        self.result_label.hide()
        layout.addWidget(self.result_label)
        self.result: ModelTestResult | None = None

    @property
    def busy(self) -> bool:
        return not self.busy_bar.isHidden()

    def set_busy(self, busy: bool) -> None:
        self.test_button.setEnabled(not busy)
        self.test_button.setText("Testing…" if busy else "Test this model")
        self.busy_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.result = None
            self._show("Loading the model in a separate process and timing a short answer…", "busy")

    def show_result(self, result: ModelTestResult) -> None:
        self.result = result
        self._show("\n".join(result.lines()), "ok" if result.ok else "error")

    def show_message(self, text: str, state: str) -> None:
        self._show(text, state)

    def clear(self) -> None:
        self.result = None
        self.result_label.hide()

    def _show(self, text: str, state: str) -> None:
        self.result_label.setText(text)
        self.result_label.setProperty("state", state)
        _repolish(self.result_label)
        self.result_label.show()
