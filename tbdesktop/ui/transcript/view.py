"""The transcript panel: the rows or a notice, the line being played, the lines a note rests on."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListWidgetItem,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.ui.transcript.delegate import CURRENT_ROLE, EVIDENCE_ROLE, LINE_ROLE
from tbdesktop.ui.transcript.line_list import LineList
from tbdesktop.ui.transcript.lines import Line


class TranscriptView(QStackedWidget):
    """The rows, or a notice in their place (deleted, not processed yet, no speech)."""

    lineActivated = Signal(int)
    fixRequested = Signal(int)
    moveRequested = Signal(int, str)
    splitRequested = Signal(int, int)
    newSpeakerRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcriptView")
        self.list = LineList()
        self.list.splitRequested.connect(self.splitRequested)
        self.list.newSpeakerRequested.connect(self.newSpeakerRequested)
        self.list.lineActivated.connect(self.lineActivated)
        self.list.fixRequested.connect(self.fixRequested)
        self.list.moveRequested.connect(self.moveRequested)
        self.addWidget(self.list)
        self.notice = QLabel()
        self.notice.setObjectName("transcriptNotice")
        self.notice.setWordWrap(True)
        self.notice.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        holder = QWidget()
        holder.setObjectName("transcriptNoticePage")
        column = QVBoxLayout(holder)
        column.setContentsMargins(16, 28, 16, 16)
        column.addWidget(self.notice)
        column.addStretch(1)
        self.addWidget(holder)
        self._items: dict[int, QListWidgetItem] = {}
        self._current: int | None = None
        self._evidence: set[int] = set()

    # -- content ------------------------------------------------------------------------------------------

    def set_lines(self, lines: list[Line], speakers: list[tuple[str, str]]) -> None:
        """Show these rows (the play and evidence marks are kept for the lines still there)."""
        self.list.speakers = list(speakers)
        widest = max((x.stamp for x in lines), key=len, default="00:00")
        self.list.delegate.set_stamp_sample("0" * len(widest), self.list.font())
        current_row = self.list.currentRow()
        scroll = self.list.verticalScrollBar().value()
        self.list.forget_scroll()
        self.list.clear()
        self._items = {}
        for line in lines:
            item = QListWidgetItem(line.row)
            item.setData(LINE_ROLE, line)
            item.setData(CURRENT_ROLE, line.idx == self._current)
            item.setData(EVIDENCE_ROLE, line.idx in self._evidence)
            item.setToolTip("Click to play from here · right-click to correct")
            self.list.addItem(item)
            self._items[line.idx] = item
        self.list.doItemsLayout()  # the first batch now, so the scroll range is the new rows' and not the old ones'
        if 0 <= current_row < self.list.count():
            self.list.setCurrentRow(current_row)
        self.list.scroll_to_value(scroll)
        self.setCurrentIndex(0)

    def set_notice(self, text: str) -> None:
        self.list.forget_scroll()
        self.list.clear()
        self._items = {}
        self._current = None
        self._evidence = set()
        self.notice.setText(text)
        self.setCurrentIndex(1)

    def toPlainText(self) -> str:
        if self.currentIndex() == 1:
            return self.notice.text()
        return "\n".join(self.list.item(i).text() for i in range(self.list.count()))

    def lines(self) -> list[Line]:
        return [x for x in (self.list.line(self.list.item(i)) for i in range(self.list.count())) if x is not None]

    def item_rect(self, idx: int) -> QRect:
        """Where line `idx` is, in the list's viewport (invalid until its batch of rows is laid out)."""
        item = self._items.get(idx)
        return self.list.visualItemRect(item) if item is not None else QRect()

    # -- marks --------------------------------------------------------------------------------------------

    @property
    def current_idx(self) -> int | None:
        return self._current

    def set_current(self, idx: int | None, *, follow: bool = True) -> None:
        """Mark the line being played; `follow` scrolls it into view."""
        if idx == self._current:
            return
        previous = self._items.get(self._current) if self._current is not None else None
        if previous is not None:
            previous.setData(CURRENT_ROLE, False)
        self._current = idx if idx in self._items else None
        item = self._items.get(idx) if idx is not None else None
        if item is not None:
            item.setData(CURRENT_ROLE, True)
            if follow:
                self.list.scroll_to(item, QAbstractItemView.ScrollHint.EnsureVisible)

    @property
    def evidence(self) -> set[int]:
        return set(self._evidence)

    def set_evidence(self, indexes: set[int]) -> None:
        """Mark the lines a note sentence rests on, and bring the first of them into view."""
        for idx in self._evidence - indexes:
            if idx in self._items:
                self._items[idx].setData(EVIDENCE_ROLE, False)
        self._evidence = {i for i in indexes if i in self._items}
        for idx in self._evidence:
            self._items[idx].setData(EVIDENCE_ROLE, True)
        if self._evidence:
            self.list.scroll_to(self._items[min(self._evidence)], QAbstractItemView.ScrollHint.PositionAtCenter)

    def show_match(self, idx: int) -> bool:
        """A search hit: highlight line ``idx``, select it and bring it to the middle of the view. False when the
        transcript has no such line (it was changed since the search)."""
        item = self._items.get(idx)
        if item is None:
            return False
        self.set_evidence({idx})
        self.list.setCurrentItem(item)
        return True
