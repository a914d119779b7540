"""The Settings form's rows by field name: each field, its inline error line, what the clinic's IT fixed or bounded
for it, and where its row sits in its form (rows come and go with the chosen backends)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QLineEdit, QSpinBox, QVBoxLayout, QWidget

from tbdesktop.services.settings import PrivacySettings, ProcessingSettings
from tbdesktop.ui.forms import LockedNote, field_label, hint_label, lock_tooltip, mark_invalid

# Rows that show one setting of the policy under another name: the note model's file is the "notes_model" setting.
POLICY_KEYS = {"notes_model_file": "notes_model"}
POLICY_FIELDS = frozenset(
    [f.name for f in fields(ProcessingSettings)] + [f.name for f in fields(PrivacySettings)] + list(POLICY_KEYS)
)


def line_edit(name: str, placeholder: str = "", *, max_length: int = 2000) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setMaxLength(max_length)
    return edit


def short_edit(name: str, placeholder: str) -> QLineEdit:
    """A field for a few digits (days, minutes)."""
    edit = line_edit(name, placeholder, max_length=4)
    edit.setMaximumWidth(110)
    return edit


def spin_box(name: str, low: int, high: int, step: int = 1) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setFixedWidth(150)
    spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a wheel scrolling the page leaves the value alone
    return spin


class FormRows:
    """Every named field of the page, shared by its sections so one save can show its errors in place."""

    def __init__(self) -> None:
        self.errors: dict[str, QLabel] = {}
        self.fields: dict[str, QWidget] = {}
        self.rows: dict[str, int] = {}
        self.controls: dict[str, QWidget] = {}  # the row's whole control (a file field with its Browse… button)
        self.locked_notes: dict[str, LockedNote] = {}
        self.limit_labels: dict[str, QLabel] = {}
        self.locked: dict[str, str] = {}  # row name → the text shown under it ("Set by your clinic's IT")
        self.limits: dict[str, str] = {}  # row name → the bound IT set
        self.forms: dict[str, QFormLayout] = {}
        self._tooltips: dict[str, str] = {}

    def add(
        self, form: QFormLayout, name: str, label: str, widget: QWidget, hint: str = "", *, beside: str = ""
    ) -> QLabel | None:
        """A row with the field, an optional hint (under it, or ``beside`` a short field) and an inline error;
        returns the ``beside`` hint."""
        column = QVBoxLayout()
        column.setSpacing(3)
        beside_label = None
        if beside:
            row = QHBoxLayout()
            row.setSpacing(10)
            row.addWidget(widget)
            beside_label = hint_label(beside)
            row.addWidget(beside_label, 1)
            column.addLayout(row)
        else:
            column.addWidget(widget)
        note = LockedNote()
        column.addWidget(note)
        limit = hint_label("", "policyLimit")
        limit.hide()
        column.addWidget(limit)
        if hint:
            column.addWidget(hint_label(hint))
        error = hint_label("", "fieldError")
        error.hide()
        column.addWidget(error)
        self.errors[name] = error
        self.fields[name] = widget
        self.controls[name] = widget
        self.locked_notes[name] = note
        self.limit_labels[name] = limit
        self._tooltips[name] = widget.toolTip()
        widget.setAccessibleName(label.replace("&", ""))
        form.addRow(field_label(label, widget), column)
        self.rows[name] = form.rowCount() - 1
        self.forms[name] = form
        return beside_label

    def shown(self) -> dict[str, str]:
        """The inline errors shown now, by field name."""
        return {name: label.text() for name, label in self.errors.items() if not label.isHidden()}

    def show(self, errors: dict[str, str]) -> QWidget | None:
        """Shows each error under its field and marks the field; returns the first such field in page order."""
        self.clear()
        for name, message in errors.items():
            label = self.errors.get(name)
            if label is None:
                continue
            label.setText(message)
            label.show()
            field = self.fields.get(name)
            if field is not None:
                mark_invalid(field, True)
        return next((self.fields[n] for n in self.errors if n in errors and n in self.fields), None)

    def clear(self) -> None:
        for name, label in self.errors.items():
            label.hide()
            label.clear()
            field = self.fields.get(name)
            if field is not None and field.property("invalid"):
                mark_invalid(field, False)

    def hide_empty(self, names: tuple[str, ...]) -> None:
        """Showing a row shows its empty error line and policy notes too: hide those again."""
        for name in names:
            if not self.errors[name].text():
                self.errors[name].hide()
            shown = not self._row_hidden(name)
            self.locked_notes[name].setVisible(shown and name in self.locked)
            self.limit_labels[name].setVisible(shown and name in self.limits)

    # -- the clinic's policy ------------------------------------------------------------------------------

    def apply_policy(self, locked: Mapping[str, str], limits: Mapping[str, str]) -> None:
        """Locked rows become read-only with their note and a tooltip; bounded rows show the bound under them.
        Keys are setting names (``POLICY_KEYS`` maps the rows named otherwise)."""
        self.locked = {n: locked[POLICY_KEYS.get(n, n)] for n in self.controls if POLICY_KEYS.get(n, n) in locked}
        self.limits = {n: limits[POLICY_KEYS.get(n, n)] for n in self.controls if POLICY_KEYS.get(n, n) in limits}
        for name, control in self.controls.items():
            text = self.locked.get(name)
            note = self.locked_notes[name]
            if text:
                note.set_text(text)
            note.setVisible(text is not None and not self._row_hidden(name))
            control.setToolTip(lock_tooltip(text) if text else self._tooltips[name])
            if text is not None:
                control.setEnabled(False)
            elif name in POLICY_FIELDS:
                control.setEnabled(True)  # unlocked again: the sections disable what their backend leaves unused
            limit = self.limit_labels[name]
            limit.setText(self.limits.get(name, ""))
            limit.setVisible(name in self.limits and not self._row_hidden(name))

    def _row_hidden(self, name: str) -> bool:
        """Whether the row is hidden now (the rows of a backend not chosen)."""
        return not self.forms[name].isRowVisible(self.rows[name])

    def is_locked(self, name: str) -> bool:
        return name in self.locked

    def enable(self, name: str, on: bool) -> None:
        """Enables a field the chosen backend uses; a locked field stays read-only."""
        self.controls[name].setEnabled(on and name not in self.locked)
