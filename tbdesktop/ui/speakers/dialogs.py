"""The dialogs of speaker corrections: split a line at a word, merge two speakers, add a speaker, and separate the
voices again with a chosen number of speakers."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.speakers.service import MAX_NAME, MAX_VOICES, NEW_SPEAKER
from tbdesktop.ui.buttons import dialog_buttons, primary_button
from tbdesktop.ui.transcript import ROLE_CHOICES, Line

NEW_SPEAKER_TEXT = "New speaker"


def _role_combo(name: str, *, unknown: bool = False) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    combo.setAccessibleName("Role")
    if unknown:
        combo.addItem("Not known yet", "")
    for value, text in ROLE_CHOICES:
        combo.addItem(text, value)
    return combo


def _name_edit(name: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setAccessibleName("Name")
    edit.setMaxLength(MAX_NAME)
    edit.setPlaceholderText("Optional")
    return edit


def _hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("dialogHint")
    label.setWordWrap(True)
    return label


def _combo(name: str, accessible: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    combo.setAccessibleName(accessible)
    return combo


def _clean_name(edit: QLineEdit) -> str | None:
    return " ".join(edit.text().split()) or None


def _begin(dialog: QDialog, name: str, title: str, hint: str | None = None) -> tuple[QVBoxLayout, QFormLayout]:
    """The dialog's column with its hint (if any) and an empty form, in that order."""
    dialog.setObjectName(name)
    dialog.setWindowTitle(title)
    layout = QVBoxLayout(dialog)
    if hint is not None:
        layout.addWidget(_hint(hint))
    form = QFormLayout()
    layout.addLayout(form)
    return layout, form


def _finish(
    dialog: QDialog, layout: QVBoxLayout, text: str, name: str, cancel_name: str, on_save: Callable[[], None]
) -> QPushButton:
    """The primary button and Cancel at the bottom of the column; returns the primary button."""
    button = primary_button(text, name)
    box, _cancel = dialog_buttons(button, "Cancel", cancel_name, on_save, dialog.reject)
    layout.addWidget(box)
    return button


def _error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("formError")
    label.setVisible(False)
    return label


class SplitLineDialog(QDialog):
    """The end of a line, from a chosen word on, becomes a new line of another (or a new) speaker."""

    def __init__(
        self, line: Line, at_word: int | None, speakers: list[tuple[str, str]], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        hint = f"The line at {line.stamp}: the words from the chosen one on become a new line."
        layout, form = _begin(self, "splitLineDialog", "Split line", hint)
        self.resize(560, 320)
        self.line = line
        self.words = line.text.split()
        layout.setSpacing(8)
        self.word_combo = _combo("splitWordCombo", "The new line starts at")
        for i in range(1, len(self.words)):
            self.word_combo.addItem(f"{i + 1}. {self.words[i]}", i)
        start = at_word if at_word is not None and 1 <= at_word < len(self.words) else 1
        self.word_combo.setCurrentIndex(max(0, self.word_combo.findData(start)))
        form.addRow("New line starts at", self.word_combo)
        self.speaker_combo = _combo("splitSpeakerCombo", "New line said by")
        for speaker, label in speakers:
            if speaker != line.speaker:
                self.speaker_combo.addItem(label, speaker)
        self.speaker_combo.addItem(NEW_SPEAKER_TEXT, NEW_SPEAKER)
        form.addRow("Said by", self.speaker_combo)
        self.role_combo = _role_combo("splitRoleCombo", unknown=True)
        form.addRow("New speaker's role", self.role_combo)
        self.name_edit = _name_edit("splitNameEdit")
        form.addRow("New speaker's name", self.name_edit)
        self.head_label = QLabel()
        self.head_label.setObjectName("splitHeadLabel")
        self.head_label.setWordWrap(True)
        self.tail_label = QLabel()
        self.tail_label.setObjectName("splitTailLabel")
        self.tail_label.setWordWrap(True)
        layout.addWidget(self.head_label)
        layout.addWidget(self.tail_label)
        layout.addStretch(1)
        self.save_button = _finish(self, layout, "Split", "splitSaveButton", "cancelSplitButton", self.accept)
        self.word_combo.currentIndexChanged.connect(self._preview)
        self.speaker_combo.currentIndexChanged.connect(self._preview)
        self._preview()
        self.word_combo.setFocus()

    def _preview(self) -> None:
        at = self.at_word
        stays = " ".join(self.words[:at])
        moves = " ".join(self.words[at:])
        self.head_label.setText(f"Stays with {self.line.label}: “{stays}”")
        self.tail_label.setText(f"New line of {self.speaker_combo.currentText()}: “{moves}”")
        new = self.speaker == NEW_SPEAKER
        self.role_combo.setEnabled(new)
        self.name_edit.setEnabled(new)

    @property
    def at_word(self) -> int:
        return int(self.word_combo.currentData() or 1)

    @property
    def speaker(self) -> str:
        return str(self.speaker_combo.currentData() or NEW_SPEAKER)

    @property
    def role(self) -> str | None:
        return str(self.role_combo.currentData() or "") or None if self.speaker == NEW_SPEAKER else None

    @property
    def name(self) -> str | None:
        return _clean_name(self.name_edit) if self.speaker == NEW_SPEAKER else None


class MergeSpeakersDialog(QDialog):
    """Every line of one speaker becomes another's; the first one disappears."""

    def __init__(self, speakers: list[tuple[str, str]], source: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        hint = (
            "Use this when one voice was taken for two. Every line of the first speaker goes to "
            "the second; the lines keep their place and numbers."
        )
        layout, form = _begin(self, "mergeSpeakersDialog", "Merge speakers", hint)
        self.source_combo = _combo("mergeFromCombo", "Merge")
        self.into_combo = _combo("mergeIntoCombo", "Into")
        for speaker, label in speakers:
            self.source_combo.addItem(label, speaker)
            self.into_combo.addItem(label, speaker)
        if source is not None:
            self.source_combo.setCurrentIndex(max(0, self.source_combo.findData(source)))
        self.into_combo.setCurrentIndex(1 if self.source_combo.currentIndex() == 0 and len(speakers) > 1 else 0)
        form.addRow("Merge", self.source_combo)
        form.addRow("Into", self.into_combo)
        self.error_label = _error_label()
        layout.addWidget(self.error_label)
        self.save_button = _finish(self, layout, "Merge", "mergeSaveButton", "cancelMergeButton", self._save)

    @property
    def source(self) -> str:
        return str(self.source_combo.currentData() or "")

    @property
    def into(self) -> str:
        return str(self.into_combo.currentData() or "")

    def _save(self) -> None:
        if not self.source or self.source == self.into:
            self.error_label.setText("Choose two different speakers.")
            self.error_label.setVisible(True)
            return
        self.accept()


class AddSpeakerDialog(QDialog):
    """A new speaker with a role and, if wanted, a name."""

    def __init__(self, title: str = "Add speaker", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, form = _begin(self, "addSpeakerDialog", title)
        self.role_combo = _role_combo("addSpeakerRoleCombo")
        self.role_combo.setCurrentIndex(max(0, self.role_combo.findData("participant")))
        form.addRow("Role", self.role_combo)
        self.name_edit = _name_edit("addSpeakerNameEdit")
        form.addRow("Name", self.name_edit)
        self.save_button = _finish(self, layout, "Add", "addSpeakerSaveButton", "cancelAddSpeakerButton", self.accept)

    @property
    def role(self) -> str:
        return str(self.role_combo.currentData() or "")

    @property
    def name(self) -> str | None:
        return _clean_name(self.name_edit)


class RediarizeDialog(QDialog):
    """Separate the voices again from the recording, with a number of speakers or automatically."""

    def __init__(self, current: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        hint = (
            "The recording's voices are separated again and the lines given to them. The words stay as they "
            "are, and lines you corrected keep their speaker. The note can be regenerated afterwards."
        )
        layout, form = _begin(self, "rediarizeDialog", "Re-run speaker separation", hint)
        self.voices_spin = QSpinBox()
        self.voices_spin.setObjectName("rediarizeVoicesSpin")
        self.voices_spin.setAccessibleName("Number of voices")
        self.voices_spin.setRange(1, MAX_VOICES)
        self.voices_spin.setValue(min(max(current, 1), MAX_VOICES))
        form.addRow("Voices", self.voices_spin)
        self.auto_check = QCheckBox("Decide automatically")
        self.auto_check.setObjectName("rediarizeAutoCheck")
        self.auto_check.toggled.connect(lambda on: self.voices_spin.setEnabled(not on))
        form.addRow("", self.auto_check)
        self.start_button = _finish(
            self, layout, "Separate again", "rediarizeStartButton", "cancelRediarizeButton", self.accept
        )

    @property
    def voices(self) -> int | None:
        return None if self.auto_check.isChecked() else int(self.voices_spin.value())
