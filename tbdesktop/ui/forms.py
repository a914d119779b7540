"""The pieces forms are made of across the rooms: labels and hints, the invalid mark, choice lists, and the
titled card with its form that the Settings sections share."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QFrame, QLabel, QVBoxLayout, QWidget


def repolish(widget: QWidget) -> None:
    """Re-applies the style sheet after a dynamic property the sheet selects on has changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def mark_invalid(widget: QWidget, invalid: bool) -> None:
    widget.setProperty("invalid", invalid)
    repolish(widget)


def field_label(text: str, buddy: QWidget | None = None) -> QLabel:
    label = QLabel(text)
    label.setObjectName("fieldLabel")
    if buddy is not None:
        label.setBuddy(buddy)
    return label


def hint_label(text: str = "", name: str = "settingsHint") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


def choice_combo(name: str, choices: tuple[tuple[str | None, str], ...], accessible_name: str = "") -> QComboBox:
    """A combo box of (value, text) choices; the value is each item's data (None: nothing chosen yet)."""
    combo = QComboBox()
    combo.setObjectName(name)
    if accessible_name:
        combo.setAccessibleName(accessible_name)
    for value, text in choices:
        combo.addItem(text, value)
    return combo


def card_form(name: str = "") -> QFormLayout:
    """A form laid out as every Settings card lays out its rows."""
    form = QFormLayout()
    if name:
        form.setObjectName(name)
    form.setHorizontalSpacing(16)
    form.setVerticalSpacing(8)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return form


def card_box(card: QFrame, title: str, *, name: str = "settingsCard", spacing: int = 4) -> QVBoxLayout:
    """Lays ``card`` out as a Settings card: its title on top; the caller adds the rest."""
    card.setObjectName(name)
    card.setAccessibleName(title)
    box = QVBoxLayout(card)
    box.setContentsMargins(20, 16, 20, 18)
    box.setSpacing(spacing)
    heading = QLabel(title)
    heading.setObjectName("sectionTitle")
    box.addWidget(heading)
    return box


def settings_card(name: str, title: str, hint: str, card: QFrame | None = None) -> tuple[QFrame, QFormLayout]:
    """A titled card (``card``, or a new frame) with a hint under the title and a form below it."""
    card = card if card is not None else QFrame()
    box = card_box(card, title)
    box.addWidget(hint_label(hint, "muted"))
    box.addSpacing(8)
    form = card_form(name)
    box.addLayout(form)
    return card, form
