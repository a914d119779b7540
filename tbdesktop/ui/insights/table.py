"""A chart's figures as a read-only table (the rows a CSV export writes)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from tbdesktop.services.stats_tables import FigureTable


class FigureTableView(QTableWidget):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.setMinimumHeight(210)
        self._table: FigureTable | None = None

    @property
    def figure_table(self) -> FigureTable | None:
        return self._table

    def set_table(self, table: FigureTable) -> None:
        self._table = table
        self.setAccessibleName(table.title)
        self.clear()
        self.setColumnCount(len(table.headers))
        self.setHorizontalHeaderLabels(table.headers)
        self.setRowCount(len(table.rows))
        for r, row in enumerate(table.rows):
            for c, cell in enumerate(row):
                item = QTableWidgetItem(cell)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)

    def cell_texts(self) -> list[list[str]]:
        """What the table shows, row by row."""
        out: list[list[str]] = []
        for r in range(self.rowCount()):
            row: list[str] = []
            for c in range(self.columnCount()):
                item = self.item(r, c)
                row.append(item.text() if item is not None else "")
            out.append(row)
        return out
