"""What the Insights page does: load the figures (and, for a therapist, the client list) for its filters through
the stats service, and export one table as CSV, written off the UI thread; every error to the page's ``notify``."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, SignalInstance

from tbdesktop.services.stats import ClientChoice, PracticeStats, StatsQuery, StatsService
from tbdesktop.services.stats_tables import FigureTable
from tbdesktop.ui.aio import spawn


class InsightsView(Protocol):
    """What the controller needs from the Insights page: its toast signal, its filters, what it shows, its dialog."""

    @property
    def notify(self) -> SignalInstance: ...

    @property
    def stats(self) -> PracticeStats | None: ...

    def query(self) -> StatsQuery: ...

    def add_clients(self, clients: list[ClientChoice]) -> None: ...

    def show_loading(self) -> None: ...

    def show_stats(self, stats: PracticeStats) -> None: ...

    def show_error(self, message: str) -> None: ...

    def figure_table(self, key: str) -> FigureTable | None: ...

    async def ask_save_path(self, title: str, name: str) -> Path | None: ...


def write_csv(path: Path, table: FigureTable) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(table.headers)
        writer.writerows(table.rows)


class InsightsController(QObject):
    def __init__(self, service: StatsService, page: InsightsView, parent: QObject) -> None:
        super().__init__(parent)
        self._service = service
        self._page = page
        self._generation = 0
        self._clients_loaded = False

    @property
    def practice_view(self) -> bool:
        return self._service.practice_view

    def _error(self, message: str) -> None:
        self._page.notify.emit("error", message)

    # -- loading ------------------------------------------------------------------------------------------

    def load(self) -> None:
        spawn(self.refresh(), on_error=self._page.show_error)

    async def refresh(self) -> None:
        self._generation += 1
        generation = self._generation
        if not self._clients_loaded and not self.practice_view:
            self._clients_loaded = True  # once, even when filters change while the list loads
            try:
                self._page.add_clients(await self._service.clients())
            except BaseException:
                self._clients_loaded = False
                raise
        self._page.show_loading()
        stats = await self._service.figures(self._page.query())
        if generation == self._generation:  # a later filter change wins
            self._page.show_stats(stats)

    # -- export -------------------------------------------------------------------------------------------

    def export_csv(self, key: str) -> None:
        spawn(self.export(key), on_error=self._error)

    async def export(self, key: str) -> Path | None:
        table = self._page.figure_table(key)
        stats = self._page.stats
        if table is None or stats is None:
            self._error("The figures are still loading.")
            return None
        start = stats.start.isoformat() if stats.start else "start"
        end = stats.end.isoformat() if stats.end else "today"
        path = await self._page.ask_save_path(table.title, f"{key.replace('_', '-')}-{start}-to-{end}.csv")
        if path is None:
            return None
        if path.suffix.lower() != ".csv":
            path = path.with_name(path.name + ".csv")
        try:
            await asyncio.to_thread(write_csv, path, table)
        except OSError as exc:
            self._error(f"Could not save {path.name}: {exc.strerror or 'the file could not be written'}.")
            return None
        self._page.notify.emit("success", f"Saved {path.name}.")
        return path
