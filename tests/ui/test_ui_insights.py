"""The Insights page on real services and a real SQLite database filled with known sessions: Ctrl+3 opens it, the
charts and tables show the figures, the filters change them, CSV export writes the file, a practice manager sees
counts only."""

from __future__ import annotations

import csv
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot
from ui_support import REPO_ROOT, AsyncDriver, make_window

from tbdesktop.config import Settings
from tbdesktop.services.context import AppContext
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.stats import StatsService
from tbdesktop.services.stats_tables import figure_tables
from tbdesktop.ui.insights import InsightsPage
from tbdesktop.ui.insights.page import PRACTICE_SUBTITLE

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support", "pipewire", "PulseAudioService"),
]

Shot = Callable[[QWidget, str], Path]
NOV_2, DEC_6 = date(2026, 11, 2), date(2026, 12, 6)


def _stats_support() -> ModuleType:
    if "stats_support" not in sys.modules:
        spec = importlib.util.spec_from_file_location("stats_support", REPO_ROOT / "tests/services/stats_support.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["stats_support"] = module
        spec.loader.exec_module(module)
    return sys.modules["stats_support"]


class Idle:
    """Stands in for the processing runner: no job runs in these tests."""

    def add_listener(self, listener: Any) -> Any:
        return lambda: None

    def wake(self) -> None:
        pass

    async def cancel(self, session_id: Any) -> bool:
        return False


@pytest.fixture
def practice(tmp_path: Path) -> Iterator[tuple[AppContext, dict[str, Any]]]:
    ctx = AppContext.open(Settings(data_dir=tmp_path / "data", secrets_dir=tmp_path / "secrets"))
    try:
        profiles = ProfileService(ctx)
        dana = profiles.create_profile_sync("Dana Reyes", "dana@example.org")
        morgan = profiles.create_profile_sync("Morgan Hale", "morgan@example.org")
        pat = profiles.create_profile_sync("Pat Okafor", "pat@example.org", role="practice_manager")
        support = _stats_support()
        support.seed(ctx, dana.id, support.DANA)
        support.seed(ctx, morgan.id, support.MORGAN)
        yield ctx, {"dana": dana, "pat": pat}
    finally:
        ctx.close()


def _page(qtbot: QtBot, ctx: AppContext, user: Any) -> InsightsPage:
    page = InsightsPage(StatsService(ctx, user))
    qtbot.addWidget(page)
    page.resize(1100, 900)
    return page


def _load(aio: AsyncDriver, page: InsightsPage, done: Callable[[], bool], what: str) -> None:
    aio.run(aio.until(lambda: page.stats is not None and done(), message=what))
    aio.run(aio.settled())


def _bars(page: InsightsPage, key: str, index: int = 0) -> list[float | None]:
    return page.cards[key].chart.spec.bars[index].values


def _lines(page: InsightsPage, key: str, index: int = 0) -> list[float | None]:
    return page.cards[key].chart.spec.lines[index].values


def test_ctrl_3_opens_insights_with_charts_of_the_figures(
    qtbot: QtBot, aio: AsyncDriver, practice: Any, screenshot: Shot
) -> None:
    ctx, people = practice
    window = make_window(qtbot, ctx, people["dana"], Idle(), size=(1280, 900))
    aio.run(window.refresh())
    page = window.insights_page
    page.set_range(NOV_2, DEC_6)
    assert window.nav_buttons["insights"].toolTip().startswith("Insights")
    qtbot.keyClick(window, "3", Qt.KeyboardModifier.ControlModifier)
    aio.run(aio.until(lambda: window.stack.currentWidget() is page, message="Ctrl+3"))
    assert window.nav_buttons["insights"].isChecked()
    _load(aio, page, lambda: page.stats is not None and page.stats.start == NOV_2, "the figures")

    assert page.total_values["Sessions"].text() == "6"
    assert page.total_values["Hours"].text() == "3.75"
    assert page.total_values["Median days to sign"].text() == "1.5"
    assert page.total_values["Processing speed"].text() == "3.4× real time"
    assert page.cards["sessions"].chart.spec.categories == ["2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov"]
    assert _bars(page, "sessions") == [2, 2, 0, 1, 1]
    assert _lines(page, "sessions") == [1.83, 0.75, 0.0, 0.5, 0.67]
    assert [_bars(page, "notes", i) for i in range(3)] == [[2, 0, 0, 1, 1], [0, 1, 0, 0, 0], [0, 1, 0, 0, 0]]
    assert _lines(page, "sign_days") == [2.0, None, None, 2.0, 1.0]
    assert _bars(page, "sign_delays") == [1, 1, 1, 1, 0]
    assert _lines(page, "processing") == [3.67, None, None, 2.0, 5.0]
    assert [s.name for s in page.cards["risk"].chart.spec.bars] == [
        "Suicidal ideation",
        "Harm to others",
        "Substance use",
    ]
    assert [_bars(page, "risk", i) for i in range(3)] == [[2, 0], [0, 1], [1, 0]]
    assert page.cards["sessions"].chart.isVisible() and not page.cards["sessions"].table.isVisible()
    screenshot(window, "insights_window")
    screenshot(page.cards["processing"], "insights_processing_card")
    screenshot(page.cards["risk"], "insights_risk_card")

    qtbot.keyClick(window, "1", Qt.KeyboardModifier.ControlModifier)
    aio.run(aio.until(lambda: window.stack.currentWidget() is window.sessions_page, message="Ctrl+1"))
    window.nav_buttons["insights"].click()
    assert window.stack.currentWidget() is page and window.nav_buttons["insights"].isChecked()
    aio.run(aio.settled())


def test_filters_change_the_figures_and_load_off_the_ui_thread(
    qtbot: QtBot, aio: AsyncDriver, practice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, people = practice
    threads: list[str] = []
    original = StatsService.figures_sync

    def recorded(self: StatsService, query: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(self, query)

    monkeypatch.setattr(StatsService, "figures_sync", recorded)
    page = _page(qtbot, ctx, people["dana"])
    page.set_range(NOV_2, DEC_6)
    page.show()
    _load(aio, page, lambda: page.stats is not None and page.stats.start == NOV_2, "the figures")
    assert threads and threading.main_thread().name not in threads
    assert [page.client_box.itemText(i) for i in range(page.client_box.count())] == [
        "All clients",
        "Alex Kim",
        "Jordan Lee",
    ]

    page.client_box.setCurrentIndex(page.client_box.findText("Jordan Lee"))
    _load(aio, page, lambda: page.stats is not None and page.stats.client == "Jordan Lee", "Jordan's figures")
    assert _bars(page, "sessions") == [1, 2, 0, 0, 1]
    assert page.total_values["Sessions"].text() == "4"
    assert page.total_values["Median days to sign"].text() == "0.5"

    page.set_range(date(2026, 11, 9), date(2026, 11, 30))
    _load(aio, page, lambda: page.stats is not None and page.stats.start == date(2026, 11, 9), "the new range")
    assert page.cards["sessions"].chart.spec.categories == ["9 Nov", "16 Nov", "23 Nov", "30 Nov"]
    assert _bars(page, "sessions") == [2, 0, 0, 0]
    assert page.cards["processing"].chart.spec.empty  # nothing of Jordan's was processed in those weeks

    errors: list[str] = []
    page.notify.connect(lambda kind, message: errors.append(message) if kind == "error" else None)
    page.set_range(date(2026, 12, 1), date(2026, 11, 1))
    aio.run(aio.until(lambda: bool(errors), message="the error"))
    aio.run(aio.settled())
    assert errors == ["The start date is after the end date."]
    assert page.status.text() == "The start date is after the end date."


def test_tables_show_the_same_figures_and_export_as_csv(
    qtbot: QtBot, aio: AsyncDriver, practice: Any, tmp_path: Path, screenshot: Shot
) -> None:
    ctx, people = practice
    page = _page(qtbot, ctx, people["dana"])
    page.set_range(NOV_2, DEC_6)
    page.show()
    _load(aio, page, lambda: page.stats is not None and page.stats.start == NOV_2, "the figures")

    qtbot.mouseClick(page.tables_button, Qt.MouseButton.LeftButton)
    assert page.stats is not None
    for table in figure_tables(page.stats):
        view = page.cards[table.key].table
        assert view.isVisible() and not page.cards[table.key].chart.isVisible()
        assert view.cell_texts() == table.rows
        assert [view.horizontalHeaderItem(i).text() for i in range(view.columnCount())] == table.headers
    assert page.cards["sessions"].table.cell_texts()[0] == ["2026-11-02", "2", "1.83"]
    screenshot(page, "insights_tables")

    notes: list[tuple[str, str]] = []
    page.notify.connect(lambda kind, message: notes.append((kind, message)))
    target = tmp_path / "exports" / "weekly sessions"
    target.parent.mkdir()
    page.export_folder = target.parent
    qtbot.mouseClick(page.cards["sessions"].export_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: page.save_dialog is not None and page.save_dialog.isVisible(), message="the dialog"))
    dialog = page.save_dialog
    assert dialog is not None and dialog.selectedNameFilter() == "CSV files (*.csv)"
    assert dialog.directory().absolutePath() == str(target.parent)
    assert dialog.selectedFiles()[0].endswith("/sessions-2026-11-02-to-2026-12-06.csv")  # the suggested name
    name_edit = dialog.findChild(QLineEdit, "fileNameEdit")
    name_edit.clear()
    qtbot.keyClicks(name_edit, target.name)  # typed as a user would; the default suffix is added
    dialog.accept()
    written = target.with_name("weekly sessions.csv")
    aio.run(aio.until(lambda: bool(notes), message="the export"))
    assert notes == [("success", "Saved weekly sessions.csv.")]
    with written.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Week of", "Sessions", "Hours"]
    assert rows[1:] == [
        ["2026-11-02", "2", "1.83"],
        ["2026-11-09", "2", "0.75"],
        ["2026-11-16", "0", "0"],
        ["2026-11-23", "1", "0.5"],
        ["2026-11-30", "1", "0.67"],
    ]

    qtbot.mouseClick(page.charts_button, Qt.MouseButton.LeftButton)
    assert page.cards["risk"].chart.isVisible()
    qtbot.mouseClick(page.cards["risk"].export_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: page.save_dialog is not None and page.save_dialog.isVisible(), message="the dialog"))
    page.save_dialog.reject()
    aio.run(aio.settled())
    assert len(notes) == 1 and page.save_dialog is None  # cancelled: nothing written, nothing said


def test_a_practice_manager_sees_counts_without_client_names(
    qtbot: QtBot, aio: AsyncDriver, practice: Any, screenshot: Shot
) -> None:
    ctx, people = practice
    page = _page(qtbot, ctx, people["pat"])
    page.set_range(NOV_2, DEC_6)
    page.show()
    _load(aio, page, lambda: page.stats is not None and page.stats.start == NOV_2, "the figures")
    assert page.subtitle.text() == PRACTICE_SUBTITLE
    assert not page.client_box.isVisible()
    assert page.query().client_id is None
    assert page.total_values["Sessions"].text() == "8"
    assert _bars(page, "sessions") == [3, 2, 0, 2, 1]
    shown = [label.text() for label in page.findChildren(QLabel)]
    for card in page.cards.values():
        shown += [cell for row in card.table.cell_texts() for cell in row]
        shown += card.chart.spec.categories + [s.name for s in card.chart.spec.bars + card.chart.spec.lines]
    text = "\n".join(shown)
    for name in _stats_support().CLIENT_NAMES:
        assert name not in text
    screenshot(page, "insights_practice_manager")


@pytest.mark.parametrize(("top", "whole"), [(0.01, False), (0.3, False), (7.0, True), (2.5, False), (1234.0, True)])
def test_every_axis_label_is_distinct(top: float, whole: bool) -> None:
    from tbdesktop.ui.insights.charts import ChartView, _tick, axis_top

    end = axis_top(top, ChartView.TICKS, whole)
    labels = [_tick(end * i / ChartView.TICKS) for i in range(ChartView.TICKS + 1)]
    assert len(set(labels)) == len(labels), labels
    assert float(labels[-1]) == pytest.approx(end)
