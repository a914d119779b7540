"""How a transcript row is painted and measured: time, speaker chip, the words wrapped to the width."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QListWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from tbdesktop.ui.transcript.lines import Line

TEXT = "#1f2a30"
MUTED = "#5b6b73"
CURRENT_BG = "#e1efee"
ACCENT = "#2f6f73"
EVIDENCE_BG = "#fff4c2"
SELECTED_BG = "#eef3f4"
HOVER_BG = "#f6f8f9"
RULE = "#eef1f2"

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
