"""The Settings form's rows by field name: each field, its inline error line, and where its row sits in its form
(rows come and go with the chosen backends)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QLineEdit, QSpinBox, QVBoxLayout, QWidget

from tbdesktop.ui.forms import field_label, hint_label, mark_invalid


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
        if hint:
            column.addWidget(hint_label(hint))
        error = hint_label("", "fieldError")
        error.hide()
        column.addWidget(error)
        self.errors[name] = error
        self.fields[name] = widget
        widget.setAccessibleName(label.replace("&", ""))
        form.addRow(field_label(label, widget), column)
        self.rows[name] = form.rowCount() - 1
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
        """Showing a row shows its empty error line too: hide those again."""
        for name in names:
            if not self.errors[name].text():
                self.errors[name].hide()
