"""The Templates page: built-in, clinic-wide and my own note templates, with my default marked."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QVBoxLayout, QWidget

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.dto import TemplateInfo
from tbdesktop.ui.aio import run_dialog
from tbdesktop.ui.buttons import action_button
from tbdesktop.ui.templates.controller import TemplatesController
from tbdesktop.ui.templates.detail import TemplateDetail
from tbdesktop.ui.templates.editor import Saver, TemplateEditorDialog
from tbdesktop.ui.templates.tree import TemplateTree


class TemplatesPage(QWidget):
    notify = Signal(str, str)  # ("success" | "error", message) for toasts
    refreshed = Signal()

    def __init__(self, services: AppServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templatesPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._templates: list[TemplateInfo] = []
        self._selected_id: uuid.UUID | None = None
        self.editor: TemplateEditorDialog | None = None
        self.confirm_box: QMessageBox | None = None

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
        header.addWidget(self.new_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(header)
        layout.addSpacing(14)

        body = QHBoxLayout()
        body.setSpacing(16)
        self.tree = TemplateTree()
        body.addWidget(self.tree, 0)
        self.detail = TemplateDetail()
        body.addWidget(self.detail, 1)
        layout.addLayout(body, 1)
        self.name_label = self.detail.name_label
        self.default_badge = self.detail.default_badge
        self.scope_label = self.detail.scope_label
        self.edit_button = self.detail.edit_button
        self.duplicate_button = self.detail.duplicate_button
        self.default_button = self.detail.default_button
        self.delete_button = self.detail.delete_button
        self.reason_label = self.detail.reason_label
        self.preview = self.detail.preview

        self.status_label = QLabel("Loading templates…")
        self.status_label.setObjectName("muted")
        layout.addWidget(self.status_label)

        self._controller = TemplatesController(services, self, parent=self)
        self.new_button.clicked.connect(self.new_template)
        self.tree.chosen.connect(self._chosen)
        self.tree.openRequested.connect(self.edit_selected)
        self.detail.editRequested.connect(self.edit_selected)
        self.detail.duplicateRequested.connect(self.duplicate_selected)
        self.detail.defaultRequested.connect(self.set_default_selected)
        self.detail.deleteRequested.connect(self.delete_selected)
        self._show_detail(None)

    @property
    def is_manager(self) -> bool:
        return self._controller.is_manager

    @property
    def _busy(self) -> bool:
        return self._controller.busy

    # -- data -----------------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.schedule_refresh()  # templates may have changed elsewhere (another workstation, the CLI)

    def schedule_refresh(self) -> None:
        self._controller.schedule_refresh()

    async def refresh(self) -> None:
        await self._controller.refresh()

    def templates(self) -> list[TemplateInfo]:
        return list(self._templates)

    def selected(self) -> TemplateInfo | None:
        return next((t for t in self._templates if t.id == self._selected_id), None)

    def set_templates(self, templates: list[TemplateInfo], select: uuid.UUID | None = None) -> None:
        self._templates = list(templates)
        wanted = select or self._selected_id
        if wanted is None or all(t.id != wanted for t in templates):
            wanted = next((t.id for t in templates if t.is_default), templates[0].id if templates else None)
        self._selected_id = wanted
        self.tree.show_templates(self._templates, wanted)
        self._show_detail(self.selected())
        mine = sum(1 for t in templates if t.scope == "mine")
        self.status_label.setText(
            f"{len(templates)} templates · {mine} of your own" if templates else "No templates are available."
        )
        self.refreshed.emit()

    def forget_selection(self) -> None:
        self._selected_id = None

    def select(self, template_id: uuid.UUID) -> bool:
        return self.tree.select(template_id)

    def item_texts(self) -> dict[str, list[str]]:
        """Group label → "name" or "name ★ Default" of each template in it (what the list shows)."""
        return self.tree.item_texts()

    def _chosen(self, template_id: uuid.UUID) -> None:
        self._selected_id = template_id
        self._show_detail(self.selected())

    def _show_detail(self, info: TemplateInfo | None) -> None:
        self.detail.show_template(info, self.is_manager)

    def set_busy(self, busy: bool) -> None:
        self.detail.set_busy(busy)
        self.new_button.setEnabled(not busy)

    # -- actions --------------------------------------------------------------------------------------

    def new_template(self) -> None:
        self._controller.new_template()

    def edit_selected(self) -> None:
        info = self.selected()
        if info is not None and info.editable:
            self._controller.edit(info)

    def duplicate_selected(self) -> None:
        info = self.selected()
        if info is not None:
            self._controller.duplicate(info)

    def set_default_selected(self) -> None:
        info = self.selected()
        if info is not None and not info.is_default:
            self._controller.set_default(info)

    def delete_selected(self) -> None:
        info = self.selected()
        if info is not None and info.editable:
            self._controller.delete(info)

    async def run_editor(self, saver: Saver, info: TemplateInfo | None, *, can_share: bool) -> TemplateInfo | None:
        """The editor, open until closed; what it saved (through ``saver``), if anything."""
        dialog = TemplateEditorDialog(saver, info, can_share=can_share, parent=self)
        self.editor = dialog
        result: list[TemplateInfo] = []
        dialog.saved.connect(result.append)
        try:
            await run_dialog(dialog)
        finally:
            self.editor = None
            dialog.deleteLater()
        return result[0] if result else None

    async def confirm_delete(self, info: TemplateInfo) -> bool:
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
            return box.clickedButton() is confirm
        finally:
            self.confirm_box = None
            box.deleteLater()
