"""What the Sessions page shows instead of the list: no sessions yet, or none matching the search and filters."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from tbdesktop.ui.buttons import action_button
from tbdesktop.ui.resources import icon


class _State(QWidget):
    """Art (icon name, size) and a heading, centred below a stretch of `top`; the subclass adds the rest."""

    def __init__(self, name: str, art: tuple[str, int], heading: str, top: int, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.column = QVBoxLayout(self)
        self.column.addStretch(top)
        art_name, size = art
        picture = QLabel()
        picture.setPixmap(icon(art_name).pixmap(size, size))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.column.addWidget(picture)
        title = QLabel(heading)
        title.setObjectName("emptyStateTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.column.addWidget(title)

    def _text(self, words: str = "") -> QLabel:
        text = QLabel(words)
        text.setObjectName("emptyStateText")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.column.addWidget(text)
        return text

    def _buttons(self, *buttons: QWidget) -> None:
        row = QHBoxLayout()
        row.addStretch(1)
        for position, button in enumerate(buttons):
            if position:
                row.addSpacing(8)
            row.addWidget(button)
        row.addStretch(1)
        self.column.addLayout(row)


class EmptyState(_State):
    """No sessions yet: record one or import a recording."""

    importRequested = Signal()
    recordRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("emptyState", ("empty", 96), "No sessions yet", 2, parent)
        self._text(
            "Record a session in the room, or import a recording, to transcribe it on this workstation.\n"
            "Audio never leaves this computer."
        )
        self.column.addSpacing(12)
        self.import_button = action_button("  Import recording", "emptyStateImportButton", icon("import"))
        self.import_button.setAccessibleName("Import recording")
        self.import_button.clicked.connect(self.importRequested)
        self.record_button = action_button("  Record session", "emptyStateRecordButton", icon("record"))
        self.record_button.setAccessibleName("Record session")
        self.record_button.clicked.connect(self.recordRequested)
        self._buttons(self.record_button, self.import_button)
        self.column.addStretch(3)


class NoMatchState(_State):
    """Sessions there are, but the search and filters hide them all: say so, and offer to clear them."""

    clearRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("noMatchState", ("no-match", 72), "No sessions match", 1, parent)
        self.text = self._text()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.column.addSpacing(8)
        self.clear_button = QPushButton("Clear search and filters")
        self.clear_button.setObjectName("clearFiltersButton")
        self.clear_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.clear_button.clicked.connect(self.clearRequested)
        self._buttons(self.clear_button)
        self.column.addStretch(2)
