"""Small bar and line charts drawn with QPainter: a chart renders the ``ChartSpec`` it is given and computes nothing
else. (QtCharts would pull Qt's OpenGL libraries into the packaged app, which leaves them out.)"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

PALETTE = ("#2f6f73", "#e0a458", "#8fbcbb", "#c8553d", "#6c7a89", "#7b9e89", "#b07aa1")
TEXT = QColor("#5b6b73")
GRID = QColor("#e3e8ea")
AXIS = QColor("#c9d2d6")


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]
    color: str = PALETTE[0]


@dataclass(frozen=True)
class ChartSpec:
    categories: list[str]  # one short label under each bar or point
    bars: list[Series] = field(default_factory=list)
    lines: list[Series] = field(default_factory=list)
    stacked: bool = False  # the bars of one category on top of each other
    bar_unit: str = ""  # left axis
    line_unit: str = ""  # the lines' axis: on the right when there are bars too
    empty_text: str = "Nothing to show for these dates."
    tooltips: list[str] = field(default_factory=list)  # the full name of each category, for its tooltip

    @property
    def empty(self) -> bool:
        every = [v for s in (*self.bars, *self.lines) for v in s.values if v]
        return not self.categories or not every


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above ``value``."""
    if value <= 0:
        return 1.0
    power: float = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power + 1e-9:
            return step * power
    return 10 * power


def axis_top(value: float, ticks: int, whole: bool) -> float:
    """Where an axis of ``ticks`` steps ends so each step is a round number (a whole one for counts)."""
    step = nice_ceiling(value / ticks) if value > 0 else 1.0
    if whole:
        step = float(max(1, math.ceil(step)))
    return step * ticks


def _tick(value: float) -> str:
    """An axis or tooltip figure: whole numbers as such, others with the digits that tell them apart (an axis
    of hours for a few short sessions steps by 0.0025, which two decimals showed as 0, 0, 0.01, 0.01)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


class ChartView(QWidget):
    TICKS = 4

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setMinimumHeight(210)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self._spec = ChartSpec(categories=[])

    @property
    def spec(self) -> ChartSpec:
        return self._spec

    def set_spec(self, spec: ChartSpec) -> None:
        self._spec = spec
        names = ", ".join(s.name for s in (*spec.bars, *spec.lines))
        self.setAccessibleDescription(f"Chart of {names}" if names else "Empty chart")
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(460, 240)

    # -- geometry ------------------------------------------------------------------------------------------

    def _dual(self) -> bool:
        return bool(self._spec.bars and self._spec.lines)

    def _plot(self) -> QRectF:
        fm = QFontMetrics(self.font())
        left = 12 + max(fm.horizontalAdvance("0000"), fm.horizontalAdvance(self._spec.bar_unit or ""))
        right = 12 + (fm.horizontalAdvance("0000") if self._dual() else 4)
        top = 18 + fm.height() * (len(self._legend_rows()) + 1)  # the legend, then the axis titles
        bottom = 10 + fm.height()
        return QRectF(left, top, max(10.0, self.width() - left - right), max(10.0, self.height() - top - bottom))

    def _bar_max(self) -> float:
        spec = self._spec
        if not spec.bars:
            return 1.0
        if spec.stacked:
            top = max((sum(s.values[i] or 0 for s in spec.bars) for i in range(len(spec.categories))), default=0)
        else:
            top = max((v or 0 for s in spec.bars for v in s.values), default=0)
        return axis_top(float(top), self.TICKS, whole=True)  # bars are counts

    def _line_max(self) -> float:
        top = max((v or 0 for s in self._spec.lines for v in s.values), default=0)
        return axis_top(float(top), self.TICKS, whole=False)

    def category_at(self, x: float) -> int | None:
        plot, n = self._plot(), len(self._spec.categories)
        if n == 0 or not plot.left() <= x <= plot.right():
            return None
        return min(n - 1, int((x - plot.left()) / (plot.width() / n)))

    # -- painting ------------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.fillRect(self.rect(), QColor("#ffffff"))
            if self._spec.empty:
                p.setPen(TEXT)
                p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._spec.empty_text)
                return
            plot = self._plot()
            self._legend(p)
            self._axes(p, plot)
            self._bars(p, plot)
            self._lines(p, plot)
            self._labels(p, plot)
        finally:
            p.end()

    def _legend_rows(self) -> list[list[tuple[float, Series]]]:
        """The legend's entries (x, series), wrapped into rows that fit the chart's width."""
        fm = QFontMetrics(self.font())
        rows: list[list[tuple[float, Series]]] = [[]]
        x = 8.0
        for s in (*self._spec.bars, *self._spec.lines):
            width = 14 + fm.horizontalAdvance(s.name) + 16
            if rows[-1] and x + width > self.width() - 4:
                rows.append([])
                x = 8.0
            rows[-1].append((x, s))
            x += width
        return rows

    def _legend(self, p: QPainter) -> None:
        fm = QFontMetrics(self.font())
        p.setPen(TEXT)
        for r, row in enumerate(self._legend_rows()):
            y = 8 + r * fm.height()
            for x, s in row:
                p.fillRect(QRectF(x, y + (fm.height() - 10) / 2, 10, 10), QColor(s.color))
                p.drawText(QPointF(x + 14, y + fm.ascent()), s.name)

    def _axes(self, p: QPainter, plot: QRectF) -> None:
        spec, fm = self._spec, QFontMetrics(self.font())
        left_max = self._bar_max() if spec.bars else self._line_max()
        right_max = self._line_max() if self._dual() else None
        for i in range(self.TICKS + 1):
            y = plot.bottom() - plot.height() * i / self.TICKS
            p.setPen(QPen(GRID if i else AXIS, 1))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(TEXT)
            text = _tick(left_max * i / self.TICKS)
            p.drawText(QPointF(plot.left() - 6 - fm.horizontalAdvance(text), y + fm.ascent() / 2 - 1), text)
            if right_max is not None:
                p.drawText(QPointF(plot.right() + 6, y + fm.ascent() / 2 - 1), _tick(right_max * i / self.TICKS))
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, self.font().pointSizeF() * 0.85))
        p.setFont(small)
        title_y = plot.top() - 6
        unit = spec.bar_unit if spec.bars else spec.line_unit
        if unit:
            p.drawText(QPointF(4, title_y), unit)
        if right_max is not None and spec.line_unit:
            width = QFontMetrics(small).horizontalAdvance(spec.line_unit)
            p.drawText(QPointF(self.width() - width - 4, title_y), spec.line_unit)
        p.setFont(self.font())

    def _bars(self, p: QPainter, plot: QRectF) -> None:
        spec = self._spec
        if not spec.bars:
            return
        n, top = len(spec.categories), self._bar_max()
        slot = plot.width() / n
        inner = slot * 0.72
        p.setPen(Qt.PenStyle.NoPen)
        for i in range(n):
            x0 = plot.left() + slot * i + (slot - inner) / 2
            base = plot.bottom()
            for k, s in enumerate(spec.bars):
                value = s.values[i] or 0.0
                h = plot.height() * value / top
                if spec.stacked:
                    rect = QRectF(x0, base - h, inner, h)
                    base -= h
                else:
                    w = inner / len(spec.bars)
                    rect = QRectF(x0 + k * w, plot.bottom() - h, max(1.0, w - 1), h)
                if h > 0:
                    p.fillRect(rect, QColor(s.color))

    def _lines(self, p: QPainter, plot: QRectF) -> None:
        spec = self._spec
        if not spec.lines:
            return
        n, top = len(spec.categories), self._line_max()
        slot = plot.width() / n
        for s in spec.lines:
            color = QColor(s.color)
            path = QPainterPath()
            points: list[QPointF] = []
            drawing = False
            for i, value in enumerate(s.values):
                if value is None:
                    drawing = False
                    continue
                point = QPointF(plot.left() + slot * (i + 0.5), plot.bottom() - plot.height() * value / top)
                points.append(point)
                if drawing:
                    path.lineTo(point)
                else:
                    path.moveTo(point)
                    drawing = True
            p.setPen(QPen(color, 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
            p.setBrush(color)
            radius = 3.0 if n <= 40 else 1.5
            for point in points:
                p.drawEllipse(point, radius, radius)

    def _labels(self, p: QPainter, plot: QRectF) -> None:
        cats = self._spec.categories
        fm = QFontMetrics(self.font())
        slot = plot.width() / len(cats)
        p.setPen(TEXT)
        drawn_to = -math.inf
        for i, text in enumerate(cats):  # each label that does not run into the one before it
            width = fm.horizontalAdvance(text)
            x = min(max(plot.left() + slot * (i + 0.5) - width / 2, 0.0), self.width() - width)
            if x < drawn_to + 8:
                continue
            p.drawText(QPointF(x, plot.bottom() + 4 + fm.ascent()), text)
            drawn_to = x + width

    # -- tooltips ------------------------------------------------------------------------------------------

    def tooltip_at(self, index: int) -> str:
        spec = self._spec
        name = spec.tooltips[index] if index < len(spec.tooltips) else spec.categories[index]
        lines = [name]
        for s in (*spec.bars, *spec.lines):
            value = s.values[index]
            lines.append(f"{s.name}: {'–' if value is None else _tick(value)}")
        return "\n".join(lines)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = None if self._spec.empty else self.category_at(event.position().x())
        if index is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPosition().toPoint(), self.tooltip_at(index), self)
        super().mouseMoveEvent(event)
