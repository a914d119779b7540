"""The pieces forms are made of across the rooms: labels and hints, the invalid mark, choice lists, and the
titled card with its form that the Settings sections share."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.policy import LOCKED_TEXT
from tbdesktop.ui.resources import icon

NOT_ALLOWED = "not allowed by your clinic's IT"
_BASE_TEXT = Qt.ItemDataRole.UserRole + 1  # a combo item's own text, before a "not allowed" mark


def repolish(widget: QWidget) -> None:
    """Re-applies the style sheet after a dynamic property the sheet selects on has changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def mark_invalid(widget: QWidget, invalid: bool) -> None:
    widget.setProperty("invalid", invalid)
    repolish(widget)


class WheelScrollsPage(QObject):
    """A wheel turned over a choice list or number field that is not being edited scrolls the page instead of
    changing the value: scrolling through a form must never change a setting."""

    def __init__(self, area: QAbstractScrollArea) -> None:
        super().__init__(area)
        self._area = area

    def guard(self, root: QWidget) -> None:
        fields: list[QWidget] = [*root.findChildren(QComboBox), *root.findChildren(QAbstractSpinBox)]
        for widget in fields:
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # no focus from the wheel either
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            QApplication.sendEvent(self._area.verticalScrollBar(), event)
            return True
        return super().eventFilter(watched, event)


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


class LockedNote(QWidget):
    """A small lock and "Set by your clinic's IT" under a field the clinic's policy fixes; hidden until shown."""

    def __init__(self, text: str = LOCKED_TEXT, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockedNote")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(5)
        self.row = row
        self.glyph = QLabel()
        self.glyph.setObjectName("lockedGlyph")
        self.glyph.setPixmap(icon("lock").pixmap(13, 13))
        self.glyph.setAccessibleName("Locked")
        self.label = QLabel(text)
        self.label.setObjectName("lockedText")
        self.label.setWordWrap(True)
        row.addWidget(self.glyph, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.label, 1)
        self.setAccessibleName(text)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def set_text(self, text: str) -> None:
        self.label.setText(text)
        self.setAccessibleName(text)


def lock_tooltip(text: str) -> str:
    return f"{text}: this setting is managed for every account on this computer and cannot be changed here."


def restrict_choices(combo: QComboBox, allowed: tuple[str, ...] | None) -> None:
    """Choices the clinic's policy forbids stay listed but cannot be picked (``allowed`` None: every choice)."""
    model = combo.model()
    if not isinstance(model, QStandardItemModel):
        return
    for row in range(model.rowCount()):
        item = model.item(row)
        base = item.data(_BASE_TEXT)
        if base is None:
            base = item.text()
            item.setData(base, _BASE_TEXT)
        value = item.data(Qt.ItemDataRole.UserRole)
        ok = allowed is None or value in allowed
        item.setEnabled(ok)
        item.setText(str(base) if ok else f"{base} ({NOT_ALLOWED})")
        item.setToolTip("" if ok else "Your clinic's IT does not allow this choice on this computer.")


def choice_allowed(combo: QComboBox, index: int) -> bool:
    model = combo.model()
    return not isinstance(model, QStandardItemModel) or model.item(index).isEnabled()
