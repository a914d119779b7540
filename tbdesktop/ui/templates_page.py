"""The Templates page: built-in, clinic-wide and my own note templates, with my default marked."""

from __future__ import annotations

import html
import uuid
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import TemplateInfo, UserInfo
from tbdesktop.services.templates import MANAGERS, TemplateService
from tbdesktop.ui.aio import run_dialog, spawn, spawn_one_at_a_time
from tbdesktop.ui.buttons import action_button
from tbdesktop.ui.template_editor import TemplateDraft, TemplateEditorDialog

GROUPS = (
    ("builtin", "Built-in", "Built-in templates ship with TherapyBridge."),
    ("clinic", "Clinic-wide", "No clinic-wide templates yet."),
    ("mine", "My templates", "None of your own yet."),
)
SCOPE_WORDS = {
    "builtin": "Built-in · read-only",
    "clinic": "Clinic-wide · shared with every therapist",
    "mine": "Mine · only you see it",
}
CLINIC_READ_ONLY = "Clinic template — set by your practice manager"
ID_ROLE = Qt.ItemDataRole.UserRole
DEFAULT_MARK = "★ Default"


def edit_block_reason(info: TemplateInfo, is_manager: bool) -> str | None:
    """Why the signed-in user may not edit (or delete) this template; None when they may."""
    if info.editable:
        return None
    if info.scope == "builtin":
        return "Built-in templates are read-only: duplicate it to customise."
    if info.scope == "clinic" and not is_manager:
        return "Clinic-wide templates are changed by practice managers: duplicate it to customise."
    return "You cannot change this template: duplicate it to customise."


def delete_block_reason(info: TemplateInfo, is_manager: bool) -> str | None:
    if info.editable:
        return None
    if info.scope == "builtin":
        return "Built-in templates cannot be deleted."
    if info.scope == "clinic" and not is_manager:
        return "Clinic-wide templates are deleted by practice managers."
    return "You cannot delete this template."


class TemplatesPage(QWidget):
    notify = Signal(str, str)  # ("success" | "error", message) for toasts
    refreshed = Signal()

    def __init__(self, templates: TemplateService, user: UserInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templatesPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._service = templates
        self._user = user
        self._templates: list[TemplateInfo] = []
        self._selected_id: uuid.UUID | None = None
        self._busy = False
        self.editor: TemplateEditorDialog | None = None
        self.confirm_box: QMessageBox | None = None
        self._items: dict[uuid.UUID, QTreeWidgetItem] = {}
        self._groups: list[tuple[str, QTreeWidgetItem]] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.setSpacing(4)
        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        title = QLabel("Note templates")
        title.setObjectName("pageTitle")
        subtitle = QLabel("The sections your progress notes are written in. Your default is used for new sessions.")
        subtitle.setObjectName("pageSubtitle")
        subtitle.setWordWrap(True)
        titles.addWidget(title)
        titles.addWidget(subtitle)
        header.addLayout(titles, 1)
        self.new_button = action_button("New template", "newTemplateButton")
        self.new_button.setAccessibleName("New template")
        self.new_button.setToolTip("Create a template of your own")
        self.new_button.clicked.connect(self.new_template)
        header.addWidget(self.new_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(header)
        layout.addSpacing(14)

        body = QHBoxLayout()
        body.setSpacing(16)
        self.tree = QTreeWidget()
        self.tree.setObjectName("templateList")
        self.tree.setAccessibleName("Note templates")
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(12)
        self.tree.setUniformRowHeights(True)
        self.tree.setItemsExpandable(False)
        self.tree.setMinimumWidth(260)
        self.tree.setMaximumWidth(340)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.tree.itemDoubleClicked.connect(lambda *_: self.edit_selected())
        body.addWidget(self.tree, 0)

        self.detail = QFrame()
        self.detail.setObjectName("templateDetail")
        detail = QVBoxLayout(self.detail)
        detail.setContentsMargins(20, 16, 20, 16)
        detail.setSpacing(6)
        name_row = QHBoxLayout()
        self.name_label = QLabel("")
        self.name_label.setObjectName("templateName")
        self.name_label.setWordWrap(True)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        name_row.addWidget(self.name_label, 1)
        self.default_badge = QLabel("Your default")
        self.default_badge.setObjectName("defaultBadge")
        self.default_badge.hide()
        name_row.addWidget(self.default_badge, 0, Qt.AlignmentFlag.AlignTop)
        detail.addLayout(name_row)
        self.scope_label = QLabel("")
        self.scope_label.setObjectName("muted")
        detail.addWidget(self.scope_label)

        actions = QHBoxLayout()
        actions.setSpacing(8)
        self.edit_button = self._action("&Edit…", "editTemplateButton", self.edit_selected)
        self.duplicate_button = self._action("D&uplicate", "duplicateTemplateButton", self.duplicate_selected)
        self.default_button = self._action("Set as my &default", "setDefaultTemplateButton", self.set_default_selected)
        self.delete_button = self._action("Dele&te…", "deleteTemplateButton", self.delete_selected)
        for button in (self.edit_button, self.duplicate_button, self.default_button):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.delete_button)
        detail.addSpacing(4)
        detail.addLayout(actions)
        self.reason_label = QLabel("")
        self.reason_label.setObjectName("actionHint")
        self.reason_label.setWordWrap(True)
        self.reason_label.hide()
        detail.addWidget(self.reason_label)
        detail.addSpacing(6)
        self.preview = QTextBrowser()
        self.preview.setObjectName("templatePreview")
        self.preview.setAccessibleName("Template sections")
        self.preview.setOpenLinks(False)
        detail.addWidget(self.preview, 1)
        body.addWidget(self.detail, 1)
        layout.addLayout(body, 1)

        self.status_label = QLabel("Loading templates…")
        self.status_label.setObjectName("muted")
        layout.addWidget(self.status_label)
        self._show_detail(None)

    def _action(self, text: str, name: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAccessibleName(text.replace("&", "").rstrip("…"))
        button.clicked.connect(slot)
        return button

    @property
    def is_manager(self) -> bool:
        return self._user.role in MANAGERS

    # -- data -----------------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.schedule_refresh()  # templates may have changed elsewhere (another workstation, the CLI)

    def schedule_refresh(self) -> None:
        spawn(self.refresh(), on_error=self._error)

    async def refresh(self) -> None:
        self.set_templates(await self._service.list_templates())

    def templates(self) -> list[TemplateInfo]:
        return list(self._templates)

    def selected(self) -> TemplateInfo | None:
        return next((t for t in self._templates if t.id == self._selected_id), None)

    def set_templates(self, templates: list[TemplateInfo], select: uuid.UUID | None = None) -> None:
        self._templates = list(templates)
        wanted = select or self._selected_id
        if wanted is None or all(t.id != wanted for t in templates):
            wanted = next((t.id for t in templates if t.is_default), templates[0].id if templates else None)
        self.tree.blockSignals(True)
        self.tree.clear()
        self._items.clear()
        self._groups.clear()
        current: QTreeWidgetItem | None = None
        for scope, label, empty_text in GROUPS:
            group = QTreeWidgetItem([label.upper(), ""])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a heading (not selectable; its templates stay enabled)
            font = QFont(group.font(0))
            font.setBold(True)
            font.setPointSizeF(max(font.pointSizeF() * 0.85, 7.0))
            group.setFont(0, font)
            group.setForeground(0, QColor("#5b6b73"))
            self.tree.addTopLevelItem(group)
            group.setFirstColumnSpanned(True)
            self._groups.append((label, group))
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
        self.tree.blockSignals(False)
        self._selected_id = wanted
        if current is not None:
            self.tree.setCurrentItem(current)
        self._show_detail(self.selected())
        mine = sum(1 for t in templates if t.scope == "mine")
        self.status_label.setText(
            f"{len(templates)} templates · {mine} of your own" if templates else "No templates are available."
        )
        self.refreshed.emit()

    def select(self, template_id: uuid.UUID) -> bool:
        item = self._items.get(template_id)
        if item is not None:
            self.tree.setCurrentItem(item)
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
            self._selected_id = uuid.UUID(str(raw))
            self._show_detail(self.selected())

    # -- detail ---------------------------------------------------------------------------------------

    def _show_detail(self, info: TemplateInfo | None) -> None:
        self.name_label.setText(info.name if info else "No template selected")
        scope = SCOPE_WORDS.get(info.scope, "") if info else ""
        if info is not None and info.scope == "clinic" and not info.editable:
            scope = f"{CLINIC_READ_ONLY} · read-only"  # clinic-wide templates are the practice managers' to change
        self.scope_label.setText(scope)
        self.default_badge.setVisible(bool(info and info.is_default))
        self.preview.setHtml(self._preview_html(info))
        blocked = edit_block_reason(info, self.is_manager) if info else None
        editable = info is not None and blocked is None
        self._enable(self.edit_button, editable, blocked, "Edit the name and sections")
        self._enable(
            self.delete_button, editable, delete_block_reason(info, self.is_manager) if info else None, "Delete it"
        )
        self._enable(self.duplicate_button, info is not None, None, "Make a copy of your own that you can edit")
        is_default = bool(info and info.is_default)
        self._enable(
            self.default_button,
            info is not None and not is_default,
            "This is already your default template." if is_default else None,
            "Use this template for new sessions' notes",
        )
        self.reason_label.setText(blocked or "")
        self.reason_label.setVisible(bool(blocked))
        self._set_busy(self._busy)

    @staticmethod
    def _enable(button: QPushButton, enabled: bool, reason: str | None, tip: str) -> None:
        button.setProperty("wantedEnabled", enabled)
        button.setEnabled(enabled)
        button.setToolTip(tip if enabled else (reason or ""))
        button.setAccessibleDescription(tip if enabled else (reason or ""))

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for button in (self.edit_button, self.duplicate_button, self.default_button, self.delete_button):
            button.setEnabled(bool(button.property("wantedEnabled")) and not busy)
        self.new_button.setEnabled(not busy)

    @staticmethod
    def _preview_html(info: TemplateInfo | None) -> str:
        if info is None:
            return "<p style='color:#5b6b73;'>Choose a template to see its sections.</p>"
        out = []
        for n, section in enumerate(info.sections, start=1):
            limit = f" · up to {section.max_words} words" if section.max_words else ""
            out.append(
                f"<p style='margin:10px 0 2px 0;'><b>{n}. {html.escape(section.title)}</b>"
                f" <span style='color:#5b6b73;'>({html.escape(section.key)}{limit})</span></p>"
                f"<p style='margin:0 0 6px 0; color:#39464c;'>{html.escape(section.instructions)}</p>"
            )
        return "".join(out)

    # -- actions --------------------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, Any]) -> None:
        """One change at a time; errors go to a toast."""
        spawn_one_at_a_time(coro, busy=self._busy, set_busy=self._set_busy, on_error=self._error)

    def _error(self, message: str) -> None:
        self.notify.emit("error", message)

    def new_template(self) -> None:
        self._run(self._edit(None))

    def edit_selected(self) -> None:
        info = self.selected()
        if info is not None and info.editable:
            self._run(self._edit(info))

    async def _edit(self, info: TemplateInfo | None) -> None:
        async def save(draft: TemplateDraft) -> TemplateInfo:
            if info is None:
                return await self._service.create(draft.name, draft.content(), clinic_wide=draft.clinic_wide)
            return await self._service.update(info.id, name=draft.name, content=draft.content())

        dialog = TemplateEditorDialog(save, info, can_share=self.is_manager, parent=self)
        self.editor = dialog
        result: list[TemplateInfo] = []
        dialog.saved.connect(result.append)
        try:
            await run_dialog(dialog)
        finally:
            self.editor = None
            dialog.deleteLater()
        if result:
            saved = result[0]
            self.set_templates(await self._service.list_templates(), select=saved.id)
            self.notify.emit("success", f"Saved “{saved.name}”." if info else f"Created “{saved.name}”.")

    def duplicate_selected(self) -> None:
        info = self.selected()
        if info is not None:
            self._run(self._duplicate(info))

    async def _duplicate(self, info: TemplateInfo) -> None:
        taken = {t.name.casefold() for t in self._templates}
        name, n = f"{info.name} (copy)", 2
        while name.casefold() in taken:
            name, n = f"{info.name} (copy {n})", n + 1
        copy = await self._service.duplicate(info.id, name)
        self.set_templates(await self._service.list_templates(), select=copy.id)
        self.notify.emit("success", f"Duplicated as “{copy.name}”: it is yours to edit.")

    def set_default_selected(self) -> None:
        info = self.selected()
        if info is not None and not info.is_default:
            self._run(self._set_default(info))

    async def _set_default(self, info: TemplateInfo) -> None:
        chosen = await self._service.set_default(info.id)
        self.set_templates(await self._service.list_templates(), select=chosen.id)
        self.notify.emit("success", f"“{chosen.name}” is now your default template.")

    def delete_selected(self) -> None:
        info = self.selected()
        if info is not None and info.editable:
            self._run(self._delete(info))

    async def _delete(self, info: TemplateInfo) -> None:
        box = QMessageBox(self)
        box.setObjectName("deleteTemplateConfirm")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Delete template")
        box.setText(f"Delete the template “{info.name}”?")
        scope = "every therapist in the clinic" if info.scope == "clinic" else "you"
        box.setInformativeText(
            f"It will no longer be available to {scope}. Notes already written with it keep their text."
        )
        confirm = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        confirm.setObjectName("confirmDeleteButton")
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        cancel.setObjectName("cancelDeleteButton")
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        self.confirm_box = box
        try:
            await run_dialog(box)
            confirmed = box.clickedButton() is confirm
        finally:
            self.confirm_box = None
            box.deleteLater()
        if not confirmed:
            return
        await self._service.delete(info.id)
        self._selected_id = None
        self.set_templates(await self._service.list_templates())
        self.notify.emit("success", f"Deleted “{info.name}”.")
