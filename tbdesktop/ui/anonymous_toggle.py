"""The anonymous switch of a session: on, the client's name is hidden wherever the session is shown."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QWidget

LABEL = "Mark as anonymous (hide client name)"


class AnonymousToggle(QCheckBox):
    """A switch (a check box drawn as one by the style sheet). `changeRequested` carries the state the user chose;
    `set_on` changes what it shows without asking for anything."""

    changeRequested = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(LABEL, parent)
        self.setObjectName("anonymousToggle")
        self.setAccessibleName(LABEL)
        self.setToolTip(
            "Shows the session as “Anonymous individual” and masks the client's name in the transcript and notes"
        )
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.clicked.connect(self._clicked)  # a click or Space; never setChecked

    @property
    def on(self) -> bool:
        return self.isChecked()

    def set_on(self, on: bool) -> None:
        blocked = self.blockSignals(True)
        self.setChecked(on)
        self.blockSignals(blocked)

    def _clicked(self, checked: bool) -> None:
        self.changeRequested.emit(bool(checked))
