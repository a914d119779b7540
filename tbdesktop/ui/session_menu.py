"""The ⋮ menu of a session card (reassign; copy, export or print the note; delete the recording, the transcript or
the whole session), the confirmation that says what a delete removes and what stays, and the client picker for
reassigning."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal, SignalInstance
from PySide6.QtGui import QAction, QColor, QKeyEvent, QMouseEvent, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStyleOptionMenuItem,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import ClientInfo, SessionInfo
from tbdesktop.ui.export_menu import NO_NOTE, ExportActions, toggled_in_place
from tbdesktop.ui.formatting import duration_badge, long_date
from tbdesktop.ui.session_card import day_month_year, is_processing, needs_consent

DESTRUCTIVE = "#b3261e"
MENU_TEXT = "#1f2a30"
CANCEL_FIRST = "Cancel processing first"


def session_label(info: SessionInfo) -> str:
    """Which session a dialog is about, e.g. "Jordan Lee · Wednesday 14 May 2025 · 50 mins"."""
    return f"{info.display_client} · {long_date(info.session_date)} · {duration_badge(info.duration_mins)}"


class SessionContextMenu(QMenu):
    """Actions on one session. Each emits the session id; actions that no longer apply are disabled with the
    reason as their tooltip."""

    reassignRequested = Signal(object)
    deleteRecordingRequested = Signal(object)
    deleteTranscriptRequested = Signal(object)
    deleteSessionRequested = Signal(object)
    exportRequested = Signal(object, str, bool)  # session id, kind (copy, pdf, docx, print), with the transcript

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
        note_blocker = self._note_blocker(info)
        self.export_actions.set_blocker(note_blocker)
        deleted = info.transcript_deleted_at
        # with nothing to export the tick is off too, so the keyboard does not stop on it
        self.export_actions.set_transcript_available(
            deleted is None and note_blocker is None,
            note_blocker or (f"The transcript was deleted on {day_month_year(deleted)}" if deleted else ""),
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


# -- confirmation ----------------------------------------------------------------------------------------------


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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        heading = QLabel(title)
        heading.setObjectName("dialogTitle")
        layout.addWidget(heading)
        which = QLabel(session_label(info))
        which.setObjectName("dialogHint")
        which.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(which)
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


def confirm_delete_recording(info: SessionInfo, parent: QWidget | None = None) -> ConfirmDeleteDialog:
    transcript = "The transcript and notes stay" if info.transcript_deleted_at is None else "The notes stay"
    return ConfirmDeleteDialog(
        info,
        title="Delete the recording?",
        lost=(
            "The audio file is removed from this computer and its key destroyed: it can no longer be played or "
            "processed again. This cannot be undone."
        ),
        kept=f"{transcript}.",
        confirm_text="Delete recording",
        parent=parent,
    )


def confirm_delete_transcript(info: SessionInfo, parent: QWidget | None = None) -> ConfirmDeleteDialog:
    recording = "The recording and notes stay" if info.recording_available else "The notes stay"
    return ConfirmDeleteDialog(
        info,
        title="Delete the transcript?",
        lost=(
            "The transcript's words and timings are erased from this computer and search no longer finds them; "
            "the notes can no longer be regenerated from it. This cannot be undone."
        ),
        kept=f"{recording}.",
        confirm_text="Delete transcript",
        parent=parent,
    )


def confirm_delete_session(info: SessionInfo, parent: QWidget | None = None) -> ConfirmDeleteDialog:
    return ConfirmDeleteDialog(
        info,
        title="Delete the whole session?",
        lost=(
            "Everything of this session is erased: the recording, the transcript, the notes and risk flags. "
            "This cannot be undone."
        ),
        kept="The client and their other sessions stay.",
        confirm_text="Delete session",
        parent=parent,
    )


# -- reassign --------------------------------------------------------------------------------------------------


class ReassignDialog(QDialog):
    """Pick one of my clients, or type a new client's name, to move a session to. Typing filters the list: the
    client of that exact name is picked, or else a "New client" row offers the typed name. Up, Down or a click
    pick another row."""

    def __init__(self, info: SessionInfo, clients: list[ClientInfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reassignDialog")
        self.setWindowTitle("Reassign session")
        self.setMinimumWidth(420)
        self._current = info.client_id
        self._clients = {c.id: c for c in sorted(clients, key=lambda c: c.name.casefold())}
        self._filtering = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        heading = QLabel("Move this session to another client")
        heading.setObjectName("dialogTitle")
        layout.addWidget(heading)
        which = QLabel(session_label(info))
        which.setObjectName("dialogHint")
        which.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(which)

        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("clientSearchEdit")
        self.name_edit.setPlaceholderText("Search your clients or type a new name")
        self.name_edit.setAccessibleName("Client name")
        self.name_edit.setMaxLength(200)
        self.name_edit.setClearButtonEnabled(True)
        self.name_edit.textChanged.connect(self._filter)
        self.name_edit.installEventFilter(self)
        layout.addWidget(self.name_edit)

        self.client_list = QListWidget()
        self.client_list.setObjectName("clientList")
        self.client_list.setAccessibleName("Your clients")
        self.client_list.setMinimumHeight(180)
        self.new_item = QListWidgetItem()
        self.new_item.setData(Qt.ItemDataRole.UserRole, None)
        self.client_list.addItem(self.new_item)
        self.new_item.setHidden(True)
        for client in self._clients.values():
            current = client.id == self._current
            item = QListWidgetItem(f"{client.name}  (current)" if current else client.name)
            item.setData(Qt.ItemDataRole.UserRole, client.id)
            if current:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled & ~Qt.ItemFlag.ItemIsSelectable)
            self.client_list.addItem(item)
        self.client_list.currentItemChanged.connect(self._picked)
        self.client_list.itemActivated.connect(lambda _item: self.submit())
        layout.addWidget(self.client_list, 1)

        self.hint = QLabel()
        self.hint.setObjectName("dialogHint")
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self.hint.setMinimumHeight(2 * self.hint.fontMetrics().lineSpacing() + 2)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.hint)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelReassignButton")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        buttons.addWidget(self.cancel_button)
        self.move_button = QPushButton("Move session")
        self.move_button.setObjectName("moveSessionButton")
        self.move_button.setProperty("primary", True)
        self.move_button.setDefault(True)
        self.move_button.clicked.connect(self.submit)
        buttons.addWidget(self.move_button)
        layout.addLayout(buttons)
        self.name_edit.setFocus()
        self._update()

    # -- choosing -------------------------------------------------------------------------------------

    def _typed(self) -> str:
        return " ".join(self.name_edit.text().split())

    def _named(self, name: str) -> ClientInfo | None:
        folded = name.casefold()
        return next((c for c in self._clients.values() if c.name.casefold() == folded), None) if name else None

    def _client(self, item: QListWidgetItem | None) -> ClientInfo | None:
        if item is None or item.isHidden():
            return None
        return self._clients.get(item.data(Qt.ItemDataRole.UserRole))

    def _pickable(self, item: QListWidgetItem) -> bool:
        return not item.isHidden() and bool(item.flags() & Qt.ItemFlag.ItemIsEnabled)

    def new_name(self) -> str | None:
        """The typed name when none of my clients has it (case aside)."""
        typed = self._typed()
        return typed if typed and self._named(typed) is None else None

    def choice(self) -> tuple[ClientInfo | None, str | None]:
        """(a client of mine, None), (None, a new client's name), or (None, None) while nothing is chosen."""
        item = self.client_list.currentItem()
        if item is self.new_item and not item.isHidden():
            return None, self.new_name()
        client = self._client(item)
        if client is not None and client.id != self._current:
            return client, None
        return None, None

    def _filter(self, text: str) -> None:
        needle = " ".join(text.split()).casefold()
        new = self.new_name()
        named = self._named(self._typed())
        self._filtering = True
        try:
            self.new_item.setHidden(new is None)
            self.new_item.setText(f"+  New client “{new}”" if new else "")
            match: QListWidgetItem | None = self.new_item if new else None
            for row in range(1, self.client_list.count()):
                item = self.client_list.item(row)
                client = self._clients.get(item.data(Qt.ItemDataRole.UserRole))
                item.setHidden(bool(needle) and client is not None and needle not in client.name.casefold())
                if named is not None and client is not None and client.id == named.id:
                    match = item
            if match is not None:
                self.client_list.setCurrentItem(match)
            else:
                self.client_list.setCurrentRow(-1)
        finally:
            self._filtering = False
        self._update()

    def _picked(self, *_args: object) -> None:
        if not self._filtering:
            self._update()

    def _update(self) -> None:
        client, name = self.choice()
        if name is not None:
            self.hint.setText(f"“{name}” is not one of your clients yet: they will be added.")
        elif client is not None:
            self.hint.setText(f"The session moves to {client.name}.")
        elif self._typed() and self._named(self._typed()) is not None:
            self.hint.setText("That is this session's client already.")
        else:
            self.hint.setText("Choose a client, or type a new client's name.")
        self.move_button.setEnabled(client is not None or name is not None)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Up and Down in the name field move through the list, as in a search box.
        if watched is self.name_edit and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                self._step(1 if event.key() == Qt.Key.Key_Down else -1)
                return True
        return super().eventFilter(watched, event)

    def _step(self, delta: int) -> None:
        rows = [row for row in range(self.client_list.count()) if self._pickable(self.client_list.item(row))]
        if not rows:
            return
        current = self.client_list.currentRow()
        further = [r for r in rows if (r > current if delta > 0 else r < current)] if current >= 0 else []
        if further:
            target = further[0] if delta > 0 else further[-1]
        else:
            target = rows[0] if delta > 0 else rows[-1]
        self.client_list.setCurrentRow(target)

    def submit(self) -> None:
        client, name = self.choice()
        if client is None and name is None:
            self._update()
            return
        self.accept()
