"""The list of templates, grouped as built-in, clinic-wide and mine, with my default marked."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from tbdesktop.services.dto import TemplateInfo

GROUPS = (
    ("builtin", "Built-in", "Built-in templates ship with TherapyBridge."),
    ("clinic", "Clinic-wide", "No clinic-wide templates yet."),
    ("mine", "My templates", "None of your own yet."),
)
ID_ROLE = Qt.ItemDataRole.UserRole
DEFAULT_MARK = "★ Default"


class TemplateTree(QTreeWidget):
    """Renders the templates it is given; emits the one chosen and the one asked to be opened."""

    chosen = Signal(uuid.UUID)
    openRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templateList")
        self.setAccessibleName("Note templates")
        self.setColumnCount(2)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(12)
        self.setUniformRowHeights(True)
        self.setItemsExpandable(False)
        self.setMinimumWidth(260)
        self.setMaximumWidth(340)
        self.header().setStretchLastSection(False)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.currentItemChanged.connect(self._current_changed)
        self.itemDoubleClicked.connect(lambda *_: self.openRequested.emit())
        self._items: dict[uuid.UUID, QTreeWidgetItem] = {}
        self._groups: list[tuple[str, QTreeWidgetItem]] = []

    def show_templates(self, templates: list[TemplateInfo], wanted: uuid.UUID | None) -> None:
        """Lists ``templates`` by group and makes ``wanted`` current, without emitting ``chosen``."""
        self.blockSignals(True)
        self.clear()
        self._items.clear()
        self._groups.clear()
        current: QTreeWidgetItem | None = None
        for scope, label, empty_text in GROUPS:
            group = self._group_item(label)
            members = [t for t in templates if t.scope == scope]
            for info in members:
                item = QTreeWidgetItem([info.name, DEFAULT_MARK if info.is_default else ""])
                item.setData(0, ID_ROLE, str(info.id))
                item.setToolTip(0, info.name)
                item.setData(
                    0,
                    Qt.ItemDataRole.AccessibleTextRole,
                    f"{info.name}, {label}" + (", your default" if info.is_default else ""),
                )
                if info.is_default:
                    item.setForeground(1, QColor("#2f6f73"))
                group.addChild(item)
                self._items[info.id] = item
                if info.id == wanted:
                    current = item
            if not members:
                placeholder = QTreeWidgetItem([empty_text, ""])
                placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
                placeholder.setForeground(0, QColor("#7a888e"))
                group.addChild(placeholder)
                placeholder.setFirstColumnSpanned(True)
            group.setExpanded(True)
        self.blockSignals(False)
        if current is not None:
            self.setCurrentItem(current)

    def _group_item(self, label: str) -> QTreeWidgetItem:
        group = QTreeWidgetItem([label.upper(), ""])
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a heading (not selectable; its templates stay enabled)
        font = QFont(group.font(0))
        font.setBold(True)
        font.setPointSizeF(max(font.pointSizeF() * 0.85, 7.0))
        group.setFont(0, font)
        group.setForeground(0, QColor("#5b6b73"))
        self.addTopLevelItem(group)
        group.setFirstColumnSpanned(True)
        self._groups.append((label, group))
        return group

    def select(self, template_id: uuid.UUID) -> bool:
        item = self._items.get(template_id)
        if item is not None:
            self.setCurrentItem(item)
        return item is not None

    def item_texts(self) -> dict[str, list[str]]:
        """Group label → "name" or "name ★ Default" of each template in it (what the list shows)."""
        out: dict[str, list[str]] = {}
        for label, group in self._groups:
            children = [c for j in range(group.childCount()) if (c := group.child(j)) is not None]
            out[label] = [" ".join(x for x in (c.text(0), c.text(1)) if x) for c in children if c.data(0, ID_ROLE)]
        return out

    def _current_changed(self, item: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None) -> None:
        raw = item.data(0, ID_ROLE) if item is not None else None
        if raw:
            self.chosen.emit(uuid.UUID(str(raw)))
