"""The bars above a session's transcript: its speakers (names, roles, talk time), and the consent it waits for."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from tbdesktop.services.session_lifecycle import MAX_SPEAKER_NAME
from tbdesktop.ui.transcript import ROLE_CHOICES, SPEAKER_COLOURS, speaker_name, speaker_number


class SpeakersBar(QFrame):
    """One entry per detected speaker: colour chip, a name the user can give, a role the user can correct, and
    talk time."""

    roleChanged = Signal(str, str)  # speaker, role
    nameChanged = Signal(str, str)  # speaker, name ("" clears it)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("speakersBar")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(20, 8, 20, 8)
        self._layout.setSpacing(8)
        self.combos: dict[str, QComboBox] = {}
        self.name_edits: dict[str, QLineEdit] = {}
        self._names: dict[str, str] = {}

    def set_speakers(
        self,
        speakers: dict[str, dict[str, object]],
        colours: dict[str, tuple[str, str]],
        *,
        names_editable: bool = False,
        hide_names: bool = False,
    ) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # no focus-out edits from a row that is going away
                widget.deleteLater()
        self.combos = {}
        self.name_edits = {}
        self._names = {}
        title = QLabel("Speakers")
        title.setObjectName("sectionTitle")
        self._layout.addWidget(title)
        self._layout.addSpacing(6)
        for position, speaker in enumerate(sorted(speakers)):
            entry = speakers[speaker]
            if position:
                self._layout.addSpacing(14)
            fg, bg = colours.get(speaker, SPEAKER_COLOURS[len(self.combos) % len(SPEAKER_COLOURS)])
            chip = QLabel(speaker_number(speaker))
            chip.setObjectName("speakerChip")
            chip.setStyleSheet(f"color:{fg}; background:{bg}; font-weight:600; padding:2px 8px; border-radius:8px;")
            self._layout.addWidget(chip)
            if names_editable:
                self._layout.addWidget(self._name_edit(speaker, entry, hide_names))
            combo = QComboBox()
            combo.setObjectName(f"roleCombo_{speaker}")
            combo.setAccessibleName(f"Role of {speaker_number(speaker)}")
            for value, text in ROLE_CHOICES:
                combo.addItem(text, value)
            role = str(entry.get("role") or "")
            index = combo.findData(role)
            if index < 0:
                combo.insertItem(0, "Unknown", "")
                index = 0
            combo.setCurrentIndex(index)
            combo.activated.connect(lambda _i, s=speaker, c=combo: self._chosen(s, c))
            self._layout.addWidget(combo)
            talk = entry.get("talk_time_s")
            if isinstance(talk, (int, float)) and talk > 0:
                minutes = QLabel(f"{talk / 60:.1f} min" if talk >= 60 else f"{talk:.0f} s")
                minutes.setObjectName("muted")
                self._layout.addWidget(minutes)
            self.combos[speaker] = combo
        self._layout.addStretch(1)
        self.setVisible(bool(speakers))

    def focus_chain(self) -> list[QWidget]:
        """The bar's controls in reading order (for the view's tab order)."""
        chain: list[QWidget] = []
        for speaker in sorted(self.combos):
            if speaker in self.name_edits:
                chain.append(self.name_edits[speaker])
            chain.append(self.combos[speaker])
        return chain

    def _name_edit(self, speaker: str, entry: dict[str, object], hidden: bool) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(f"speakerName_{speaker}")
        edit.setAccessibleName(f"Name of {speaker_number(speaker)}")
        edit.setMaxLength(MAX_SPEAKER_NAME)
        edit.setFixedWidth(120)
        if hidden:
            edit.setPlaceholderText("Hidden")
            edit.setEnabled(False)
            edit.setToolTip("Speaker names are hidden while the session is anonymous")
        else:
            name = speaker_name({speaker: entry}, speaker) or ""
            edit.setText(name)
            edit.setPlaceholderText("Add a name")
            edit.setToolTip(f"What to call {speaker_number(speaker)} in the transcript (Enter to save)")
            self._names[speaker] = name
            edit.editingFinished.connect(lambda s=speaker, e=edit: self._named(s, e))
        self.name_edits[speaker] = edit
        return edit

    def _named(self, speaker: str, edit: QLineEdit) -> None:
        name = " ".join(edit.text().split())
        if speaker in self._names and name != self._names[speaker]:
            self._names[speaker] = name
            self.nameChanged.emit(speaker, name)

    def _chosen(self, speaker: str, combo: QComboBox) -> None:
        role = str(combo.currentData() or "")
        if role:
            self.roleChanged.emit(speaker, role)


class ConsentBar(QFrame):
    """Shown while a session waits for the client's consent: record it here and processing starts."""

    consentRecorded = Signal(str)  # verbal | written | electronic

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("consentBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 10, 20, 10)
        label = QLabel("This session waits for the client's consent to be recorded before it is processed.")
        label.setWordWrap(True)
        layout.addWidget(label, 1)
        self.buttons: dict[str, QToolButton] = {}
        for method in ("verbal", "written", "electronic"):
            button = QToolButton()
            button.setObjectName(f"consent_{method}")
            button.setText(f"{method.title()} consent")
            button.clicked.connect(lambda _=False, m=method: self.consentRecorded.emit(m))
            layout.addWidget(button)
            self.buttons[method] = button
