"""The speaker-correction controls of the session view: the actions beside the speakers bar (merge, add, separate
again, with the separation's progress and a cancel button) and the banner offering to regenerate a note written
before a correction."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from tbdesktop.services.dto import ProgressEvent, SessionInfo

ACTIVE = ("queued", "preprocessing", "transcribing", "diarizing", "generating_notes")


class SpeakerActions(QFrame):
    """Merge speakers, add one, separate the voices again; while a separation runs, its progress and Cancel."""

    mergeRequested = Signal()
    addRequested = Signal()
    rediarizeRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("speakerActions")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 8, 20, 8)
        layout.setSpacing(6)
        self.merge_button = self._button("Merge…", "mergeSpeakersButton", "Merge two speakers into one")
        self.merge_button.clicked.connect(self.mergeRequested)
        self.add_button = self._button("Add speaker…", "addSpeakerButton", "Add a speaker to move lines to")
        self.add_button.clicked.connect(self.addRequested)
        self.rediarize_button = self._button(
            "Re-run separation…", "rediarizeButton", "Separate the voices again with a number of speakers"
        )
        self.rediarize_button.clicked.connect(self.rediarizeRequested)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("separationProgress")
        self.progress_label.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelSeparationButton")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancelRequested)
        for widget in (self.merge_button, self.add_button, self.rediarize_button, self.progress_label):
            layout.addWidget(widget)
        layout.addWidget(self.cancel_button)

    @staticmethod
    def _button(text: str, name: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setObjectName(name)
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(text.rstrip("…"))
        return button

    def set_session(self, info: SessionInfo, speakers: int) -> None:
        busy = info.status in ACTIVE
        self.merge_button.setEnabled(not busy and speakers > 1)
        self.add_button.setEnabled(not busy)
        self.rediarize_button.setEnabled(not busy and info.recording_available)
        if info.recording_available:
            tip = "Separate the voices again with a number of speakers"
        elif info.recording_elsewhere:
            tip = f"The recording is kept on {info.recording_elsewhere}: separate the voices again there"
        else:
            tip = "The recording was deleted, so the voices cannot be separated again"
        self.rediarize_button.setToolTip(tip)
        self._show_busy(busy, info.stage_detail or "Processing", info.progress)

    def show_progress(self, event: ProgressEvent) -> None:
        """A progress event of this session (a separation, or any processing): where it is, with Cancel."""
        busy = not event.finished and event.status in ACTIVE
        self._show_busy(busy, event.stage_detail or "Processing", event.progress)

    def _show_busy(self, busy: bool, detail: str, progress: int) -> None:
        self.progress_label.setText(f"{detail.rstrip('…')}… {progress}%" if busy else "")
        if not busy and self.cancel_button.isVisible():
            self.add_button.setEnabled(True)  # the view reloads with the outcome and sets the rest
        self.progress_label.setVisible(busy)
        self.cancel_button.setVisible(busy)
        for button in (self.merge_button, self.add_button, self.rediarize_button):
            if busy:
                button.setEnabled(False)

    @property
    def busy(self) -> bool:
        return self.cancel_button.isVisible()


class RegenerateBanner(QFrame):
    """Shown while the latest note was written before a change of who said what: offers to regenerate it."""

    regenerateRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("regenerateBanner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 8, 20, 8)
        self.label = QLabel(
            "Speakers were corrected after the note and risk flags were written. Regenerate them to use the "
            "corrections (a signed note stays as it is; the new one is a new version)."
        )
        self.label.setObjectName("regenerateBannerText")
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        self.button = QPushButton("Regenerate")
        self.button.setObjectName("regenerateBannerButton")
        self.button.clicked.connect(self._clicked)
        layout.addWidget(self.button)
        self.setVisible(False)

    def _clicked(self) -> None:
        self.setVisible(False)
        self.regenerateRequested.emit()
