"""Correct one transcript line: its words, and who said it."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.ui.buttons import dialog_buttons, primary_button
from tbdesktop.ui.transcript.lines import Line


class LineFixDialog(QDialog):
    """Correct one transcript line: its words, and who said it."""

    def __init__(
        self,
        line: Line,
        speakers: list[tuple[str, str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("lineFixDialog")
        self.setWindowTitle("Correct transcript line")
        self.resize(520, 300)
        self.line = line
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        self.hint_label = QLabel(
            f"The line at {line.stamp}. The note can be regenerated afterwards to use the correction."
        )
        self.hint_label.setObjectName("dialogHint")
        self.hint_label.setWordWrap(True)
        layout.addWidget(self.hint_label)
        words_label = QLabel("Words")
        words_label.setObjectName("fieldLabel")
        layout.addWidget(words_label)
        self.text_edit = QPlainTextEdit(line.text)
        self.text_edit.setObjectName("lineTextEdit")
        self.text_edit.setAccessibleName("Words of the line")
        self.text_edit.setTabChangesFocus(True)
        words_label.setBuddy(self.text_edit)
        layout.addWidget(self.text_edit, 1)
        speaker_label_ = QLabel("Spoken by")
        speaker_label_.setObjectName("fieldLabel")
        layout.addWidget(speaker_label_)
        self.speaker_combo = QComboBox()
        self.speaker_combo.setObjectName("lineSpeakerCombo")
        self.speaker_combo.setAccessibleName("Spoken by")
        for speaker, label in speakers:
            self.speaker_combo.addItem(label, speaker)
        self.speaker_combo.setCurrentIndex(max(0, self.speaker_combo.findData(line.speaker)))
        speaker_label_.setBuddy(self.speaker_combo)
        layout.addWidget(self.speaker_combo)
        self.error_label = QLabel()
        self.error_label.setObjectName("formError")
        self.error_label.setVisible(False)
        layout.addWidget(self.error_label)
        self.save_button = primary_button("Save", "saveLineButton")
        box, _cancel = dialog_buttons(self.save_button, "Cancel", "cancelLineButton", self._save, self.reject)
        layout.addWidget(box)
        self.text_edit.setFocus()

    def warn(self, text: str) -> None:
        self.hint_label.setText(f"{self.hint_label.text()} {text}")

    @property
    def text(self) -> str:
        return " ".join(self.text_edit.toPlainText().split())

    @property
    def speaker(self) -> str:
        return str(self.speaker_combo.currentData() or self.line.speaker)

    def _save(self) -> None:
        if not self.text:
            self.error_label.setText("A line cannot be empty.")
            self.error_label.setVisible(True)
            return
        self.accept()
