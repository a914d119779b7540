"""Conflicts of the open session, above its notes: text that lost a concurrent edit on another workstation (restore
it or keep what is there), and edits made to a note that was signed elsewhere (add them as an addendum)."""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from tbdesktop.services.convert import mask_name
from tbdesktop.services.dto import NoteInfo, SegmentInfo, SessionInfo
from tbdesktop.services.sync.service import ConflictInfo
from tbdesktop.ui.formatting import timestamp

EXCERPT = 400  # characters of each text shown; the whole text goes back on Restore
DONE = {
    "restore": "The replaced text was put back.",
    "dismiss": "Kept the current text.",
    "addendum": "Added as an addendum to the signed note.",
}


def _excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


def conflict_title(c: ConflictInfo, note: NoteInfo | None, segments: list[SegmentInfo]) -> str:
    """What the conflict is about: a note section by its title, or a transcript line by its time."""
    if c.table_name == "notes":
        key = c.field.split(".", 1)[1] if c.field.startswith("sections.") else c.field
        titles = {s.key: s.title for s in note.sections} if note is not None else {}
        title = titles.get(key) or key.replace("_", " ").capitalize()
        return f"Note · {title}"
    if c.table_name == "transcript_segments":
        idx = c.row_key.get("idx")
        seg = next((s for s in segments if s.idx == idx), None)
        what = {"text": "words", "speaker": "speaker", "role": "role"}.get(c.field, c.field)
        where = f"line at {timestamp(seg.start_s)}" if seg is not None else f"line {idx}"
        return f"Transcript · {where} ({what})"
    return c.field.replace("_", " ").capitalize()


class ConflictItem(QFrame):
    actionRequested = Signal(uuid.UUID, str)  # conflict id, "restore" | "dismiss" | "addendum"

    def __init__(self, conflict: ConflictInfo, title: str, can_restore: bool, mask: Callable[[str], str]) -> None:
        super().__init__()
        self.setObjectName("conflictItem")
        self.conflict = conflict
        box = QVBoxLayout(self)
        box.setContentsMargins(12, 8, 12, 8)
        box.setSpacing(4)
        signed = conflict.kind == "signed_elsewhere"
        where = f" on {conflict.lost_workstation}" if conflict.lost_workstation else " on another workstation"
        what = QLabel(title + (" · the note was signed" + where if signed else ""))
        what.setObjectName("conflictWhat")
        what.setWordWrap(True)
        box.addWidget(what)
        kept = _excerpt(mask(conflict.kept_text or "")) or "(empty)"
        lost = _excerpt(mask(conflict.lost_text or "")) or "(empty)"
        kept_words = "Signed text" if signed else "Kept"
        lost_words = "Your edit, not in the signed note" if signed else f"Replaced (written{where})"
        self.kept_label = self._text("conflictKept", f"<b>{kept_words}:</b> {_html(kept)}")
        self.lost_label = self._text("conflictReplaced", f"<b>{lost_words}:</b> {_html(lost)}")
        box.addWidget(self.kept_label)
        box.addWidget(self.lost_label)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.buttons: dict[str, QPushButton] = {}
        if signed:
            self._add(row, "addendum", "Add as addendum", "Add your edit to the signed note as an addendum")
        elif can_restore:
            self._add(row, "restore", "Restore", "Put the replaced text back in place of the kept text")
        self._add(row, "dismiss", "Keep current", "Keep the text as it is now and close this conflict")
        row.addStretch(1)
        box.addLayout(row)

    @staticmethod
    def _text(name: str, html: str) -> QLabel:
        label = QLabel(html)
        label.setObjectName(name)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _add(self, row: QHBoxLayout, action: str, text: str, tip: str) -> None:
        button = QPushButton(text)
        button.setObjectName(f"conflict_{action}")
        button.setAccessibleName(text)
        button.setToolTip(tip)
        button.setAutoDefault(False)
        button.clicked.connect(lambda: self.actionRequested.emit(self.conflict.id, action))
        row.addWidget(button)
        self.buttons[action] = button

    def set_busy(self, busy: bool) -> None:
        for button in self.buttons.values():
            button.setEnabled(not busy)


def _same_id(raw: object, wanted: uuid.UUID) -> bool:
    try:
        return uuid.UUID(str(raw)) == wanted
    except ValueError:
        return False


def _html(text: str) -> str:
    return html.escape(text)


class ConflictPanel(QFrame):
    """The open session's conflicts; asks for them (``loadRequested``) and for their resolution (``resolveRequested``)
    and renders what it is given back."""

    loadRequested = Signal(uuid.UUID)  # session id
    resolveRequested = Signal(uuid.UUID, uuid.UUID, str)  # session id, conflict id, action
    loaded = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflictPanel")
        self.setAccessibleName("Sync conflicts")
        self._info: SessionInfo | None = None
        self._note: NoteInfo | None = None
        self._segments: list[SegmentInfo] = []
        self._hidden_name: str | None = None
        self._conflicts: list[ConflictInfo] = []
        self.items: list[ConflictItem] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(16, 10, 16, 12)
        self._layout.setSpacing(8)
        self.title_label = QLabel("")
        self.title_label.setObjectName("sectionTitle")
        self._layout.addWidget(self.title_label)
        hint = QLabel("This session was changed on two workstations at once. Check what was kept.")
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        self._layout.addWidget(hint)
        self.setVisible(False)

    def conflicts(self) -> list[ConflictInfo]:
        return list(self._conflicts)

    def show_session(
        self, info: SessionInfo, note: NoteInfo | None, segments: list[SegmentInfo], hidden_name: str | None = None
    ) -> None:
        """The session shown changed (or was read again): its conflicts are read again."""
        if self._info is None or self._info.id != info.id:
            self._render([])
        self._info, self._note, self._segments, self._hidden_name = info, note, segments, hidden_name
        self.reload()

    def reload(self) -> None:
        if self._info is not None:
            self.loadRequested.emit(self._info.id)

    def show_conflicts(self, session_id: uuid.UUID, conflicts: list[ConflictInfo]) -> None:
        """The conflicts read for ``session_id`` (dropped when another session is shown meanwhile)."""
        if self._info is not None and self._info.id == session_id:
            self._render(conflicts)
        self.loaded.emit()

    def _mask(self, text: str) -> str:
        return mask_name(text, self._hidden_name) if self._hidden_name else text

    def _render(self, conflicts: list[ConflictInfo]) -> None:
        for item in self.items:
            item.hide()
            item.deleteLater()
        self.items = []
        self._conflicts = list(conflicts)
        note = self._note
        for c in conflicts:
            shown_note = note if note is not None and _same_id(c.row_key.get("id"), note.id) else None
            signed = shown_note is not None and shown_note.status == "signed"
            item = ConflictItem(c, conflict_title(c, note, self._segments), not signed, self._mask)
            item.actionRequested.connect(self.resolve)
            self._layout.addWidget(item)
            self.items.append(item)
        n = len(conflicts)
        self.title_label.setText(f"{n} conflict{'s' if n != 1 else ''} to review")
        self.setVisible(bool(conflicts))

    def item(self, conflict_id: uuid.UUID) -> ConflictItem | None:
        return next((i for i in self.items if i.conflict.id == conflict_id), None)

    def resolve(self, conflict_id: uuid.UUID, action: str) -> None:
        if self._info is None:
            return
        item = self.item(conflict_id)
        if item is not None:
            item.set_busy(True)
        self.resolveRequested.emit(self._info.id, conflict_id, action)

    def resolve_failed(self, conflict_id: uuid.UUID) -> None:
        """The resolution was refused: its buttons work again."""
        item = self.item(conflict_id)
        if item is not None:
            item.set_busy(False)
