"""The transcript of a session: one row per line (time, speaker, words), the line being played, the lines a note
sentence rests on, and per-line corrections (words, speaker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QContextMenuEvent, QFont, QFontMetrics, QGuiApplication, QKeyEvent, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFrame,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import SegmentInfo
from tbdesktop.ui.buttons import dialog_buttons, primary_button
from tbdesktop.ui.formatting import timestamp
from tbdesktop.ui.speakers.widgets import word_at

# Speaker chips: (text, background) pairs, calm and distinguishable.
SPEAKER_COLOURS = (
    ("#1f5f63", "#e1f0ef"),
    ("#6a3d8f", "#efe7f6"),
    ("#8a5a12", "#f8eedb"),
    ("#27548a", "#e3ecf8"),
    ("#8c2f4f", "#f7e4eb"),
    ("#3f6b2a", "#e8f2e1"),
)

ROLE_CHOICES = (
    ("therapist", "Therapist"),
    ("client", "Client"),
    ("partner", "Partner"),
    ("participant", "Participant"),
    ("other", "Other"),
)

TEXT = "#1f2a30"
MUTED = "#5b6b73"
CURRENT_BG = "#e1efee"
ACCENT = "#2f6f73"
EVIDENCE_BG = "#fff4c2"
SELECTED_BG = "#eef3f4"
HOVER_BG = "#f6f8f9"
RULE = "#eef1f2"


def speaker_number(speaker: str) -> str:
    """`SPEAKER_01` → `Speaker 2`: what a therapist reads."""
    tail = speaker.rsplit("_", 1)[-1]
    return f"Speaker {int(tail) + 1}" if tail.isdigit() else speaker


def role_text(role: str) -> str:
    return dict(ROLE_CHOICES).get(role, role.title())


def speaker_name(speakers: dict[str, Any], speaker: str) -> str | None:
    """The name the therapist gave a speaker (e.g. "Dana"), if any."""
    entry = speakers.get(speaker)
    name = entry.get("name") if isinstance(entry, dict) else None
    return str(name).strip() or None if name else None


def line_labels(
    segment: SegmentInfo, speakers: dict[str, Any] | None = None, *, hide_names: bool = False
) -> tuple[str, str]:
    """(label, sub-label) of a line's speaker: the name over the role, else the role over the number, else the
    number alone."""
    name = None if hide_names else speaker_name(speakers or {}, segment.speaker)
    number = speaker_number(segment.speaker or "SPEAKER")
    if name:
        return name, role_text(segment.role) if segment.role else number
    if segment.role:
        return role_text(segment.role), number
    return number, ""


def speaker_label(segment: SegmentInfo, speakers: dict[str, Any] | None = None, *, hide_names: bool = False) -> str:
    """Who said a line, as the transcript shows it: `Dana`, `Therapist` or `Speaker 2`."""
    return line_labels(segment, speakers, hide_names=hide_names)[0]


def segment_row(
    segment: SegmentInfo,
    *,
    with_hours: bool = False,
    speakers: dict[str, Any] | None = None,
    hide_names: bool = False,
) -> str:
    """The plain-text form of a transcript row: `01:23  Therapist  text`."""
    label = speaker_label(segment, speakers, hide_names=hide_names)
    return f"{timestamp(segment.start_s, with_hours=with_hours)}  {label}  {segment.text}"


@dataclass(frozen=True)
class Line:
    """What one transcript row shows."""

    idx: int
    start_s: float
    end_s: float
    speaker: str
    stamp: str
    label: str
    sublabel: str
    colours: tuple[str, str]  # chip text, chip background
    text: str

    @property
    def row(self) -> str:
        """The row as text (what assistive technology reads): `01:23  Client (Speaker 2)  words`."""
        who = f"{self.label} ({self.sublabel})" if self.sublabel else self.label
        return f"{self.stamp}  {who}  {self.text}"


def speaker_colours(segments: list[SegmentInfo], speakers: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """One colour per speaker, in order of first appearance; the same in the speakers bar and the transcript."""
    colours: dict[str, tuple[str, str]] = {}
    for seg in segments:
        if seg.speaker not in colours:
            colours[seg.speaker] = SPEAKER_COLOURS[len(colours) % len(SPEAKER_COLOURS)]
    for speaker in sorted(speakers):
        colours.setdefault(speaker, SPEAKER_COLOURS[len(colours) % len(SPEAKER_COLOURS)])
    return colours


def build_lines(
    segments: list[SegmentInfo],
    speakers: dict[str, Any],
    colours: dict[str, tuple[str, str]],
    *,
    hide_names: bool = False,
) -> list[Line]:
    with_hours = any(s.start_s >= 3600 for s in segments)
    lines = []
    for seg in segments:
        label, sublabel = line_labels(seg, speakers, hide_names=hide_names)
        lines.append(
            Line(
                idx=seg.idx,
                start_s=seg.start_s,
                end_s=seg.end_s,
                speaker=seg.speaker,
                stamp=timestamp(seg.start_s, with_hours=with_hours),
                label=label,
                sublabel=sublabel,
                colours=colours.get(seg.speaker, SPEAKER_COLOURS[0]),
                text=seg.text,
            )
        )
    return lines


def speaker_choices(
    segments: list[SegmentInfo], speakers: dict[str, Any], *, hide_names: bool = False
) -> list[tuple[str, str]]:
    """(speaker, label) of everyone who speaks in the session, for moving a line to them: `Dana (Client)`."""
    roles: dict[str, str | None] = {}
    for speaker, entry in speakers.items():
        roles[speaker] = (str(entry.get("role") or "") or None) if isinstance(entry, dict) else None
    for seg in segments:
        if not roles.get(seg.speaker):
            roles[seg.speaker] = seg.role
    choices = []
    for speaker in sorted(roles):
        number = speaker_number(speaker)
        role = roles[speaker]
        name = None if hide_names else speaker_name(speakers, speaker)
        detail = role_text(role) if role else ""
        if name:
            label = f"{name} ({detail or number})"
        elif detail:
            label = f"{detail} ({number})"
        else:
            label = number
        choices.append((speaker, label))
    return choices


LINE_ROLE = Qt.ItemDataRole.UserRole + 1
CURRENT_ROLE = Qt.ItemDataRole.UserRole + 2
EVIDENCE_ROLE = Qt.ItemDataRole.UserRole + 3

# Rows are measured (their words wrapped) this many at a time between other events, so a long transcript never
# holds the window while it is laid out: shown, reflowed on a resize, rebuilt when processing ends.
LAYOUT_BATCH = 50

PAD_X = 12
PAD_Y = 8
CHIP_W = 108
GAP = 12


class LineDelegate(QStyledItemDelegate):
    """Paints a row: time, speaker chip (with the role or number beneath), and the words wrapped to the width."""

    def __init__(self, view: QListWidget) -> None:
        super().__init__(view)
        self._view = view
        self.stamp_width = 64

    def set_stamp_sample(self, sample: str, font: QFont) -> None:
        self.stamp_width = QFontMetrics(self._mono(font)).horizontalAdvance(sample) + 14

    @staticmethod
    def _mono(font: QFont) -> QFont:
        mono = QFont(font)
        mono.setFamilies(["DejaVu Sans Mono", "Menlo", "Consolas", "monospace"])
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        return mono

    @staticmethod
    def _small(font: QFont, *, bold: bool) -> QFont:
        small = QFont(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
        small.setBold(bold)
        return small

    def text_rect(self, rect: QRect) -> QRect:
        """Where a row's words are painted."""
        return self._text_rect(rect)

    def _text_rect(self, rect: QRect) -> QRect:
        left = rect.left() + PAD_X + self.stamp_width + CHIP_W + GAP
        return QRect(left, rect.top() + PAD_Y, max(60, rect.right() - PAD_X - left), max(0, rect.height() - 2 * PAD_Y))

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        line = index.data(LINE_ROLE)
        width = max(200, self._view.viewport().width())
        if not isinstance(line, Line):
            return QSize(width, 32)
        text_rect = self._text_rect(QRect(0, 0, width, 10_000))
        words = QFontMetrics(option.font).boundingRect(
            QRect(0, 0, text_rect.width(), 100_000), int(Qt.TextFlag.TextWordWrap), line.text
        )
        chip = QFontMetrics(self._small(option.font, bold=True)).height() + 4
        if line.sublabel:
            chip += QFontMetrics(self._small(option.font, bold=False)).height() + 2
        return QSize(width, max(words.height(), chip) + 2 * PAD_Y)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        line = index.data(LINE_ROLE)
        if not isinstance(line, Line):
            return
        rect = QRect(option.rect)
        state = option.state
        current = bool(index.data(CURRENT_ROLE))
        evidence = bool(index.data(EVIDENCE_ROLE))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if evidence:
            painter.fillRect(rect, QColor(EVIDENCE_BG))
        elif current:
            painter.fillRect(rect, QColor(CURRENT_BG))
        elif state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, QColor(SELECTED_BG))
        elif state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, QColor(HOVER_BG))
        if current:
            painter.fillRect(QRect(rect.left(), rect.top(), 4, rect.height()), QColor(ACCENT))
        painter.setPen(QColor(RULE))
        painter.drawLine(rect.left() + PAD_X, rect.bottom(), rect.right() - PAD_X, rect.bottom())

        font = option.font
        mono = self._mono(font)
        painter.setFont(mono)
        painter.setPen(QColor(ACCENT if current else MUTED))
        stamp_rect = QRect(rect.left() + PAD_X, rect.top() + PAD_Y, self.stamp_width, QFontMetrics(font).height())
        painter.drawText(stamp_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), line.stamp)

        chip_font = self._small(font, bold=True)
        chip_metrics = QFontMetrics(chip_font)
        chip_left = rect.left() + PAD_X + self.stamp_width
        label = chip_metrics.elidedText(line.label, Qt.TextElideMode.ElideRight, CHIP_W - 20)
        chip_rect = QRect(
            chip_left, rect.top() + PAD_Y, chip_metrics.horizontalAdvance(label) + 14, chip_metrics.height() + 4
        )
        fg, bg = line.colours
        outline = QColor(fg)
        outline.setAlpha(90)
        # On a marked row the chip keeps an outline, as its own colour may be close to the mark's.
        painter.setPen(QPen(outline, 1) if current or evidence else Qt.PenStyle.NoPen)
        painter.setBrush(QColor(bg))
        painter.drawRoundedRect(chip_rect, 8, 8)
        painter.setFont(chip_font)
        painter.setPen(QColor(fg))
        painter.drawText(chip_rect, int(Qt.AlignmentFlag.AlignCenter), label)
        if line.sublabel:
            sub_font = self._small(font, bold=False)
            painter.setFont(sub_font)
            painter.setPen(QColor(MUTED))
            sub_rect = QRect(chip_left + 2, chip_rect.bottom() + 2, CHIP_W - 16, QFontMetrics(sub_font).height())
            sub = QFontMetrics(sub_font).elidedText(line.sublabel, Qt.TextElideMode.ElideRight, sub_rect.width())
            painter.drawText(sub_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), sub)

        painter.setFont(font)
        painter.setPen(QColor(TEXT))
        painter.drawText(
            self._text_rect(rect),
            int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
            line.text,
        )
        if state & QStyle.StateFlag.State_HasFocus and self._view.hasFocus():
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(ACCENT), 1.5))
            painter.drawRoundedRect(rect.adjusted(2, 2, -2, -2), 4, 4)
        painter.restore()


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
