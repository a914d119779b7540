"""Scrolling through Settings with the mouse wheel never changes a setting: a wheel turned over a choice list or a
number field that is not being edited scrolls the page; once the field has focus, the wheel changes it as usual."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.ui.settings_page import SettingsPage


def _wheel_down(widget: QWidget) -> None:
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120),  # one notch towards the user: down the page, or the next item
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_page_over_fields_not_being_edited(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo
) -> None:
    page = SettingsPage(AppServices.compose(ui_ctx, therapist))
    qtbot.addWidget(page)
    page.resize(900, 500)  # shorter than the page: it scrolls
    page.show()
    aio.run(aio.until(lambda: page.view() is not None and not page._busy, message="settings loaded"))
    bar = page._scroll.verticalScrollBar()
    assert bar.maximum() > 0
    combo, spin = page.notes_combo, page.notes_threads_spin
    before = (combo.currentIndex(), spin.value(), bar.value())

    page.save_button.setFocus()
    _wheel_down(combo)
    _wheel_down(spin)
    assert (combo.currentIndex(), spin.value()) == before[:2], "no setting changed"
    assert bar.value() > before[2], "the page scrolled instead"

    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    _wheel_down(combo)
    assert combo.currentIndex() != before[0], "a field being edited takes the wheel as usual"
