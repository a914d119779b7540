"""The confirmation before a session's recording, transcript or whole self is deleted: what is lost, what stays."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from tbdesktop.services.dto import SessionInfo
from tbdesktop.ui.sessions_page.dialog_heading import session_dialog_layout


class ConfirmDeleteDialog(QDialog):
    """Asks before a delete, saying what is lost and what stays. "Keep" is the default button."""

    def __init__(
        self,
        info: SessionInfo,
        *,
        title: str,
        lost: str,
        kept: str,
        confirm_text: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("confirmDeleteDialog")
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        layout = session_dialog_layout(self, title, info)
        self.lost_label = QLabel(lost)
        self.lost_label.setObjectName("confirmLost")
        self.lost_label.setWordWrap(True)
        layout.addWidget(self.lost_label)
        self.kept_label = QLabel(kept)
        self.kept_label.setObjectName("confirmKept")
        self.kept_label.setWordWrap(True)
        layout.addWidget(self.kept_label)
        layout.addSpacing(8)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Keep it")
        self.cancel_button.setObjectName("keepButton")
        self.cancel_button.setAccessibleName("Keep it: do not delete")
        self.cancel_button.setDefault(True)
        self.cancel_button.clicked.connect(self.reject)
        buttons.addWidget(self.cancel_button)
        self.confirm_button = QPushButton(confirm_text)
        self.confirm_button.setObjectName("confirmDeleteButton")
        self.confirm_button.setProperty("destructive", True)
        self.confirm_button.setAutoDefault(False)
        self.confirm_button.setAccessibleName(confirm_text)
        self.confirm_button.clicked.connect(self.accept)
        buttons.addWidget(self.confirm_button)
        layout.addLayout(buttons)
        self.cancel_button.setFocus()

    def text(self) -> str:
        return f"{self.lost_label.text()} {self.kept_label.text()}"


def _confirm_delete(info: SessionInfo, what: str, lost: str, kept: str, parent: QWidget | None) -> ConfirmDeleteDialog:
    return ConfirmDeleteDialog(
        info,
        title=f"Delete the {what}?",
        lost=lost,
        kept=kept,
        confirm_text=f"Delete {what}",
        parent=parent,
    )


def confirm_delete_recording(info: SessionInfo, parent: QWidget | None = None) -> ConfirmDeleteDialog:
    transcript = "The transcript and notes stay" if info.transcript_deleted_at is None else "The notes stay"
    lost = (
        "The audio file is removed from this computer and its key destroyed: it can no longer be played or "
        "processed again. This cannot be undone."
    )
    return _confirm_delete(info, "recording", lost, f"{transcript}.", parent)


def confirm_delete_transcript(info: SessionInfo, parent: QWidget | None = None) -> ConfirmDeleteDialog:
    recording = "The recording and notes stay" if info.recording_available else "The notes stay"
    lost = (
        "The transcript's words and timings are erased from this computer and search no longer finds them; "
        "the notes can no longer be regenerated from it. This cannot be undone."
    )
    return _confirm_delete(info, "transcript", lost, f"{recording}.", parent)


def confirm_delete_session(info: SessionInfo, parent: QWidget | None = None) -> ConfirmDeleteDialog:
    lost = (
        "Everything of this session is erased: the recording, the transcript, the notes and risk flags. "
        "This cannot be undone."
    )
    return ConfirmDeleteDialog(
        info,
        title="Delete the whole session?",
        lost=lost,
        kept="The client and their other sessions stay.",
        confirm_text="Delete session",
        parent=parent,
    )
