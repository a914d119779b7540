"""A label that wraps its text to a few lines and elides the rest (a card's AI summary)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics, QResizeEvent, QTextLayout
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

SUMMARY_LINES = 2


def _utf16_slice(text: str, start: int, length: int) -> str:
    # QTextLayout counts UTF-16 code units; Python strings count code points.
    units = text.encode("utf-16-le")
    return units[start * 2 : (start + length) * 2].decode("utf-16-le", errors="ignore")


def elide_lines(text: str, font: QFont, width: int, max_lines: int) -> list[str]:
    """`text` wrapped at word boundaries to `width` pixels, at most `max_lines` lines, the last one elided."""
    flat = " ".join(text.split())
    if not flat or width <= 0:
        return [flat] if flat else []
    metrics = QFontMetrics(font)
    layout = QTextLayout(flat, font)
    lines: list[str] = []
    layout.beginLayout()
    try:
        while len(lines) < max_lines:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            if len(lines) == max_lines - 1:
                rest = _utf16_slice(flat, line.textStart(), len(flat.encode("utf-16-le")))
                lines.append(metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width))
                break
            lines.append(_utf16_slice(flat, line.textStart(), line.textLength()).rstrip())
    finally:
        layout.endLayout()
    return lines


class ElidedLabel(QLabel):
    """Text wrapped to at most `max_lines` lines of the label's width, the last one elided with "…"; the full
    text is kept (and shown as the tooltip)."""

    def __init__(self, max_lines: int = SUMMARY_LINES, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._max_lines = max_lines
        self.setWordWrap(False)
        self.setTextFormat(Qt.TextFormat.PlainText)
        # The width follows the card; only the number of lines decides the height.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def full_text(self) -> str:
        return self._full

    def is_elided(self) -> bool:
        return " ".join(self.text().split()) != " ".join(self._full.split())

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._relayout()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self) -> None:
        width = self.contentsRect().width()
        if width < 40:  # not laid out yet: one line, elided to a typical card width
            lines = elide_lines(self._full, self.font(), 640, 1)
        else:
            lines = elide_lines(self._full, self.font(), width, self._max_lines)
        shown = "\n".join(lines)
        if shown != self.text():
            self.setText(shown)
