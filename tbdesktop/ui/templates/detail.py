"""One template shown: its name and scope, what the signed-in user may do with it (and why not), its sections."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from tbdesktop.services.dto import TemplateInfo

SCOPE_WORDS = {
    "builtin": "Built-in · read-only",
    "clinic": "Clinic-wide · shared with every therapist",
    "mine": "Mine · only you see it",
}
CLINIC_READ_ONLY = "Clinic template — set by your practice manager"


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


def preview_html(info: TemplateInfo | None) -> str:
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


def _enable(button: QPushButton, enabled: bool, reason: str | None, tip: str) -> None:
    button.setProperty("wantedEnabled", enabled)
    button.setEnabled(enabled)
    button.setToolTip(tip if enabled else (reason or ""))
    button.setAccessibleDescription(tip if enabled else (reason or ""))


class TemplateDetail(QFrame):
    """Renders the template it is given; its buttons emit what the user asked for."""

    editRequested = Signal()
    duplicateRequested = Signal()
    defaultRequested = Signal()
    deleteRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templateDetail")
        self._busy = False
        detail = QVBoxLayout(self)
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
        self.edit_button = self._action("&Edit…", "editTemplateButton", self.editRequested)
        self.duplicate_button = self._action("D&uplicate", "duplicateTemplateButton", self.duplicateRequested)
        self.default_button = self._action("Set as my &default", "setDefaultTemplateButton", self.defaultRequested)
        self.delete_button = self._action("Dele&te…", "deleteTemplateButton", self.deleteRequested)
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

    @staticmethod
    def _action(text: str, name: str, signal: SignalInstance) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAccessibleName(text.replace("&", "").rstrip("…"))
        button.clicked.connect(signal)
        return button

    def show_template(self, info: TemplateInfo | None, is_manager: bool) -> None:
        self.name_label.setText(info.name if info else "No template selected")
        scope = SCOPE_WORDS.get(info.scope, "") if info else ""
        if info is not None and info.scope == "clinic" and not info.editable:
            scope = f"{CLINIC_READ_ONLY} · read-only"  # clinic-wide templates are the practice managers' to change
        self.scope_label.setText(scope)
        self.default_badge.setVisible(bool(info and info.is_default))
        self.preview.setHtml(preview_html(info))
        blocked = edit_block_reason(info, is_manager) if info else None
        editable = info is not None and blocked is None
        _enable(self.edit_button, editable, blocked, "Edit the name and sections")
        _enable(self.delete_button, editable, delete_block_reason(info, is_manager) if info else None, "Delete it")
        _enable(self.duplicate_button, info is not None, None, "Make a copy of your own that you can edit")
        is_default = bool(info and info.is_default)
        _enable(
            self.default_button,
            info is not None and not is_default,
            "This is already your default template." if is_default else None,
            "Use this template for new sessions' notes",
        )
        self.reason_label.setText(blocked or "")
        self.reason_label.setVisible(bool(blocked))
        self.set_busy(self._busy)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        for button in (self.edit_button, self.duplicate_button, self.default_button, self.delete_button):
            button.setEnabled(bool(button.property("wantedEnabled")) and not busy)
