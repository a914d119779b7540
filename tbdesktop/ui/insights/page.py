"""The Insights page: the practice at a glance, as charts or tables, for a date range (and, for a therapist, one
client), each chart exportable as CSV. A practice manager sees the whole practice in counts, with no client filter."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from PySide6.QtCore import QDate, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.stats import ClientChoice, PracticeStats, StatsQuery, StatsService, StatsTotals
from tbdesktop.services.stats_tables import FigureTable, figure_tables, kind_label, total_lines
from tbdesktop.ui.aio import run_dialog
from tbdesktop.ui.insights.charts import PALETTE, ChartSpec, ChartView, Series
from tbdesktop.ui.insights.controller import InsightsController
from tbdesktop.ui.insights.table import FigureTableView

DEFAULT_WEEKS = 12
OWN_SUBTITLE = "Your sessions, notes and processing at a glance."
PRACTICE_SUBTITLE = "The whole practice in counts only: no client names or content."
_BLANK = PracticeStats(scope="own", source="this workstation", start=None, end=None, client=None, totals=StatsTotals())


def _day(d: QDate) -> date:
    return date(d.year(), d.month(), d.day())


def _week(d: date) -> str:
    return f"{d.day} {d:%b}"


def chart_specs(stats: PracticeStats) -> dict[str, ChartSpec]:
    """What each chart draws, from the figures (the tables show the same numbers)."""
    weeks = [_week(w.week) for w in stats.sessions]
    week_tips = [f"Week of {w.week:%d %b %Y}" for w in stats.sessions]
    notes = stats.notes
    speed_weeks = [_week(p.week) for p in stats.processing]
    kinds = stats.risk_kinds
    return {
        "sessions": ChartSpec(
            weeks,
            bars=[Series("Sessions", [float(w.sessions) for w in stats.sessions], PALETTE[0])],
            lines=[Series("Hours", [w.hours for w in stats.sessions], PALETTE[1])],
            bar_unit="sessions",
            line_unit="hours",
            tooltips=week_tips,
        ),
        "notes": ChartSpec(
            weeks,
            bars=[
                Series("Signed", [float(n.signed) for n in notes], PALETTE[0]),
                Series("Draft", [float(n.draft) for n in notes], PALETTE[1]),
                Series("No note", [float(n.no_note) for n in notes], PALETTE[4]),
            ],
            stacked=True,
            bar_unit="sessions",
            tooltips=week_tips,
        ),
        "sign_days": ChartSpec(
            weeks,
            lines=[Series("Median days to sign", [n.median_days_to_sign for n in notes], PALETTE[0])],
            line_unit="days",
            empty_text="No signed notes in these dates.",
            tooltips=week_tips,
        ),
        "sign_delays": ChartSpec(
            [d.label if d.max_days is not None else f"{d.min_days}+ days" for d in stats.sign_delays],
            bars=[Series("Signed notes", [float(d.notes) for d in stats.sign_delays], PALETTE[2])],
            bar_unit="notes",
            empty_text="No signed notes in these dates.",
        ),
        "processing": ChartSpec(
            speed_weeks,
            lines=[Series("Audio minutes per minute", [p.speed for p in stats.processing], PALETTE[0])],
            line_unit="× real time",
            empty_text="No recordings were processed in these dates.",
            tooltips=[f"Week of {p.week:%d %b %Y}" for p in stats.processing],
        ),
        "risk": ChartSpec(
            [f"{m.month:%b %Y}" for m in stats.risk],
            bars=[
                Series(kind_label(k), [float(m.flags[k]) for m in stats.risk], PALETTE[(i + 3) % len(PALETTE)])
                for i, k in enumerate(kinds)
            ],
            stacked=True,
            bar_unit="flags",
            empty_text="No risk flags were raised in these dates.",
            tooltips=[f"{m.month:%B %Y}" for m in stats.risk],
        ),
    }


class InsightCard(QFrame):
    """One chart, the same figures as a table, and its CSV export button."""

    def __init__(self, key: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName("insightsCard")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        top = QHBoxLayout()
        self.title = QLabel(title)
        self.title.setObjectName("insightsCardTitle")
        self.title.setWordWrap(True)
        top.addWidget(self.title, 1)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setObjectName(f"export_{key}")
        self.export_button.setProperty("flat", True)
        self.export_button.setAccessibleName(f"Export {title} as CSV")
        self.export_button.setToolTip("Save these figures as a CSV file")
        top.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        self.stack = QStackedWidget()
        self.chart = ChartView(f"chart_{key}")
        self.table = FigureTableView(f"table_{key}")
        self.stack.addWidget(self.chart)
        self.stack.addWidget(self.table)
        layout.addWidget(self.stack, 1)

    def show_table(self, table: bool) -> None:
        self.stack.setCurrentWidget(self.table if table else self.chart)


class InsightsPage(QWidget):
    notify = Signal(str, str)  # ("success" | "error", message) for toasts
    loaded = Signal()  # new figures are on screen
    refreshRequested = Signal()  # the filters settled (or the page was shown): load the figures
    exportRequested = Signal(str)  # the key of the table to save as CSV

    def __init__(self, stats: StatsService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("insightsPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.stats: PracticeStats | None = None
        self.save_dialog: QFileDialog | None = None
        self.export_folder: Path | None = None  # where the save dialog opens (the last export's folder)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)  # a date typed digit by digit loads once
        self._timer.timeout.connect(self.refreshRequested)
        self._controller = InsightsController(stats, self, parent=self)
        self.refreshRequested.connect(self._controller.load)
        self.exportRequested.connect(self._controller.export_csv)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.setSpacing(10)
        layout.addLayout(self._build_header())
        layout.addLayout(self._build_filters())
        self.totals = QFrame()
        self.totals.setObjectName("insightsTotals")
        self.totals.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        grid = QGridLayout(self.totals)
        grid.setContentsMargins(16, 10, 16, 10)
        grid.setHorizontalSpacing(18)
        self.total_values: dict[str, QLabel] = {}
        for i, (label, _value) in enumerate(total_lines(StatsTotals())):
            value = QLabel("–")
            value.setObjectName("insightsTotalValue")
            caption = QLabel(label)
            caption.setObjectName("insightsTotalLabel")
            grid.addWidget(value, (i // 5) * 2, i % 5)
            grid.addWidget(caption, (i // 5) * 2 + 1, i % 5)
            self.total_values[label] = value
        layout.addWidget(self.totals)

        content = QWidget()
        content.setObjectName("insightsContent")
        cards = QGridLayout(content)
        cards.setContentsMargins(0, 0, 0, 0)
        cards.setSpacing(14)
        self.cards: dict[str, InsightCard] = {}
        titles = [(t.key, t.title) for t in figure_tables(_BLANK)]
        for i, (key, title) in enumerate(titles):
            card = InsightCard(key, title)
            card.export_button.clicked.connect(lambda _checked=False, k=key: self.exportRequested.emit(k))
            cards.addWidget(card, i // 2, i % 2)
            self.cards[key] = card
        scroll = QScrollArea()
        scroll.setObjectName("insightsScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        layout.addWidget(scroll, 1)

    def _build_header(self) -> QHBoxLayout:
        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        title = QLabel("Insights")
        title.setObjectName("pageTitle")
        practice = self._controller.practice_view
        self.subtitle = QLabel(PRACTICE_SUBTITLE if practice else OWN_SUBTITLE)
        self.subtitle.setObjectName("pageSubtitle")
        self.subtitle.setWordWrap(True)
        titles.addWidget(title)
        titles.addWidget(self.subtitle)
        header.addLayout(titles, 1)
        self.view_group = QButtonGroup(self)
        self.view_group.setExclusive(True)
        self.charts_button = QPushButton("Charts")
        self.tables_button = QPushButton("Tables")
        for button, name in ((self.charts_button, "insightsShowCharts"), (self.tables_button, "insightsShowTables")):
            button.setObjectName(name)
            button.setCheckable(True)
            button.setProperty("segment", True)
            button.setAccessibleName(f"Show {button.text().lower()}")
            self.view_group.addButton(button)
            header.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        header.setSpacing(0)
        self.charts_button.setChecked(True)
        self.tables_button.toggled.connect(self.show_tables)
        return header

    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(8)
        today = date.today()
        start = today - timedelta(weeks=DEFAULT_WEEKS)
        self.from_edit = self._date_edit("insightsFrom", start, "First session date")
        self.to_edit = self._date_edit("insightsTo", today, "Last session date")
        row.addWidget(QLabel("From"))
        row.addWidget(self.from_edit)
        row.addWidget(QLabel("to"))
        row.addWidget(self.to_edit)
        self.client_box = QComboBox()
        self.client_box.setObjectName("insightsClient")
        self.client_box.setAccessibleName("Client")
        self.client_box.setMinimumWidth(180)
        self.client_box.addItem("All clients", None)
        self.client_box.currentIndexChanged.connect(lambda _i: self.schedule_refresh())
        row.addSpacing(8)
        row.addWidget(self.client_box)
        self.client_box.setVisible(not self._controller.practice_view)
        row.addStretch(1)
        self.status = QLabel("")
        self.status.setObjectName("insightsStatus")
        self.status.setWordWrap(True)
        self.status.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.status, 2)
        return row

    def _date_edit(self, name: str, day: date, accessible: str) -> QDateEdit:
        edit = QDateEdit(QDate(day.year, day.month, day.day))
        edit.setObjectName(name)
        edit.setAccessibleName(accessible)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.dateChanged.connect(lambda _d: self.schedule_refresh())
        return edit

    # -- loading ------------------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.schedule_refresh()  # sessions and notes change elsewhere (processing, signing, another workstation)

    def query(self) -> StatsQuery:
        client = self.client_box.currentData() if self.client_box.isVisibleTo(self) else None
        return StatsQuery(start=_day(self.from_edit.date()), end=_day(self.to_edit.date()), client_id=client)

    def set_range(self, start: date, end: date) -> None:
        self.from_edit.setDate(QDate(start.year, start.month, start.day))
        self.to_edit.setDate(QDate(end.year, end.month, end.day))

    def schedule_refresh(self) -> None:
        self._timer.start()

    async def refresh(self) -> None:
        await self._controller.refresh()

    def add_clients(self, clients: list[ClientChoice]) -> None:
        blocked = self.client_box.blockSignals(True)
        try:
            for c in clients:
                self.client_box.addItem(c.name, c.id)
        finally:
            self.client_box.blockSignals(blocked)

    def show_loading(self) -> None:
        self.status.setProperty("error", False)
        self.status.setText("Loading…")

    def show_error(self, message: str) -> None:
        self.status.setProperty("error", True)
        self.status.setText(message)
        self.status.style().polish(self.status)
        self.notify.emit("error", message)

    def show_stats(self, stats: PracticeStats) -> None:
        self.stats = stats
        for label, value in total_lines(stats.totals):
            self.total_values[label].setText(value)
        specs = chart_specs(stats)
        for table in figure_tables(stats):
            card = self.cards[table.key]
            card.chart.set_spec(specs[table.key])
            card.table.set_table(table)
        where = "" if stats.source == "this workstation" else " · from the clinic server"
        self.status.setProperty("error", False)
        self.status.style().polish(self.status)
        self.status.setText(f"{stats.totals.sessions} sessions{where}")
        self.loaded.emit()

    def show_tables(self, tables: bool) -> None:
        for card in self.cards.values():
            card.show_table(tables)

    # -- export -------------------------------------------------------------------------------------------

    def export_csv(self, key: str) -> None:
        self.exportRequested.emit(key)

    def figure_table(self, key: str) -> FigureTable | None:
        return self.cards[key].table.figure_table

    async def ask_save_path(self, title: str, name: str) -> Path | None:
        """The save dialog, opened where the last export went; the chosen path, or None when cancelled."""
        folder = self.export_folder or Path(
            QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or Path.home()
        )
        dialog = QFileDialog(self.window(), f"Export “{title}” as CSV", str(folder / name), "CSV files (*.csv)")
        dialog.setObjectName("insightsSaveDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setDefaultSuffix("csv")
        dialog.selectFile(name)
        self.save_dialog = dialog
        try:
            accepted = await run_dialog(dialog) == QDialog.DialogCode.Accepted
            chosen = dialog.selectedFiles()
        finally:
            self.save_dialog = None
            dialog.deleteLater()
        if not accepted or not chosen:
            return None
        path = Path(chosen[0])
        self.export_folder = path.parent
        return path
