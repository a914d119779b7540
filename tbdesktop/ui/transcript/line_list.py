"""The list of transcript rows and what a row offers: play, correct, move, split, a new speaker."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QWidget,
)

from tbdesktop.ui.transcript.delegate import LAYOUT_BATCH, LINE_ROLE, LineDelegate
from tbdesktop.ui.transcript.lines import Line
from tbdesktop.ui.transcript.word_hit import word_at


class LineList(QListWidget):
    """The rows. Click or Enter: play from the line; F2: correct it; right-click or the menu key: more."""

    lineActivated = Signal(int)  # segment idx
    fixRequested = Signal(int)
    moveRequested = Signal(int, str)  # segment idx, speaker
    splitRequested = Signal(int, int)  # segment idx, the word clicked (-1: none)
    newSpeakerRequested = Signal(int)  # segment idx

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcriptList")
        self.menu_word: int | None = None  # the word of the line a right-click landed on
        self.setAccessibleName("Transcript")
        self.setAccessibleDescription("Enter plays from the line; F2 corrects it; the menu key shows more")
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(LAYOUT_BATCH)
        self.setWordWrap(True)
        self.setMouseTracking(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.delegate = LineDelegate(self)
        self.setItemDelegate(self.delegate)
        self.speakers: list[tuple[str, str]] = []  # (speaker, label) for "Move to"
        self.editable = False  # whether lines can be corrected here
        self.itemClicked.connect(self._clicked)
        # A scroll asked for before the rows it needs are laid out: a position, or a row and where to show it.
        self._pending: int | tuple[QListWidgetItem, QAbstractItemView.ScrollHint] | None = None
        self.verticalScrollBar().rangeChanged.connect(self._laid_out_more)
        self.verticalScrollBar().actionTriggered.connect(self.forget_scroll)  # the reader scrolls: theirs wins

    # -- scrolling while rows are still being laid out ---------------------------------------------------------

    def scroll_to(self, item: QListWidgetItem, hint: QAbstractItemView.ScrollHint) -> None:
        """Bring ``item`` into view, as soon as its batch of rows is laid out."""
        if self.visualItemRect(item).isValid():
            self._pending = None
            self.scrollToItem(item, hint)
        else:
            self._pending = (item, hint)

    def scroll_to_value(self, value: int) -> None:
        """Back to a scroll position, as soon as enough rows are laid out to reach it."""
        bar = self.verticalScrollBar()
        bar.setValue(value)
        self._pending = value if bar.value() < value else None

    def forget_scroll(self, *_args: object) -> None:
        self._pending = None

    def _laid_out_more(self, _minimum: int, maximum: int) -> None:
        pending = self._pending
        if isinstance(pending, int):
            self.verticalScrollBar().setValue(min(pending, maximum))
            if maximum >= pending:
                self._pending = None
        elif pending is not None:
            self.scroll_to(*pending)

    def line(self, item: QListWidgetItem | None) -> Line | None:
        data = item.data(LINE_ROLE) if item is not None else None
        return data if isinstance(data, Line) else None

    def _clicked(self, item: QListWidgetItem) -> None:
        line = self.line(item)
        if line is not None:
            self.lineActivated.emit(line.idx)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        line = self.line(self.currentItem())
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and line is not None:
            self.lineActivated.emit(line.idx)
            event.accept()
        elif key == Qt.Key.Key_F2 and line is not None and self.editable:
            self.fixRequested.emit(line.idx)
            event.accept()
        elif key == Qt.Key.Key_Space and not event.modifiers():
            event.ignore()  # the session view's play/pause
        else:
            super().keyPressEvent(event)

    def line_menu(self, idx: int) -> QMenu:
        """What can be done with one line (the context menu)."""
        menu = QMenu(self)
        menu.setObjectName("lineMenu")
        line = next((x for x in (self.line(self.item(i)) for i in range(self.count())) if x and x.idx == idx), None)
        play = menu.addAction("Play from here")
        play.setObjectName("playFromHere")
        play.triggered.connect(lambda: self.lineActivated.emit(idx))
        if self.editable:
            fix = menu.addAction("Correct this line…")
            fix.setObjectName("fixLine")
            fix.setShortcut("F2")
            fix.triggered.connect(lambda: self.fixRequested.emit(idx))
            move = menu.addMenu("Move to speaker")
            move.setObjectName("moveLineMenu")
            for speaker, label in self.speakers:
                action = move.addAction(label)
                action.setObjectName(f"moveTo_{speaker}")
                action.setEnabled(line is None or speaker != line.speaker)
                action.triggered.connect(lambda _=False, s=speaker: self.moveRequested.emit(idx, s))
            move.addSeparator()
            new = move.addAction("New speaker…")
            new.setObjectName("moveToNewSpeaker")
            new.triggered.connect(lambda: self.newSpeakerRequested.emit(idx))
            word = self.menu_word if self.menu_word is not None else -1
            words = line.text.split() if line is not None else []
            here = f"Split here: new line from “{words[word]}”…" if 0 < word < len(words) else "Split line…"
            split = menu.addAction(here)
            split.setObjectName("splitLine")
            split.setEnabled(len(words) > 1)
            split.triggered.connect(lambda: self.splitRequested.emit(idx, word))
        menu.addSeparator()
        copy = menu.addAction("Copy text")
        copy.setObjectName("copyLine")
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(line.text if line else ""))
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if event.reason() == QContextMenuEvent.Reason.Mouse:
            item = self.itemAt(event.pos())
        else:
            item = self.currentItem()
        line = self.line(item)
        if item is None or line is None:
            return
        self.setCurrentItem(item)
        self.menu_word = None
        if event.reason() == QContextMenuEvent.Reason.Mouse:
            rect = self.delegate.text_rect(self.visualItemRect(item))
            self.menu_word = word_at(line.text, rect, self.font(), event.pos())
        menu = self.line_menu(line.idx)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        if event.reason() == QContextMenuEvent.Reason.Mouse:
            position = event.globalPos()
        else:
            position = self.viewport().mapToGlobal(self.visualItemRect(item).bottomLeft())
        menu.popup(position)
