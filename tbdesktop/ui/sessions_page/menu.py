"""The ⋮ menu of a session card: reassign; copy, export or print the note; delete the recording, the transcript or
the whole session. Actions that do not apply are disabled with the reason as their tooltip."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtGui import QAction, QColor, QMouseEvent, QPalette
from PySide6.QtWidgets import QMenu, QStyleOptionMenuItem, QWidget

from tbdesktop.services.dto import SessionInfo
from tbdesktop.ui.export_menu import NO_NOTE, ExportActions, toggled_in_place
from tbdesktop.ui.sessions_page.session_state import day_month_year, is_processing, needs_consent

DESTRUCTIVE = "#b3261e"
MENU_TEXT = "#1f2a30"
CANCEL_FIRST = "Cancel processing first"


class SessionContextMenu(QMenu):
    """Actions on one session. Each emits the session id; actions that no longer apply are disabled with the
    reason as their tooltip."""

    reassignRequested = Signal(uuid.UUID)
    deleteRecordingRequested = Signal(uuid.UUID)
    deleteTranscriptRequested = Signal(uuid.UUID)
    deleteSessionRequested = Signal(uuid.UUID)
    exportRequested = Signal(uuid.UUID, str, bool)  # session id, kind (copy, pdf, docx, print), with the transcript

    def __init__(self, info: SessionInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionMenu")
        self.setToolTipsVisible(True)
        self.info = info
        palette = self.palette()
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
                palette.setColor(group, role, QColor(MENU_TEXT))
            palette.setColor(group, QPalette.ColorRole.HighlightedText, QColor(MENU_TEXT))
        self.setPalette(palette)

        self.reassign_action = self._action("Re&assign session…", "reassignAction", self.reassignRequested)
        self.addSeparator()
        self.export_actions = ExportActions(self)
        for action in (*self.export_actions.actions, self.export_actions.transcript_action):
            action.setProperty("destructive", False)
        self.export_actions.requested.connect(self._export)
        self.addSeparator()
        self.delete_recording_action = self._action(
            "Delete &recording", "deleteRecordingAction", self.deleteRecordingRequested, destructive=True
        )
        self.delete_transcript_action = self._action(
            "Delete &transcript", "deleteTranscriptAction", self.deleteTranscriptRequested, destructive=True
        )
        self.delete_session_action = self._action(
            "Delete &session", "deleteSessionAction", self.deleteSessionRequested, destructive=True
        )
        self.set_info(info)

    def set_info(self, info: SessionInfo) -> None:
        """Show the actions for `info` (one menu serves every card)."""
        self.info = info
        self.setAccessibleName(f"Actions for the session with {info.display_client}")
        self._explain(self.delete_recording_action, self._recording_blocker(info))
        self._explain(self.delete_transcript_action, self._transcript_blocker(info))
        self._explain(self.delete_session_action, CANCEL_FIRST if is_processing(info) else None)
        self.export_actions.set_blocker(self._note_blocker(info))
        deleted = info.transcript_deleted_at
        self.export_actions.set_transcript_available(
            deleted is None, f"The transcript was deleted on {day_month_year(deleted)}" if deleted else ""
        )

    def _export(self, kind: str, with_transcript: bool) -> None:
        self.exportRequested.emit(self.info.id, kind, with_transcript)

    def _action(self, text: str, name: str, signal: SignalInstance, *, destructive: bool = False) -> QAction:
        action = self.addAction(text)
        action.setObjectName(name)
        action.setProperty("destructive", destructive)
        action.triggered.connect(lambda: signal.emit(self.info.id))
        return action

    @staticmethod
    def _explain(action: QAction, blocker: str | None) -> None:
        action.setEnabled(blocker is None)
        action.setToolTip(blocker or "")

    @staticmethod
    def _recording_blocker(info: SessionInfo) -> str | None:
        if info.recording_deleted_at is not None:
            return f"The recording was deleted on {day_month_year(info.recording_deleted_at)}"
        if info.recording_elsewhere:
            return f"The recording is kept on {info.recording_elsewhere}"
        if not info.recording_available:
            return "This session has no recording"
        if needs_consent(info):
            return "Record the client's consent or delete the whole session"
        if is_processing(info):
            return CANCEL_FIRST
        return None

    @staticmethod
    def _note_blocker(info: SessionInfo) -> str | None:
        if info.note_state is not None:
            return None
        if needs_consent(info):
            return f"{NO_NOTE}: record the client's consent first"
        if is_processing(info):
            return f"{NO_NOTE}: it is written when processing finishes"
        return NO_NOTE

    @staticmethod
    def _transcript_blocker(info: SessionInfo) -> str | None:
        if info.transcript_deleted_at is not None:
            return f"The transcript was deleted on {day_month_year(info.transcript_deleted_at)}"
        if needs_consent(info):
            return "There is no transcript yet"
        if is_processing(info):
            return CANCEL_FIRST
        return None

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if not toggled_in_place(self, event):
            super().mouseReleaseEvent(event)

    def first_enabled(self) -> QAction | None:
        return next((a for a in self.actions() if a.isEnabled() and not a.isSeparator()), None)

    def initStyleOption(self, option: QStyleOptionMenuItem, action: QAction) -> None:
        super().initStyleOption(option, action)
        if action.property("destructive") and action.isEnabled():
            red = QColor(DESTRUCTIVE)
            for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
                for role in (
                    QPalette.ColorRole.WindowText,
                    QPalette.ColorRole.Text,
                    QPalette.ColorRole.ButtonText,
                    QPalette.ColorRole.HighlightedText,
                ):
                    option.palette.setColor(group, role, red)
