"""Which word of a word-wrapped transcript row a click landed on."""

from __future__ import annotations

import re

from PySide6.QtCore import QPoint, QPointF, QRect
from PySide6.QtGui import QFont, QTextLayout, QTextOption

_WORD = re.compile(r"\S+")


def word_at(text: str, rect: QRect, font: QFont, point: QPoint) -> int | None:
    """The index of the word of ``text`` (laid out word-wrapped in ``rect``) under ``point``, if any."""
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    layout.setTextOption(option)
    layout.beginLayout()
    y = 0.0
    lines = []
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(max(rect.width(), 1))
        line.setPosition(QPointF(0.0, y))
        y += line.height()
        lines.append(line)
    layout.endLayout()
    local_x, local_y = point.x() - rect.left(), point.y() - rect.top()
    for line in lines:
        if line.y() <= local_y < line.y() + line.height():
            if local_x > line.naturalTextWidth():
                return None
            position = line.xToCursor(float(local_x))
            starts = [m.start() for m in _WORD.finditer(text)]
            before = [i for i, start in enumerate(starts) if start <= position]
            return before[-1] if before else 0
    return None
